// Files reach the API only by registry id or inside the data dir (issue 16, problem 4): eval.start with
// "/etc/passwd" stored an error quoting the file's first bytes, and errors told whether a path existed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHIPPED_BASE_ID, isInside, resolveCheckpoint } from './files.ts';
import { pendingCompute, setupHandlers } from './test-fixtures.ts';

function setup() {
  const { compute, started } = pendingCompute();
  return { ...setupHandlers(compute), started };
}

test('checkpoints.list names the shipped model and each run checkpoint by id; eval.start takes the id', async () => {
  const { store, dataDir, started, call, done } = setup();
  const run = store.runs.create({ name: 'a', scenario: 't2i', config: {} });
  const path = join(dataDir, 'runs', String(run.id), 'checkpoints', 'step-000002.safetensors');
  store.checkpoints.add({ runId: run.id, step: 2, path });

  const all = await call('checkpoints.list', {});
  assert.deepEqual(
    all.map((c) => c.id),
    [SHIPPED_BASE_ID, `run:${run.id}:2`],
  );
  assert.deepEqual(
    (await call('checkpoints.list', { runId: run.id })).map((c) => c.step),
    [2],
  );
  await assert.rejects(
    call('checkpoints.list', { runId: 42 }),
    (err: Error & { info?: { code: string } }) => err.info?.code === 'not_found',
  );

  await call('eval.start', { suite: 'geneval', generator: 'model', checkpoint: `run:${run.id}:2` });
  await call('eval.start', { suite: 'geneval', generator: 'model', checkpoint: SHIPPED_BASE_ID });
  // The shipped base goes to the job as no checkpoint: the model generator's default weights.
  assert.deepEqual(
    started.map((p) => (p as { checkpoint?: string }).checkpoint),
    [path, undefined],
  );
  await assert.rejects(
    call('eval.start', { suite: 'geneval', generator: 'model', checkpoint: `run:${run.id}:3` }),
    /no checkpoint at step 3/,
  );
  done();
});

test('a path outside the data dir is refused alike whether it exists, is a folder or not, and no row is written', async () => {
  const { store, dataDir, started, call, done } = setup();
  const outside = mkdtempSync(join(tmpdir(), 'unirl-outside-'));
  writeFileSync(join(outside, 'secret'), 'root:x:0:0');
  symlinkSync(outside, join(dataDir, 'link'));
  const messages = [];
  for (const checkpoint of [
    '/etc/passwd',
    '/etc',
    '/no/such/file',
    join(outside, 'secret'),
    '../secret',
    'link/secret',
    join(dataDir, 'link', 'new'),
  ]) {
    const err = await call('eval.start', { suite: 'geneval', generator: 'model', checkpoint }).then(
      () => null,
      (e: Error & { info: { code: string; field: string } }) => e,
    );
    assert.ok(err, `${checkpoint} accepted`);
    assert.equal(err.info.code, 'invalid_argument');
    assert.equal(err.info.field, 'checkpoint');
    messages.push(err.message);
  }
  assert.equal(new Set(messages).size, 1, 'the message must not depend on the file');
  assert.doesNotMatch(messages[0]!, /root|passwd|secret|exist|director/i);
  assert.equal(started.length, 0);
  assert.equal(store.evaluations.list().length, 0);

  // Inside the data dir is allowed, relative or absolute.
  mkdirSync(join(dataDir, 'weights'));
  assert.equal(resolveCheckpoint(store, dataDir, 'weights/w.safetensors'), join(dataDir, 'weights', 'w.safetensors'));
  assert.ok(isInside(dataDir, join(dataDir, 'weights')));
  assert.ok(!isInside(dataDir, join(dataDir, 'link', 'secret')));
  rmSync(outside, { recursive: true, force: true });
  done();
});

test('runs.create resolves model.checkpoint through the registry and refuses paths outside the data dir', async () => {
  const { store, dataDir, call, done } = setup();
  const first = store.runs.create({ name: 'a', scenario: 't2i', config: {} });
  const path = join(dataDir, 'runs', String(first.id), 'checkpoints', 'step-000005.safetensors');
  store.checkpoints.add({ runId: first.id, step: 5, path });

  const run = await call('runs.create', {
    name: 'b',
    scenario: 't2i',
    model: 'nano',
    config: { model: { checkpoint: `run:${first.id}:5` } },
  });
  assert.equal((run.config.model as { checkpoint: string }).checkpoint, path);
  const refused = await call('runs.create', { name: 'c', scenario: 't2i', config: { model: { checkpoint: '/etc/passwd' } } }).then(
    () => null,
    (e: Error & { info: { field: string } }) => e,
  );
  assert.equal(refused?.info.field, 'config.model.checkpoint');
  assert.equal(store.runs.list().length, 2);
  done();
});
