// The hot reads use their indexes: the SQL the repositories actually run is captured and explained.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from './store.ts';
import type { Store } from './store.ts';
import { groupInput, seedRun } from './test-fixtures/seed.ts';

/** Calls `read` and returns the query plan lines of every SELECT it prepared. */
function plansOf(store: Store, read: () => unknown): { sql: string; plan: string[] }[] {
  const captured: string[] = [];
  const prepare = store.db.prepare.bind(store.db);
  store.db.prepare = ((sql: string) => {
    captured.push(sql);
    return prepare(sql);
  }) as typeof store.db.prepare;
  try {
    read();
  } finally {
    store.db.prepare = prepare as typeof store.db.prepare;
  }
  return captured
    .filter((sql) => /^\s*(SELECT|WITH)/i.test(sql))
    .map((sql) => {
      const params = (sql.match(/\?/g) ?? []).map(() => 1);
      const rows = store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[];
      return { sql, plan: rows.map((r) => r.detail) };
    });
}

/**
 * A full scan of a table reads as 'SCAN t' with no index (a covering-index scan names its index); scanning a
 * common table expression the query builds (WITH name AS ...) reads its own rows, not a table.
 */
function assertNoFullScan(plans: { sql: string; plan: string[] }[]): void {
  for (const { sql, plan } of plans) {
    const built = new Set([...sql.matchAll(/(\w+)(\([\w, ]*\))?\s+AS\s*\(/gi)].map((m) => m[1]!));
    for (const line of plan) {
      if (built.has(line.replace(/^SCAN /, ''))) continue;
      assert.doesNotMatch(line, /^SCAN \w+( AS \w+)?$/, `full table scan in\n${sql}\nplan: ${plan.join(' | ')}`);
    }
  }
}

function uses(plans: { plan: string[] }[], index: string): boolean {
  return plans.some(({ plan }) => plan.some((line) => line.includes(index)));
}

function filledStore(): { store: Store; runId: number; groupId: number; evaluationId: number } {
  const store = openStore(':memory:');
  const { runId } = seedRun(store);
  let groupId = 0;
  for (let step = 0; step < 20; step++) {
    for (let g = 0; g < 3; g++) {
      const prompt = store.prompts.ensure(runId, { text: `prompt ${step}.${g}`, task: 'counting' });
      groupId = store.groups.insert(groupInput(runId, prompt.id, step, [0, 1], { ranking: g === 0 ? 'pending' : 'none' })).groupId;
    }
    store.metrics.log(runId, step, { kl: step, loss: -step, ...(step % 3 === 0 ? { eval: step } : {}) });
    store.log.append(runId, 'info', `step ${step}`);
  }
  const evaluation = store.evaluations.start({ runId, suite: 'geneval' });
  store.evaluations.addResults(
    evaluation.id,
    Array.from({ length: 40 }, (_, i) => ({
      task: i % 2 ? 'colors' : 'counting',
      prompt: `p${i}`,
      imageIndex: i % 4,
      correct: i % 3 === 0,
      reward: 0,
      reason: '',
    })),
  );
  const other = seedRun(store, 'another run');
  for (let i = 0; i < 40; i++) store.log.append(i % 2 ? other.runId : null, 'info', `event ${i}`);
  store.db.exec('ANALYZE'); // as PRAGMA optimize on close does in the app
  return { store, runId, groupId, evaluationId: evaluation.id };
}

test('the hot reads use their indexes and never scan a whole table', () => {
  // A fresh store per read: repositories prepare their statements once per connection (cachedStatement).
  const cases: [string, (filled: ReturnType<typeof filledStore>) => unknown, string][] = [
    [
      'metrics by run + name + step',
      ({ store, runId }) => store.metrics.series({ runId, names: ['kl'], afterStep: 5 }),
      'PRIMARY KEY (run_id=? AND name=? AND step>?)',
    ],
    [
      'groups by run + step',
      ({ store, runId }) => store.groups.list({ runId, step: 3 }),
      'rollout_groups_kept (run_id=? AND discarded_at=? AND step=?)',
    ],
    [
      'groups of a run, paged',
      ({ store, runId }) => store.groups.list({ runId, offset: 10, limit: 5 }),
      'rollout_groups_kept (run_id=? AND discarded_at=?)',
    ],
    // One seek per grid step, for a metric of every step and for a sparser one (a join the other way round
    // would walk the whole series per point).
    [
      'metrics thinned to a point per stride',
      ({ store, runId }) => store.metrics.series({ runId, names: ['kl'], maxPoints: 4 }),
      'metrics USING PRIMARY KEY (run_id=? AND name=? AND step=?)',
    ],
    [
      'a sparse metric thinned',
      ({ store, runId }) => store.metrics.series({ runId, names: ['eval'], maxPoints: 5 }),
      'm USING PRIMARY KEY (run_id=? AND name=? AND step=?)',
    ],
    [
      'groups of a run after a group (keyset)',
      ({ store, runId }) => store.groups.page({ runId, after: { step: 10, id: 30 }, limit: 5 }),
      'rollout_groups_kept (run_id=? AND discarded_at=? AND step>?)',
    ],
    [
      'groups of a run from a step (keyset)',
      ({ store, runId }) => store.groups.page({ runId, order: 'desc', fromStep: 10, offset: 1, limit: 5 }),
      'rollout_groups_kept (run_id=? AND discarded_at=? AND step<?)',
    ],
    [
      'groups with discarded ones, after a group',
      ({ store, runId }) => store.groups.page({ runId, discarded: true, after: { step: 10, id: 30 } }),
      'rollout_groups_by_run_step (run_id=? AND step>?)',
    ],
    // Read in the queue's order from the index: no sort of the pending groups.
    [
      'ranking queue of a run',
      ({ store, runId }) => store.rankings.queue({ annotator: 'ann', runId }),
      'rollout_groups_queue_by_run (run_id=?)',
    ],
    ['ranking queue of all runs', ({ store }) => store.rankings.queue({ annotator: 'ann' }), 'SCAN g USING INDEX rollout_groups_queue'],
    ['sync runs first', ({ store }) => store.rankings.queue({ annotator: 'ann' }), 'runs USING INDEX runs_by_status (status=?)'],
    ['queue size', ({ store, runId }) => store.rankings.queueSize({ annotator: 'ann', runId }), 'rollout_groups_queue'],
    ['samples by group', ({ store, groupId }) => store.samples.members(groupId), 'samples_'],
    ['rankings by group', ({ store, groupId }) => store.rankings.forGroup(groupId), 'sqlite_autoindex_rankings_1 (group_id=?)'],
    ['log tail', ({ store, runId }) => store.log.tail({ runId, limit: 10 }), 'events_by_run (run_id=?)'],
    // Either index serves a live tail: its afterId is near the end, so the rowid range is short.
    ['live log tail', ({ store, runId }) => store.log.tail({ runId, afterId: 5 }), 'SEARCH events'],
    [
      'evaluation failures first',
      ({ store, evaluationId }) => store.evaluations.results({ evaluationId }),
      'eval_results_by_outcome (evaluation_id=?)',
    ],
    [
      'evaluation failures first, one task',
      ({ store, evaluationId }) => store.evaluations.results({ evaluationId, task: 'colors' }),
      'eval_results_by_task (evaluation_id=? AND task=?)',
    ],
    ['app log tail', ({ store }) => store.log.tail({ runId: null }), 'events_by_run (run_id=?)'],
  ];
  for (const [name, read, index] of cases) {
    const filled = filledStore();
    const plans = plansOf(filled.store, () => read(filled));
    assert.ok(plans.length > 0, `${name}: no query captured`);
    assertNoFullScan(plans);
    assert.ok(uses(plans, index), `${name}: expected ${index} in\n${plans.map((p) => `${p.sql}\n  ${p.plan.join(' | ')}`).join('\n')}`);
    filled.store.close();
  }
});

test('the scan check catches a query without an index', () => {
  const { store } = filledStore();
  const plans = plansOf(store, () => store.db.prepare('SELECT * FROM metrics WHERE value > 3').all());
  assert.throws(() => assertNoFullScan(plans), /full table scan/);
  store.close();
});
