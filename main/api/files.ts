// The files the API may name: weights reach a call only by an id from this registry (the shipped
// model, the checkpoints runs saved) or as a path inside the data dir, never as an arbitrary path. A
// refusal says what was asked for and where ids come from, and reveals nothing of any file: whether
// a path exists, is a folder or what it starts with stays unknown to the caller.
import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { CheckpointEntry } from '../../contract/api.ts';
import type { Store } from '../../db/index.ts';
import { StoreError } from '../../db/errors.ts';
import { DEFAULT_CHECKPOINT } from '../models/generator.ts';

/** The shipped model's id; `run:<runId>:<step>` names a run's checkpoint. */
export const SHIPPED_BASE_ID = 'shipped:base';
const RUN_CHECKPOINT_ID = /^run:(\d{1,15}):(\d{1,15})$/;

export const runCheckpointId = (runId: number, step: number) => `run:${runId}:${step}`;

/** The run whose checkpoint a registry id names (`run:<runId>:<step>`), or null. */
export function runOfCheckpoint(ref: string): number | null {
  const match = RUN_CHECKPOINT_ID.exec(ref);
  return match ? Number(match[1]) : null;
}

/** Every checkpoint the API can use: the shipped base first, then runs' checkpoints, newest run first. */
export function listCheckpoints(store: Store, runId?: number): CheckpointEntry[] {
  const shipped: CheckpointEntry = { id: SHIPPED_BASE_ID, label: 'shipped base model', source: 'shipped', runId: null, step: null };
  const runs = runId === undefined ? store.runs.list() : [store.runs.get(runId)];
  const saved = runs.flatMap((run) =>
    store.checkpoints
      .list(run.id)
      .reverse()
      .map(
        (c): CheckpointEntry => ({
          id: runCheckpointId(run.id, c.step),
          label: `run ${run.id} "${run.name}" step ${c.step}`,
          source: 'run',
          runId: run.id,
          step: c.step,
        }),
      ),
  );
  return runId === undefined ? [shipped, ...saved] : saved;
}

/** Whether `path` (after following links) lies inside `dir` (after following links). */
export function isInside(dir: string, path: string): boolean {
  const rel = relative(realOrSelf(dir), realOrSelf(path));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** The real path of the nearest existing ancestor, with the rest appended (a link anywhere on the way is followed). */
function realOrSelf(path: string): string {
  const absolute = resolve(path);
  try {
    return realpathSync(absolute);
  } catch {
    const parent = dirname(absolute);
    return parent === absolute ? absolute : join(realOrSelf(parent), basename(absolute));
  }
}

/**
 * The file path of a checkpoint named by a registry id, or by a path inside the data dir (relative
 * to it, or absolute). Anything else is refused with the same message whether or not it exists.
 */
export function resolveCheckpoint(store: Store, dataDir: string, ref: string, field = 'checkpoint'): string {
  if (ref === SHIPPED_BASE_ID) return DEFAULT_CHECKPOINT;
  const run = RUN_CHECKPOINT_ID.exec(ref);
  if (run) {
    const [runId, step] = [Number(run[1]), Number(run[2])];
    const found = store.checkpoints.list(runId).find((c) => c.step === step);
    if (!found) throw new StoreError('not_found', `${field}: run ${runId} has no checkpoint at step ${step} (see checkpoints.list)`, field);
    return found.path;
  }
  const candidate = resolve(dataDir, ref);
  if (!ref.includes('\0') && isInside(dataDir, candidate)) return candidate;
  throw new StoreError(
    'invalid_argument',
    `${field}: not a known checkpoint: use an id from checkpoints.list ` +
      `(e.g. "${SHIPPED_BASE_ID}" or "run:<run>:<step>") or a path inside the data dir`,
    field,
  );
}
