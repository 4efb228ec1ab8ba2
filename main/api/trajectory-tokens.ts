// Words for LM trajectories: token ids decoded with the tokenizer of the model the run trains. Every
// checkpoint a run saves carries that tokenizer in its safetensors metadata (UnifiedPolicy.checkpointMetadata,
// like UnifiedModel.save), so the run's newest readable checkpoint answers, else the checkpoint its config
// starts from (model.checkpoint). Resolved when read, so a run's early samples get words as soon as its
// first checkpoint exists. Only a file's header is read, once per file (cached by path, size and mtime).
// Without a readable checkpoint the ids stay ids with a short note: nothing here throws for that.
import { statSync } from 'node:fs';
import type { TrajectoryView } from '../../contract/api.ts';
import type { RunConfig } from '../../contract/domain.ts';
import type { Store } from '../../db/index.ts';
import { readSafetensorsMetadata } from '../engine/checkpoint/safetensors.ts';
import { tokenizerFromMetadata, type Tokenizer } from '../models/tokenizer.ts';

type Found = { tokenizer: Tokenizer; path: string } | { note: string };

/** Checkpoint files whose tokenizer stays in memory (a run needs one; the least recently used goes). */
const CACHE_LIMIT = 32;

export class RunTokenizers {
  private readonly cache = new Map<string, { stamp: string; found: Found }>();

  constructor(private readonly store: Store) {}

  /** Adds `tokens` (or `tokensNote`) to the LM trajectories of a sample of run `runId`. */
  addWords(runId: number, views: TrajectoryView[]): TrajectoryView[] {
    const lm = views.filter((v) => v.kind === 'lm' && v.tensors.tokenIds);
    if (lm.length === 0) return views;
    const found = this.tokenizerOf(runId);
    for (const view of lm) {
      if ('note' in found) {
        view.tokensNote = found.note;
        continue;
      }
      try {
        view.tokens = view.tensors.tokenIds!.data.map((id) => found.tokenizer.decode([id]));
      } catch (error) {
        view.tokensNote = `${(error as Error).message} (tokenizer of ${found.path})`;
      }
    }
    return views;
  }

  /** The tokenizer of the run's newest readable checkpoint (then its starting checkpoint), or why there is none. */
  tokenizerOf(runId: number): Found {
    const paths = [
      ...this.store.checkpoints
        .list(runId)
        .map((c) => c.path)
        .reverse(),
      ...startingCheckpoint(this.store.runs.get(runId).config),
    ];
    if (paths.length === 0) return { note: 'no checkpoint of this run yet' };
    let first: string | undefined;
    for (const path of paths) {
      const found = this.read(path);
      if ('tokenizer' in found) return found;
      first ??= found.note;
    }
    return { note: first! };
  }

  private read(path: string): Found {
    let stamp: string;
    try {
      const stat = statSync(path);
      stamp = `${stat.size}:${stat.mtimeMs}`;
    } catch {
      return { note: `checkpoint ${path} is gone` };
    }
    const cached = this.cache.get(path);
    let found: Found;
    if (cached?.stamp === stamp) {
      found = cached.found;
    } else {
      try {
        found = { tokenizer: tokenizerFromMetadata(readSafetensorsMetadata(path), path), path };
      } catch (error) {
        found = { note: `unreadable checkpoint: ${(error as Error).message}` };
      }
    }
    // Most recently used last, so the oldest goes first.
    this.cache.delete(path);
    this.cache.set(path, { stamp, found });
    if (this.cache.size > CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
    return found;
  }
}

/** The checkpoint a run's config says it starts from (TrainConfig model.checkpoint), if any. */
function startingCheckpoint(config: RunConfig): string[] {
  const model = config.model;
  const path = model && typeof model === 'object' && !Array.isArray(model) ? model.checkpoint : undefined;
  return typeof path === 'string' && path.length > 0 ? [path] : [];
}
