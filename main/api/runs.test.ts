import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../db/index.ts';
import { ApiError } from '../../contract/rpc.ts';
import { JobFailed, type ComputeClient, type JobHandle } from '../compute/client.ts';
import type { CancelMode } from '../compute/job-context.ts';
import { EventBus } from './events.ts';
import { RunController } from './runs.ts';

/** A compute client whose train jobs the test settles by hand. */
function fakeCompute() {
  const started: { params: unknown; cancels: CancelMode[]; settle(ok: boolean, cancelled?: boolean): void }[] = [];
  const compute = {
    start(_kind: 'train', params: unknown) {
      let resolve!: (v: unknown) => void;
      let reject!: (e: Error) => void;
      const result = new Promise((res, rej) => {
        resolve = res;
        reject = rej;
      });
      const record = {
        params,
        cancels: [] as CancelMode[],
        settle: (ok: boolean, cancelled = false) =>
          ok
            ? resolve({ runId: 1, step: 3, stoppedBy: 'steps', checkpoint: null })
            : reject(new JobFailed(cancelled ? 'job cancelled' : 'no weights', cancelled)),
      };
      started.push(record);
      return {
        id: `job${started.length}`,
        kind: 'train',
        result,
        cancel: (mode: CancelMode = 'stop') => record.cancels.push(mode),
      } as unknown as JobHandle<'train'>;
    },
  };
  return { compute: compute as unknown as ComputeClient, started };
}

const tick = () => new Promise((r) => setImmediate(r));

test('create validates the config against the scenario preset and names the bad field', () => {
  const store = openStore(':memory:');
  const runs = new RunController(store, new EventBus(), fakeCompute().compute, '/data');
  const run = runs.create('demo', 't2i', { rollout: { groupSize: 6 } }, 'nano');
  assert.equal((run.config as { rollout: { groupSize: number } }).rollout.groupSize, 6);
  assert.equal((run.config as { model: { preset: string } }).model.preset, 'nano');
  assert.throws(
    () => runs.create('bad', 't2i', { rollout: { groupSize: 'eight' } }, 'base'),
    (err: unknown) => err instanceof ApiError && err.info.code === 'invalid_argument' && err.info.field === 'config.rollout.groupSize',
  );
  assert.equal(store.runs.list().length, 1, 'a rejected config creates nothing');
  store.close();
});

test('start launches one training job per run; pause and stop cancel it the right way', async () => {
  const store = openStore(':memory:');
  const events = new EventBus();
  const seen: string[] = [];
  events.subscribe((name) => seen.push(name));
  const { compute, started } = fakeCompute();
  const runs = new RunController(store, events, compute, '/data');
  const run = runs.create('demo', 't2i', undefined, 'nano');

  runs.start(run.id);
  assert.deepEqual(started[0]!.params, { dataDir: '/data', scenario: 't2i', runId: run.id });
  assert.throws(() => runs.start(run.id), /already training/);
  runs.pause(run.id);
  assert.deepEqual(started[0]!.cancels, ['pause']);
  started[0]!.settle(false, true);
  await tick();
  assert.equal(runs.isTraining(run.id), false);
  assert.match(
    store.log
      .tail({ runId: run.id })
      .map((e) => e.message)
      .join('\n'),
    /training cancelled/,
  );

  assert.throws(() => runs.pause(run.id), /is not training/);
  runs.start(run.id);
  runs.stop(run.id);
  assert.deepEqual(started[1]!.cancels, ['stop']);
  started[1]!.settle(true);
  await tick();
  assert.ok(seen.includes('run.updated') && seen.includes('log.appended'));
  store.close();
});

test('a job that fails before training records the failure on the run', async () => {
  const store = openStore(':memory:');
  const { compute, started } = fakeCompute();
  const runs = new RunController(store, new EventBus(), compute, '/data');
  const run = runs.create('demo', 'text', undefined, 'base');
  runs.start(run.id);
  started[0]!.settle(false);
  await tick();
  const after = store.runs.get(run.id);
  assert.equal(after.status, 'failed');
  assert.equal(after.error, 'no weights');
  runs.start(run.id); // a failed run may be retried
  assert.equal(started.length, 2);
  started[1]!.settle(true);
  await tick();
  store.runs.setStatus(run.id, 'running');
  store.runs.setStatus(run.id, 'stopped');
  assert.throws(
    () => runs.start(run.id),
    /is 'stopped': only created, paused, interrupted, failed or \(with more steps\) completed runs can start/,
  );
  store.close();
});

test(
  'a completed run continues only with more steps; ' + 'rename and delete (with its files) act on the store and tell the screens',
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'unirl-runs-'));
    const store = openStore(':memory:');
    const events = new EventBus();
    const seen: [string, unknown][] = [];
    events.subscribe((name, payload) => seen.push([name, payload]));
    const { compute, started } = fakeCompute();
    const runs = new RunController(store, events, compute, dataDir);
    const run = runs.create('demo', 't2i', { steps: 2 }, 'nano');
    store.runs.setStatus(run.id, 'running');
    store.runs.setStep(run.id, 2);
    store.runs.setStatus(run.id, 'completed');

    assert.throws(() => runs.start(run.id), /completed its 2 steps: give steps > 2/);
    assert.throws(() => runs.start(run.id, 2), /give steps > 2/);
    runs.delete(run.id);
    const again = runs.create('demo 2', 't2i', { steps: 2 }, 'nano');
    store.runs.setStatus(again.id, 'running');
    store.runs.setStep(again.id, 2);
    store.runs.setStatus(again.id, 'completed');
    runs.start(again.id, 5);
    assert.equal((store.runs.get(again.id).config as { steps: number }).steps, 5, 'the run trains to the new step count');
    assert.equal(started.length, 1);
    assert.ok(seen.some(([name, payload]) => name === 'run.updated' && (payload as { config: { steps: number } }).config.steps === 5));
    assert.throws(() => runs.delete(again.id), /is training: stop it first/);
    started[0]!.settle(true);
    await tick();

    // Delete removes the rows and runs/<id>/ and says so on the bus; other runs' files stay.
    const own = join(dataDir, 'runs', String(again.id), 'checkpoints');
    const other = join(dataDir, 'runs', '999');
    mkdirSync(own, { recursive: true });
    mkdirSync(other, { recursive: true });
    writeFileSync(join(own, 'step-000002.safetensors'), 'weights');
    const deleted = runs.delete(again.id);
    assert.deepEqual([deleted.runId, deleted.removedFiles, deleted.fileBytesFreed], [again.id, true, 'weights'.length]);
    assert.ok(deleted.reclaim.afterBytes <= deleted.reclaim.beforeBytes);
    assert.ok(!existsSync(join(dataDir, 'runs', String(again.id))) && existsSync(other));
    assert.throws(() => store.runs.get(again.id), /not found/);
    assert.deepEqual(
      seen.filter(([name]) => name === 'run.deleted').map(([, p]) => p),
      [{ runId: run.id }, { runId: again.id }],
    );

    const renamed = runs.create('old name', 't2i', undefined, 'nano');
    assert.equal(store.runs.rename(renamed.id, '  new name ').name, 'new name');
    assert.throws(() => store.runs.rename(renamed.id, ' '), /name/);
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  },
);
