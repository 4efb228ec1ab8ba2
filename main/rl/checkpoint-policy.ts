// Checkpoints kept by policy (config.storage, issue 21): the latest N with optimizer state (to resume from),
// the best by held-out evaluation and a snapshot every K steps as weights only (for the step slider and
// comparisons); every other checkpoint is deleted, files and row. The trainer applies it after each save;
// `unirl prune` and the Settings screen apply it (or a tighter one) to a finished run.
import { existsSync, rmSync, statSync } from 'node:fs';
import type { Store } from '../../db/store.ts';
import { optimizerPath } from '../engine/checkpoint/checkpoint.ts';

export interface CheckpointPolicy {
  keepLatest: number;
  keepBest: boolean;
  snapshotEvery: number;
}

export type CheckpointFate = 'full' | 'weights' | 'delete';

/** The held-out metric that picks the best checkpoint. */
export const BEST_METRIC = 'eval/accuracy';

/** What the policy does with each checkpoint step (`bestStep`: the checkpointed step with the best evaluation, if any). */
export function checkpointFates(steps: readonly number[], policy: CheckpointPolicy, bestStep: number | null): Map<number, CheckpointFate> {
  const latest = new Set([...steps].sort((a, b) => b - a).slice(0, policy.keepLatest));
  return new Map(
    steps.map((step) => {
      if (latest.has(step)) return [step, 'full'];
      const snapshot = policy.snapshotEvery > 0 && step % policy.snapshotEvery === 0;
      return [step, snapshot || (policy.keepBest && step === bestStep) ? 'weights' : 'delete'];
    }),
  );
}

/** The checkpointed step with the highest held-out evaluation (the later one on a tie), or null. */
export function bestCheckpointStep(store: Store, runId: number): number | null {
  const checkpointed = new Set(store.checkpoints.list(runId).map((c) => c.step));
  const [series] = store.metrics.series({ runId, names: [BEST_METRIC] });
  let best: { step: number; value: number } | null = null;
  for (const [i, step] of (series?.steps ?? []).entries()) {
    const value = series!.values[i]!;
    if (checkpointed.has(step) && (best === null || value >= best.value)) best = { step, value };
  }
  return best?.step ?? null;
}

export interface PruneReport {
  deleted: number[];
  /** Steps whose optimizer state was removed (weights kept). */
  weightsOnly: number[];
  freedBytes: number;
}

/** Applies `policy` to the checkpoints of `runId`: files removed from disk, rows of deleted ones from the store. */
export function pruneCheckpoints(store: Store, runId: number, policy: CheckpointPolicy): PruneReport {
  const checkpoints = store.checkpoints.list(runId);
  const fates = checkpointFates(
    checkpoints.map((c) => c.step),
    policy,
    policy.keepBest ? bestCheckpointStep(store, runId) : null,
  );
  const report: PruneReport = { deleted: [], weightsOnly: [], freedBytes: 0 };
  for (const c of checkpoints) {
    const fate = fates.get(c.step)!;
    if (fate === 'full') continue;
    const optimizer = optimizerPath(c.path);
    if (existsSync(optimizer)) {
      report.freedBytes += removeFile(optimizer);
      if (fate === 'weights') report.weightsOnly.push(c.step);
    }
    if (fate === 'delete') {
      report.freedBytes += removeFile(c.path);
      store.checkpoints.remove(runId, c.step);
      report.deleted.push(c.step);
    }
  }
  return report;
}

function removeFile(path: string): number {
  if (!existsSync(path)) return 0;
  const bytes = statSync(path).size;
  rmSync(path, { force: true });
  return bytes;
}
