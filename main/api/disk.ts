// The data directory's size per run (database rows, images, tensors, checkpoints, exports), and reclaiming it:
// pruning a finished run to the storage policy (the one it trained with, or a tighter one) and deleting a
// run with its files. The Settings screen, the run's details and `unirl prune` call these.
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DataDirUsage, PruneResult, ReclaimInfo, RunUsage, StorageKeep } from '../../contract/api.ts';
import type { RunConfig, Scenario } from '../../contract/domain.ts';
import { invalid } from '../../db/errors.ts';
import type { Store } from '../../db/store.ts';
import { fileUsage, reclaimSpace, runsDbUsage } from '../../db/usage.ts';
import { optimizerPath } from '../engine/checkpoint/checkpoint.ts';
import { pruneCheckpoints } from '../rl/checkpoint-policy.ts';
import { resolveTrainConfig, type TrainConfig } from '../rl/config.ts';
import { latentStorageOf } from '../rl/records.ts';

/** Bytes of every file under `path` (0 when it does not exist). */
function treeBytes(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, name) => sum + treeBytes(join(path, name)), 0);
}

/** Export folders of a run: `exports/run-<id>-...` (main/api/handlers.ts names them). */
function exportDirs(dataDir: string, runId: number): string[] {
  const root = join(dataDir, 'exports');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => name.startsWith(`run-${runId}-`))
    .map((name) => join(root, name));
}

export function dataDirUsage(store: Store, dataDir: string): DataDirUsage {
  const db = new Map(runsDbUsage(store).map((u) => [u.runId, u]));
  const runs: RunUsage[] = store.runs.list().map((run) => {
    const u = db.get(run.id)!;
    const checkpoints = store.checkpoints.list(run.id);
    const runDir = join(dataDir, 'runs', String(run.id));
    const checkpointBytes = checkpoints.reduce((sum, c) => sum + treeBytes(c.path) + treeBytes(optimizerPath(c.path)), 0);
    return {
      runId: run.id,
      name: run.name,
      status: run.status,
      samples: u.samples,
      rowBytes: u.rowBytes,
      imageBytes: u.imageBytes,
      tensorBytes: u.tensorBytes,
      checkpoints: checkpoints.length,
      checkpointsWithOptimizer: checkpoints.filter((c) => existsSync(optimizerPath(c.path))).length,
      checkpointBytes,
      // Preference models and any checkpoint file the store no longer lists.
      otherFileBytes: Math.max(0, treeBytes(runDir) - checkpointBytes),
      exportBytes: exportDirs(dataDir, run.id).reduce((sum, dir) => sum + treeBytes(dir), 0),
    };
  });
  return { dataDir, ...fileUsage(store), runs };
}

/**
 * Prunes a run that is not training: its checkpoints to the policy (`keep`, else the run's config), the SDE
 * means everywhere (no screen shows them), and the latents of samples people will not look at whose draws
 * can be re-drawn (they have seeds), unless `keep.latents` is 'all'. Then the file gives the pages back.
 */
export function pruneRun(store: Store, runId: number, keep: StorageKeep = {}): PruneResult {
  const run = store.runs.get(runId);
  if (run.status === 'running') throw invalid('runId', `run ${runId} is training: pause or stop it before pruning`);
  const config = storagePolicyOf(run.scenario, run.config);
  const policy = {
    keepLatest: keep.latest ?? config.storage.keepLatest,
    keepBest: keep.best ?? config.storage.keepBest,
    snapshotEvery: keep.every ?? config.storage.snapshotEvery,
  };
  const checkpoints = pruneCheckpoints(store, runId, policy);
  const tensorsBefore = tensorBytesOf(store, runId);
  store.transaction(() => {
    store.db.prepare(`DELETE FROM trajectory_tensors WHERE name = 'means' AND trajectory_id IN (${RUN_TRAJECTORIES})`).run(runId);
    if ((keep.latents ?? 'viewed') === 'all') return;
    const dropLatents = store.db.prepare(`DELETE FROM trajectory_tensors WHERE name = 'latents' AND trajectory_id IN (
      SELECT t.id FROM trajectories t JOIN samples s ON s.id = t.sample_id WHERE s.group_id = ? AND t.noise_seed IS NOT NULL)`);
    const groups = store.db
      .prepare('SELECT id, step, ranking_status FROM rollout_groups WHERE run_id = ? ORDER BY step, id')
      .all(runId) as { id: number; step: number; ranking_status: string }[];
    let index = 0;
    groups.forEach((g, i) => {
      index = i > 0 && groups[i - 1]!.step === g.step ? index + 1 : 0;
      if (!latentStorageOf(config, { step: g.step, index, ranked: g.ranking_status !== 'none' }).latents) dropLatents.run(g.id);
    });
  });
  const tensorBytesFreed = tensorsBefore - tensorBytesOf(store, runId);
  return { runId, checkpoints: { ...checkpoints, policy }, tensorBytesFreed, reclaim: reclaimSpace(store) };
}

/** The run's config over its scenario's preset; one the trainer did not write (hand-made, older) counts as the preset. */
function storagePolicyOf(scenario: Scenario, config: RunConfig): TrainConfig {
  try {
    return resolveTrainConfig(scenario, config);
  } catch {
    return resolveTrainConfig(scenario);
  }
}

const RUN_TRAJECTORIES =
  'SELECT t.id FROM trajectories t JOIN samples s ON s.id = t.sample_id JOIN rollout_groups g ON g.id = s.group_id WHERE g.run_id = ?';

function tensorBytesOf(store: Store, runId: number): number {
  return (
    store.db
      .prepare(`SELECT coalesce(sum(length(data)), 0) AS b FROM trajectory_tensors WHERE trajectory_id IN (${RUN_TRAJECTORIES})`)
      .get(runId) as { b: number }
  ).b;
}

/** Deletes a run that is not training: its rows, its folder (checkpoints, preference models) and exports; then reclaims the pages. */
export function deleteRun(store: Store, dataDir: string, runId: number): { runId: number; fileBytesFreed: number; reclaim: ReclaimInfo } {
  const run = store.runs.get(runId);
  if (run.status === 'running') throw invalid('runId', `run ${runId} is training: stop it before deleting it`);
  const dirs = [join(dataDir, 'runs', String(runId)), ...exportDirs(dataDir, runId)];
  const paths = store.checkpoints.list(runId).flatMap((c) => [c.path, optimizerPath(c.path)]);
  const fileBytesFreed = [...dirs, ...paths.filter((p) => !dirs.some((d) => p.startsWith(d)))].reduce((sum, p) => sum + treeBytes(p), 0);
  store.runs.delete(runId);
  for (const p of [...paths, ...dirs]) rmSync(p, { recursive: true, force: true });
  return { runId, fileBytesFreed, reclaim: reclaimSpace(store) };
}
