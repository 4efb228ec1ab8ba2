import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../db/store.ts';
import { optimizerPath } from '../engine/checkpoint/checkpoint.ts';
import { bestCheckpointStep, checkpointFates, pruneCheckpoints } from './checkpoint-policy.ts';

test('latest N full, best and every K-th as weights only, the rest deleted', () => {
  const steps = [25, 50, 75, 100, 125, 150];
  const fates = checkpointFates(steps, { keepLatest: 2, keepBest: true, snapshotEvery: 100 }, 50);
  assert.deepEqual(Object.fromEntries(fates), { 25: 'delete', 50: 'weights', 75: 'delete', 100: 'weights', 125: 'full', 150: 'full' });
  assert.deepEqual(
    [...checkpointFates(steps, { keepLatest: 1, keepBest: false, snapshotEvery: 0 }, 50).values()],
    ['delete', 'delete', 'delete', 'delete', 'delete', 'full'],
  );
});

test('pruning a run removes files and rows by the policy and reports the bytes freed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unirl-prune-'));
  const store = openStore(':memory:');
  try {
    const run = store.runs.create({ name: 'r', scenario: 't2i', config: {} });
    for (const step of [10, 20, 30, 40]) {
      const path = join(dir, `step-${step}.safetensors`);
      writeFileSync(path, Buffer.alloc(100));
      writeFileSync(optimizerPath(path), Buffer.alloc(200));
      store.checkpoints.add({ runId: run.id, step, path });
    }
    // Held-out evaluations at steps 10, 15 and 20: the best checkpointed one is step 20 (15 has no checkpoint).
    store.metrics.log(run.id, 10, { 'eval/accuracy': 0.5 });
    store.metrics.log(run.id, 15, { 'eval/accuracy': 0.9 });
    store.metrics.log(run.id, 20, { 'eval/accuracy': 0.6 });
    assert.equal(bestCheckpointStep(store, run.id), 20);
    const report = pruneCheckpoints(store, run.id, { keepLatest: 1, keepBest: true, snapshotEvery: 0 });
    assert.deepEqual(report, { deleted: [10, 30], weightsOnly: [20], freedBytes: 300 + 200 + 300 });
    assert.deepEqual(
      store.checkpoints.list(run.id).map((c) => c.step),
      [20, 40],
    );
    assert.deepEqual(
      [10, 20, 30, 40].map((s) => [
        existsSync(join(dir, `step-${s}.safetensors`)),
        existsSync(optimizerPath(join(dir, `step-${s}.safetensors`))),
      ]),
      [
        [false, false],
        [true, false],
        [false, false],
        [true, true],
      ],
    );
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
