// Unbounded or unchecked input (issue 16, problem 8): runtime.threads 1e9 failed later as "std::bad_alloc",
// eval.start stored any suite or generator name as a failed evaluation, runs.pause on a missing run said
// "not training", and ids past the safe integers reached handlers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CALL_NAMES, calls } from '../../contract/api.ts';
import type { ApiErrorInfo } from '../../contract/rpc.ts';
import { pendingCompute, setupHandlers } from './test-fixtures.ts';

const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (err: { info: ApiErrorInfo }) => err.info,
  );

test('numeric config fields are bounded, naming the field and the limit; no run is created', async () => {
  const { store, call, done } = setupHandlers();
  for (const [config, field] of [
    [{ runtime: { threads: 1e9 } }, 'config.runtime.threads'],
    [{ runtime: { samplesPerPass: 1e7 } }, 'config.runtime.samplesPerPass'],
    [{ rollout: { groupSize: 100000 } }, 'config.rollout.groupSize'],
    [{ rollout: { promptsPerStep: 1e6 } }, 'config.rollout.promptsPerStep'],
    [{ rollout: { promptsPerStep: 128, groupSize: 64 } }, 'config.rollout'],
    [{ rollout: { maxNewTokens: 1e9 } }, 'config.rollout.maxNewTokens'],
    [{ steps: 1e12 }, 'config.steps'],
    [{ seed: 1e300 }, 'config.seed'],
  ] as const) {
    const err = await errorOf(call('runs.create', { name: 'x', scenario: 't2i', config }));
    assert.equal(err?.code, 'invalid_argument', JSON.stringify(config));
    assert.equal(err?.field, field, JSON.stringify(config));
  }
  const batch = await errorOf(
    call('runs.create', { name: 'x', scenario: 't2i', config: { rollout: { promptsPerStep: 128, groupSize: 64 } } }),
  );
  assert.match(batch!.message, /8192 samples a step; at most 4096/);
  assert.equal(store.runs.list().length, 0);
  done();
});

test('eval.start takes only known suites and generators and writes no row for others', async () => {
  const { compute, started } = pendingCompute();
  const { store, call, done } = setupHandlers(compute);
  for (const input of [
    { suite: 'x'.repeat(1_000_000), generator: 'model' },
    { suite: 'nope', generator: 'model' },
    { suite: 'geneval', generator: 'nope' },
  ]) {
    const err = await errorOf(call('eval.start', input));
    assert.equal(err?.code, 'invalid_argument');
    assert.ok(err.message.length < 400, 'the message does not echo a huge name');
  }
  assert.match((await errorOf(call('eval.start', { suite: 'nope', generator: 'model' })))!.message, /unknown suite "nope".*geneval/);
  assert.match((await errorOf(call('eval.start', { suite: 'geneval', generator: 'nope' })))!.message, /unknown generator "nope".*oracle/);
  assert.equal(store.evaluations.list().length, 0);
  assert.equal(started.length, 0);
  await call('eval.start', { suite: 'geneval', generator: 'oracle', limit: 1 });
  assert.equal(started.length, 1);
  done();
});

test('every call that names a run answers not_found for a missing one', async () => {
  const { call, done } = setupHandlers(pendingCompute().compute);
  const runCalls = CALL_NAMES.filter((name) => 'runId' in ((calls[name].input as unknown as { shape?: object }).shape ?? {}));
  assert.ok(runCalls.length >= 10, runCalls.join());
  const required: Record<string, object> = {
    'export.run': { format: 'rollouts' },
    'metrics.series': { names: ['loss'] },
    'ranking.queue': { annotator: 'a' },
    'ranking.waiting': { annotator: 'a' },
    'runs.rename': { name: 'renamed' },
  };
  for (const name of runCalls) {
    const err = await errorOf(call(name, { runId: 424242, ...required[name] }));
    assert.equal(err?.code, 'not_found', `${name}: ${JSON.stringify(err)}`);
    assert.match(err.message, /run 424242 not found/, name);
  }
  done();
});

test('ids must be safe integers: Infinity and 2^60 are invalid arguments, not lookups', async () => {
  const { call, done } = setupHandlers();
  for (const runId of [Infinity, 2 ** 60, -1, 1.5]) {
    const err = await errorOf(call('runs.get', { runId }));
    assert.equal(err?.code, 'invalid_argument', String(runId));
    assert.equal(err?.field, 'runId');
  }
  done();
});
