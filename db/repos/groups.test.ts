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
  assert.deepEqual(store.groups.stepCounts(runId), [{ step: 0, groups: 1 }, { step: 1, groups: 1 }, { step: 3, groups: 3 }]);
  assert.deepEqual(store.groups.stepCounts(999), []);
  store.close();
});
