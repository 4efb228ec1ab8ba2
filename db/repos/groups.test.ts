import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../index.ts';
import { groupInput, seedRun } from '../test-fixtures/seed.ts';

test('stepCounts: groups per step, ascending, only of the asked run', () => {
  const store = openStore(':memory:');
  const { runId, promptId } = seedRun(store);
  for (const step of [3, 1, 3, 3, 0]) store.groups.insert(groupInput(runId, promptId, step, [0.1, 0.2]));
  const other = seedRun(store, 'other');
  store.groups.insert(groupInput(other.runId, other.promptId, 1, [0.5]));
  assert.deepEqual(store.groups.stepCounts(runId), [{ step: 0, groups: 1, discarded: 0 }, { step: 1, groups: 1, discarded: 0 }, { step: 3, groups: 3, discarded: 0 }]);
  assert.deepEqual(store.groups.stepCounts(999), []);
  store.close();
});

test('discardAfter: later steps leave lists, step counts and the ranking queue, stay for audit, and free their metric steps', () => {
  const store = openStore(':memory:');
  const { runId, promptId } = seedRun(store);
  for (const step of [1, 2, 3]) {
    store.groups.insert({ ...groupInput(runId, promptId, step, [0.1, 0.2]), ranking: 'pending' });
    store.metrics.log(runId, step, { loss: step });
  }
  assert.deepEqual(store.groups.discardAfter(runId, 1), { groups: 2, metrics: 2 });
  assert.deepEqual(store.groups.list({ runId }).items.map((g) => g.step), [1]);
  assert.deepEqual(store.groups.steps(runId), [1]);
  assert.deepEqual(store.rankings.queue({ annotator: 'ann', runId }).map((g) => g.step), [1]);
  assert.equal(store.rankings.queueSize({ annotator: 'ann' }), 1);
  const audit = store.groups.list({ runId, discarded: true }).items;
  assert.deepEqual(audit.map((g) => [g.step, g.discarded]), [[1, false], [2, true], [3, true]]);
  assert.deepEqual(store.groups.stepCounts(runId, true).map((s) => s.discarded), [0, 1, 1]);
  // The resumed step 2 logs under the same step number; the discarded value is kept apart.
  store.metrics.log(runId, 2, { loss: 20 });
  assert.deepEqual(store.metrics.series({ runId, names: ['loss'] })[0]!.values, [1, 20]);
  assert.deepEqual(store.db.prepare('SELECT step, value FROM discarded_metrics ORDER BY step').all(), [{ step: 2, value: 2 }, { step: 3, value: 3 }]);
  assert.deepEqual(store.groups.discardAfter(runId, 1), { groups: 0, metrics: 1 }, 'discarding again marks nothing twice');
  store.close();
});
