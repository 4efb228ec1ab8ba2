// The calls added for the screens (issue 8), through the validated dispatch over an in-memory store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CallName, CallOutput } from '../../contract/api.ts';
import { openStore } from '../../db/index.ts';
import { seedGroups, seedMetrics, seedRankings, seedReflections } from '../../tests/browser/fixtures.ts';
import type { ComputeClient } from '../compute/client.ts';
import type { SettingsFile } from '../settings.ts';
import { createDispatch } from './dispatch.ts';
import { EventBus } from './events.ts';
import { createHandlers } from './handlers.ts';
import { RunController } from './runs.ts';

function setup(compute: Partial<ComputeClient> = {}) {
  const store = openStore(':memory:');
  const dataDir = mkdtempSync(join(tmpdir(), 'unirl-handlers-'));
  const events = new EventBus();
  const dispatch = createDispatch(createHandlers({
    store, events, compute: compute as ComputeClient, settings: {} as SettingsFile,
    runs: new RunController(store, events, compute as ComputeClient, dataDir),
    info: () => ({ version: 'test', mode: 'headless', dataDir, providers: ['cpu'], schemaVersion: 0 }),
  }));
  const call = <K extends CallName>(name: K, input: unknown) => dispatch(name, input) as Promise<CallOutput<K>>;
  return { store, events, call, dataDir, done: () => { store.close(); rmSync(dataDir, { recursive: true, force: true }); } };
}

test('metrics.names lists what a run logged; samples.trajectory returns tensors as plain numbers', async () => {
  const { store, call, done } = setup();
  const seeded = seedGroups(store, { groups: 1, groupSize: 2, trajectories: true });
  seedMetrics(store, seeded.runId, 5);
  const names = await call('metrics.names', { runId: seeded.runId });
  assert.ok(names.includes('reward/shapeeval') && names.includes('eval/shapeeval'), names.join());
  await assert.rejects(call('metrics.names', { runId: 99 }), /run 99 not found/);

  const [lm, dm] = await call('samples.trajectory', { sampleId: seeded.sampleIds[0]![0]! });
  assert.equal(lm!.kind, 'lm');
  assert.ok(Array.isArray(lm!.tensors.tokenIds!.data) && lm!.tensors.tokenIds!.data.every(Number.isInteger));
  assert.deepEqual(dm!.tensors.latents!.shape, [7, 3, 32, 32]);
  assert.equal(dm!.tensors.latents!.data.length, 7 * 3 * 32 * 32);
  // JSON round trip keeps it (a Float32Array would become an object of indices).
  assert.deepEqual(JSON.parse(JSON.stringify(lm)).tensors.logProbs.data, lm!.tensors.logProbs!.data);
  await assert.rejects(call('samples.trajectory', { sampleId: 12345 }), /sample 12345 not found/);
  done();
});

test('ranking.agreement reports groups with two or more rankings and the pooled numbers', async () => {
  const { store, call, done } = setup();
  const seeded = seedGroups(store, { groups: 3, groupSize: 4 });
  seedRankings(store, seeded, ['ann', 'bob'], 2);
  const report = await call('ranking.agreement', { runId: seeded.runId });
  assert.deepEqual(report.groups.map((g) => g.groupId).sort(), seeded.groupIds.slice(0, 2).sort());
  // bob swaps one neighbouring pair of ann's order: 5 of 6 sample pairs agree.
  assert.ok(Math.abs(report.groups[0]!.pairwise! - 5 / 6) < 1e-12);
  assert.ok(Math.abs(report.overall.pairwise! - 5 / 6) < 1e-12);
  assert.ok(report.overall.alpha! > 0.5 && report.overall.alpha! < 1);
  done();
});

test('reflections.mark stores a person\'s mark; a bad round is not found, a missing field is named', async () => {
  const { store, call, done } = setup();
  const cycles = seedReflections(store);
  await call('reflections.mark', { roundId: cycles.roundIds[1]!, annotator: 'ann', correct: false });
  const cycle = store.reflections.get(cycles.cycleIds[0]!);
  assert.deepEqual(cycle.rounds[1]!.marks.map((m) => [m.annotator, m.correct]), [['ann', false]]);
  await assert.rejects(call('reflections.mark', { roundId: 999, annotator: 'ann', correct: true }), /reflection round 999 not found/);
  await assert.rejects(call('reflections.mark', { roundId: 1, annotator: 'ann' }), /field "correct"/);
  done();
});

test('eval.start records the job\'s summary and per-image results under an evaluation row', async () => {
  const report = {
    suite: 'geneval', generator: 'oracle', tasks: [{ task: 'counting', accuracy: 0.5 }], overall: 0.5,
    records: [
      { task: 'counting', input: 'two red circles', sample: 0, correct: true, reward: 1, reason: 'ok' },
      { task: 'counting', input: 'two red circles', sample: 1, correct: false, reward: 0.5, reason: 'expected 2 red circle, found 1',
        image: { width: 2, height: 1, rgb: new Uint8Array(6).fill(200) } },
    ],
  };
  let finish!: (value: unknown) => void;
  const compute = { start: () => ({ id: 'job-1', kind: 'eval', result: new Promise((resolve) => (finish = resolve)), cancel() {} }) };
  const { store, events, call, done } = setup(compute as unknown as Partial<ComputeClient>);
  const finished = new Promise((resolve) => events.subscribe((name) => name === 'job.finished' && resolve(null)));
  const job = await call('eval.start', { suite: 'geneval', generator: 'oracle', limit: 2 });
  assert.equal((await call('evaluations.list', {}))[0]!.status, 'running');
  finish(report);
  await finished;
  const [evaluation] = await call('evaluations.list', {});
  assert.equal(evaluation!.id, job.evaluationId);
  assert.equal(evaluation!.status, 'completed');
  assert.equal(evaluation!.summary!.generator, 'oracle');
  assert.equal(evaluation!.summary!.overall, 0.5);
  const results = await call('evaluations.results', { evaluationId: evaluation!.id });
  assert.deepEqual(results.items.map((r) => [r.correct, r.reason, r.hasImage]), [[false, 'expected 2 red circle, found 1', true], [true, 'ok', false]]);
  assert.ok(store.evaluations.resultPng(results.items[0]!.id)!.length > 0);
  await assert.rejects(call('evaluations.results', { evaluationId: 77 }), /evaluation 77 not found/);
  done();
});

test('export.run writes under the data dir\'s exports/ and reports the folder', async () => {
  const { store, call, dataDir, done } = setup();
  const seeded = seedGroups(store, { groups: 1, groupSize: 2 });
  const manifest = await call('export.run', { runId: seeded.runId, format: 'rollouts' });
  assert.ok(manifest.dir.startsWith(join(dataDir, 'exports')), manifest.dir);
  assert.equal(readFileSync(join(manifest.dir, 'rollouts.jsonl'), 'utf8').trim().split('\n').length, 2);
  await assert.rejects(call('export.run', { runId: seeded.runId, format: 'parquet' }), /field "format"/);
  done();
});
