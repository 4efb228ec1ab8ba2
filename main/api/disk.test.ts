import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore, type Store } from '../../db/index.ts';
import { optimizerPath } from '../engine/checkpoint/checkpoint.ts';
import { dataDirUsage, deleteRun, pruneRun } from './disk.ts';

const FRAMES = 11;
const latents = () => ({
  dtype: 'float32' as const,
  shape: [FRAMES, 64, 48],
  data: Float32Array.from({ length: FRAMES * 3072 }, () => Math.random() * 2 - 1),
});

/** A finished t2i run: `groups` groups of 2 samples with latents, means and seeds; group 0 ranked; 3 checkpoints; an export. */
function seedRun(store: Store, dataDir: string, groups: number): number {
  const run = store.runs.create({ name: 'big', scenario: 't2i', config: { storage: { sampledFraction: 0 } } });
  store.runs.setStatus(run.id, 'running');
  store.runs.setStatus(run.id, 'completed');
  const prompt = store.prompts.ensure(run.id, { text: 'a red circle', task: 'single_object' });
  for (let g = 0; g < groups; g++) {
    store.groups.insert({
      runId: run.id,
      step: g + 1,
      promptId: prompt.id,
      ranking: g === 0 ? 'pending' : 'none',
      samples: [0, 1].map((k) => ({
        seed: g * 10 + k,
        trajectories: [
          {
            kind: 'dm' as const,
            seeds: { noise: 1, sde: 2 },
            tensors: {
              latents: latents(),
              means: { ...latents(), shape: [FRAMES - 1, 64, 48], data: new Float32Array((FRAMES - 1) * 3072) },
            },
          },
        ],
      })),
    });
  }
  const dir = join(dataDir, 'runs', String(run.id), 'checkpoints');
  mkdirSync(dir, { recursive: true });
  for (const step of [1, 2, 3]) {
    const path = join(dir, `step-${step}.safetensors`);
    writeFileSync(path, Buffer.alloc(1000));
    writeFileSync(optimizerPath(path), Buffer.alloc(2000));
    store.checkpoints.add({ runId: run.id, step, path });
  }
  mkdirSync(join(dataDir, 'exports', `run-${run.id}-trl-x`), { recursive: true });
  writeFileSync(join(dataDir, 'exports', `run-${run.id}-trl-x`, 'rows.jsonl'), Buffer.alloc(500));
  return run.id;
}

test('usage per run, pruning to the policy and deleting a run give the space back', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'unirl-disk-'));
  const dbPath = join(dataDir, 'unirl.sqlite');
  const store = openStore(dbPath);
  try {
    const runId = seedRun(store, dataDir, 20);
    const usage = dataDirUsage(store, dataDir);
    assert.equal(usage.autoVacuum, 'incremental', 'a new database frees pages incrementally');
    const [run] = usage.runs;
    assert.deepEqual(
      [run!.samples, run!.checkpoints, run!.checkpointsWithOptimizer, run!.checkpointBytes, run!.exportBytes],
      [40, 3, 3, 9000, 500],
    );
    assert.equal(run!.tensorBytes, 40 * (FRAMES + FRAMES - 1) * 3072 * 4);

    // Pruned: the latest checkpoint only, means gone, latents kept for the ranked group alone (the rest re-draw).
    const pruned = pruneRun(store, runId, { latest: 1, every: 0, best: false });
    assert.deepEqual([pruned.checkpoints.deleted, pruned.checkpoints.freedBytes], [[1, 2], 6000]);
    assert.equal(pruned.tensorBytesFreed, run!.tensorBytes - 2 * FRAMES * 3072 * 4);
    assert.ok(
      pruned.reclaim.afterBytes < pruned.reclaim.beforeBytes / 10,
      `database ${pruned.reclaim.beforeBytes} -> ${pruned.reclaim.afterBytes}`,
    );
    assert.equal(pruned.reclaim.mode, 'incremental_vacuum');
    const kept = store.db
      .prepare(`SELECT g.step, tt.name FROM trajectory_tensors tt JOIN trajectories t ON t.id = tt.trajectory_id
      JOIN samples s ON s.id = t.sample_id JOIN rollout_groups g ON g.id = s.group_id`)
      .all();
    assert.deepEqual(kept, [
      { step: 1, name: 'latents' },
      { step: 1, name: 'latents' },
    ]);

    store.runs.setStatus(runId, 'running');
    assert.throws(() => deleteRun(store, dataDir, runId), /run \d+ is training/);
    store.runs.setStatus(runId, 'stopped');
    const deleted = deleteRun(store, dataDir, runId);
    assert.equal(deleted.fileBytesFreed, 3000 + 500);
    assert.ok(!existsSync(join(dataDir, 'runs', String(runId))) && !existsSync(join(dataDir, 'exports', `run-${runId}-trl-x`)));
    assert.equal(dataDirUsage(store, dataDir).runs.length, 0);
    assert.ok(statSync(dbPath).size <= deleted.reclaim.afterBytes + 4096, 'the file shrank on disk');
  } finally {
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
