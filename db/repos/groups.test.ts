import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GroupKey } from '../../contract/domain.ts';
import { openStore } from '../index.ts';
import { groupInput, seedRun } from '../test-fixtures/seed.ts';

test('stepCounts: groups per step, ascending, only of the asked run', () => {
  const store = openStore(':memory:');
  const { runId, promptId } = seedRun(store);
  for (const step of [3, 1, 3, 3, 0]) store.groups.insert(groupInput(runId, promptId, step, [0.1, 0.2]));
  const other = seedRun(store, 'other');
  store.groups.insert(groupInput(other.runId, other.promptId, 1, [0.5]));
  assert.deepEqual(store.groups.stepCounts(runId), [
    { step: 0, groups: 1, discarded: 0 },
    { step: 1, groups: 1, discarded: 0 },
    { step: 3, groups: 3, discarded: 0 },
  ]);
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
  assert.deepEqual(
    store.groups.list({ runId }).items.map((g) => g.step),
    [1],
  );
  assert.deepEqual(store.groups.steps(runId), [1]);
  assert.deepEqual(
    store.rankings.queue({ annotator: 'ann', runId }).map((g) => g.step),
    [1],
  );
  assert.equal(store.rankings.queueSize({ annotator: 'ann' }), 1);
  const audit = store.groups.list({ runId, discarded: true }).items;
  assert.deepEqual(
    audit.map((g) => [g.step, g.discarded]),
    [
      [1, false],
      [2, true],
      [3, true],
    ],
  );
  assert.deepEqual(
    store.groups.stepCounts(runId, true).map((s) => s.discarded),
    [0, 1, 1],
  );
  // The resumed step 2 logs under the same step number; the discarded value is kept apart.
  store.metrics.log(runId, 2, { loss: 20 });
  assert.deepEqual(store.metrics.series({ runId, names: ['loss'] })[0]!.values, [1, 20]);
  assert.deepEqual(store.db.prepare('SELECT step, value FROM discarded_metrics ORDER BY step').all(), [
    { step: 2, value: 2 },
    { step: 3, value: 3 },
  ]);
  assert.deepEqual(store.groups.discardAfter(runId, 1), { groups: 0, metrics: 1 }, 'discarding again marks nothing twice');
  store.close();
});

test(
  "the ranking queue: a running sync run's groups first, then by the queue policy's score; " + 'closed groups leave it with their reason',
  () => {
    const store = openStore(':memory:');
    const async = seedRun(store, 'async');
    const low = store.groups.insert({
      ...groupInput(async.runId, async.promptId, 1, [0.1, 0.2]),
      ranking: 'pending',
      queue: { score: 0.1, reason: 'random pick' },
    });
    const high = store.groups.insert({
      ...groupInput(async.runId, async.promptId, 1, [0.1, 0.2]),
      ranking: 'pending',
      queue: { score: 0.9, reason: 'reward spread 0.900' },
    });
    const run = store.runs.create({ name: 'sync', scenario: 't2i', config: { human: { mode: 'sync' } } });
    const prompt = store.prompts.ensure(run.id, { text: 'a blue square', task: 'single_object' });
    const waited = store.groups.insert({
      ...groupInput(run.id, prompt.id, 1, [0.1, 0.2]),
      ranking: 'pending',
      queue: { score: 0, reason: 'random pick' },
    });
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
  },
);

test('keyset paging: after a group and from a step give the offset pages, in both orders, with or without discarded groups', () => {
  const store = openStore(':memory:');
  const { runId, promptId } = seedRun(store);
  for (const step of [1, 2, 2, 3, 3, 3, 4]) store.groups.insert(groupInput(runId, promptId, step, [0.1, 0.2]));
  store.groups.discardAfter(runId, 3);
  const ids = (items: { id: number }[]) => items.map((g) => g.id);
  for (const discarded of [false, true]) {
    for (const order of ['asc', 'desc'] as const) {
      const all = store.groups.list({ runId, order, discarded, limit: 500 }).items;
      // Pages of 2, each after the last group of the one before, equal the offset pages.
      const pages: number[][] = [];
      for (let after: GroupKey | null | undefined; after !== null; ) {
        const page = store.groups.page({ runId, order, discarded, limit: 2, ...(after ? { after } : {}) });
        pages.push(ids(page.items));
        after = page.next;
      }
      assert.deepEqual(pages.flat(), ids(all), `${order}${discarded ? ' with discarded' : ''}`);
      assert.deepEqual(ids([...store.groups.each({ runId, order, discarded })]), ids(all));
      // From step 3, skipping one of its groups: the rows the offset page starting there shows.
      const start = all.findIndex((g) => g.step === 3) + 1;
      assert.deepEqual(
        ids(store.groups.page({ runId, order, discarded, fromStep: 3, offset: 1, limit: 3 }).items),
        ids(all.slice(start, start + 3)),
      );
    }
  }
  store.close();
});
