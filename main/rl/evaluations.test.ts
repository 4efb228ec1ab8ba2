// A run's held-out evaluations during training are recorded as evaluations of the run, image by image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../db/index.ts';
import { trainJob } from './job.ts';
import { HELD_OUT_SUITE } from '../../contract/domain.ts';

test('every evaluation step of a nano run is an evaluation of the run with its scored images and the step', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'unirl-evals-'));
  try {
    const ctx = { progress: () => {}, checkCancelled: () => {} };
    const { runId } = await trainJob(
      { dataDir, scenario: 't2i', nano: true, config: { steps: 3, eval: { every: 2, promptsPerTask: 1 } } },
      ctx,
    );
    const store = openStore(join(dataDir, 'unirl.sqlite'));
    try {
      const evaluations = store.evaluations.list(runId);
      assert.equal(evaluations.length, 1, 'step 2 only');
      const [evaluation] = evaluations;
      assert.equal(evaluation!.suite, HELD_OUT_SUITE);
      assert.equal(evaluation!.status, 'completed');
      assert.equal(evaluation!.summary!.step, 2);
      const results = store.evaluations.results({ evaluationId: evaluation!.id, limit: 100 });
      assert.equal(results.total, 6, 'one held-out prompt per GenEval task');
      assert.ok(results.items.every((r) => r.hasImage && r.prompt.length > 0));
      const accuracy = results.items.filter((r) => r.correct).length / results.total;
      const logged = store.metrics.series({ runId, names: ['eval/accuracy'] })[0]!;
      assert.deepEqual(logged.steps, [2]);
      assert.equal(evaluation!.summary!.overall, logged.values[0]);
      assert.equal(accuracy, logged.values[0]);
    } finally {
      store.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
