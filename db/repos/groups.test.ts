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

test('the ranking queue: a running sync run\'s groups first, then by the queue policy\'s score; closed groups leave it with their reason', () => {
  const store = openStore(':memory:');
  const async = seedRun(store, 'async');
  const low = store.groups.insert({ ...groupInput(async.runId, async.promptId, 1, [0.1, 0.2]), ranking: 'pending', queue: { score: 0.1, reason: 'random pick' } });
  const high = store.groups.insert({ ...groupInput(async.runId, async.promptId, 1, [0.1, 0.2]), ranking: 'pending', queue: { score: 0.9, reason: 'reward spread 0.900' } });
  const run = store.runs.create({ name: 'sync', scenario: 't2i', config: { human: { mode: 'sync' } } });
  const prompt = store.prompts.ensure(run.id, { text: 'a blue square', task: 'single_object' });
  const waited = store.groups.insert({ ...groupInput(run.id, prompt.id, 1, [0.1, 0.2]), ranking: 'pending', queue: { score: 0, reason: 'random pick' } });
  const order = () => store.rankings.queue({ annotator: 'ann' }).map((g) => g.id);
  assert.deepEqual(order(), [high.groupId, low.groupId, waited.groupId], 'a sync run that is not training waits for no one');
  store.runs.setStatus(run.id, 'running');
  assert.deepEqual(order(), [waited.groupId, high.groupId, low.groupId]);
  assert.equal(store.groups.get(high.groupId).queueReason, 'reward spread 0.900');

  store.groups.closeQueue(waited.groupId, 'released');
  store.groups.closeQueue(low.groupId, 'stale');
  assert.deepEqual(order(), [high.groupId]);
  assert.deepEqual([store.groups.get(waited.groupId).queueClosed, store.groups.get(low.groupId).queueClosed], ['released', 'stale']);
  assert.deepEqual(store.groups.pendingOfRun(async.runId), [high.groupId]);
  store.close();
});
