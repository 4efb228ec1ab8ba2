// The calls added for the screens (issue 8), through the validated dispatch over an in-memory store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DEFAULT_SETTINGS } from '../settings.ts';
import type { JsonObject } from '../../contract/domain.ts';
import { exportDownloadPath } from '../../contract/media.ts';
import type { Store } from '../../db/index.ts';
import type { ComputeClient } from '../compute/client.ts';
import { saveCheckpoint } from '../engine/checkpoint/checkpoint.ts';
import { readParquetFile } from '../export/read-parquet.ts';
import { getPreset } from '../models/config.ts';
import { shapeWorldTokenizer } from '../models/data.ts';
import { UnifiedModel } from '../models/unified.ts';
import { UnifiedPolicy } from '../rl/unified.ts';
import { seedGroups, seedMetrics, seedRankings, seedReflections } from '../../tests/browser/fixtures.ts';
import { setupHandlers } from './test-fixtures.ts';

const setup = setupHandlers;

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
  assert.deepEqual(dm!.tensors.latents!.shape, [7, 64, 48]);
  assert.equal(dm!.tensors.latents!.data.length, 7 * 64 * 48);
  // JSON round trip keeps it (a Float32Array would become an object of indices).
  assert.deepEqual(JSON.parse(JSON.stringify(lm)).tensors.logProbs.data, lm!.tensors.logProbs!.data);
  await assert.rejects(call('samples.trajectory', { sampleId: 12345 }), /sample 12345 not found/);
  done();
});

/** A cot run's sample whose LM trajectory is `text` tokenized (what a rollout stores). */
function lmSample(store: Store, text: string, config: JsonObject = {}): { runId: number; sampleId: number; ids: number[] } {
  const ids = shapeWorldTokenizer().encode(text);
  const runId = store.runs.create({ name: 'cot run', scenario: 'cot', config }).id;
  const prompt = store.prompts.ensure(runId, { text: 'how many circles?', task: 'counting' });
  const { sampleIds } = store.groups.insert({
    runId,
    step: 1,
    promptId: prompt.id,
    samples: [
      {
        seed: 1,
        text,
        trajectories: [
          {
            kind: 'lm',
            label: 'round1',
            tensors: {
              tokenIds: { dtype: 'int32', shape: [ids.length], data: Int32Array.from(ids) },
              logProbs: { dtype: 'float32', shape: [ids.length], data: new Float32Array(ids.length).fill(-0.5) },
            },
          },
        ],
      },
    ],
  });
  return { runId, sampleId: sampleIds[0]!, ids };
}

test(
  'samples.trajectory decodes LM token ids with the tokenizer of ' + "the run's checkpoint; without one the ids stay, with a note",
  async () => {
    const { store, call, dataDir, done } = setup();
    const text = '<think> there are two red circles. </think> <answer> two </answer>';
    const words = ['<think>', 'there', 'are', 'two', 'red', 'circles', '.', '</think>', '<answer>', 'two', '</answer>'];
    // The starting weights: a nano checkpoint as `unirl pretrain` writes it, named by the run's config.
    const model = UnifiedModel.create(getPreset('nano'), shapeWorldTokenizer(), { threads: 1 });
    const starting = join(dataDir, 'nano.safetensors');
    model.save(starting);
    const run = lmSample(store, text, { model: { preset: 'nano', checkpoint: starting } });
    const [lm] = await call('samples.trajectory', { sampleId: run.sampleId });
    assert.deepEqual(lm!.tensors.tokenIds!.data, run.ids);
    assert.deepEqual(lm!.tokens, words);
    assert.equal(lm!.tokensNote, undefined);

    // The run's own checkpoint (the trainer's format) answers first; the header alone is enough, so a file
    // whose weights are cut short still gives words.
    const policy = new UnifiedPolicy(model, 'cot');
    const own = join(dataDir, 'step-000001.safetensors');
    saveCheckpoint(own, policy.params, { metadata: { ...policy.checkpointMetadata(), step: '1' } });
    store.checkpoints.add({ runId: run.runId, step: 1, path: own });
    rmSync(starting);
    const bytes = readFileSync(own);
    writeFileSync(own, bytes.subarray(0, 8 + Number(bytes.readBigUInt64LE(0)) + 16));
    assert.deepEqual((await call('samples.trajectory', { sampleId: run.sampleId }))[0]!.tokens, words);

    // Every checkpoint deleted: ids only, and why.
    rmSync(own);
    const [gone] = await call('samples.trajectory', { sampleId: run.sampleId });
    assert.equal(gone!.tokens, undefined);
    assert.match(gone!.tokensNote!, /checkpoint .*step-000001\.safetensors is gone/);
    assert.deepEqual(gone!.tensors.tokenIds!.data, run.ids);

    // Unreadable (not safetensors), no checkpoint at all, ids outside the vocabulary: notes, never a throw.
    writeFileSync(own, 'not a checkpoint');
    assert.match((await call('samples.trajectory', { sampleId: run.sampleId }))[0]!.tokensNote!, /unreadable checkpoint: .*step-000001/);
    const bare = lmSample(store, text);
    assert.equal((await call('samples.trajectory', { sampleId: bare.sampleId }))[0]!.tokensNote, 'no checkpoint of this run yet');
    model.save(own);
    const outside = store.groups.insert({
      runId: run.runId,
      step: 2,
      promptId: store.prompts.ensure(run.runId, { text: 'p', task: 'counting' }).id,
      samples: [
        {
          seed: 2,
          trajectories: [{ kind: 'lm', tensors: { tokenIds: { dtype: 'int32', shape: [2], data: Int32Array.from([5, 9999]) } } }],
        },
      ],
    });
    const [far] = await call('samples.trajectory', { sampleId: outside.sampleIds[0]! });
    assert.equal(far!.tokens, undefined);
    assert.match(far!.tokensNote!, /id 9999 is outside the vocabulary/);
    await model.dispose();
    done();
  },
);

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

test("ranking.agreement has Krippendorff's alpha and pairwise agreement for every two annotators", async () => {
  const { store, call, done } = setup();
  const seeded = seedGroups(store, { groups: 2, groupSize: 4 });
  seedRankings(store, seeded, ['ann', 'bob', 'cy'], 2);
  const { pairs } = await call('ranking.agreement', { runId: seeded.runId });
  // bob swaps ann's 2nd and 3rd, cy her 3rd and 4th: each agrees with ann on 5 of 6 pairs, with each other on 4.
  assert.deepEqual(
    pairs.map((p) => [p.a, p.b, p.groups, Math.round(p.pairwise! * 6)]),
    [
      ['ann', 'bob', 2, 5],
      ['ann', 'cy', 2, 5],
      ['bob', 'cy', 2, 4],
    ],
  );
  assert.ok(pairs[2]!.alpha! < pairs[0]!.alpha!, 'the pair that agrees less has the lower alpha');
  done();
});

test("reflections.mark stores a person's mark; a bad round is not found, a missing field is named", async () => {
  const { store, call, done } = setup();
  const cycles = seedReflections(store);
  await call('reflections.mark', { roundId: cycles.roundIds[1]!, annotator: 'ann', correct: false });
  const cycle = store.reflections.get(cycles.cycleIds[0]!);
  assert.deepEqual(
    cycle.rounds[1]!.marks.map((m) => [m.annotator, m.correct]),
    [['ann', false]],
  );
  await assert.rejects(call('reflections.mark', { roundId: 999, annotator: 'ann', correct: true }), /reflection round 999 not found/);
  await assert.rejects(call('reflections.mark', { roundId: 1, annotator: 'ann' }), /field "correct"/);
  done();
});

test("Settings' provider and threads reach new runs and evaluations; a run's own runtime wins", async () => {
  const started: unknown[] = [];
  const compute = {
    start: (_kind: string, params: unknown) => {
      started.push(params);
      return { id: 'job-1', kind: 'eval', result: new Promise(() => {}), cancel() {} };
    },
  };
  const { call, done } = setup(compute as unknown as Partial<ComputeClient>, { ...DEFAULT_SETTINGS, provider: 'webgpu', threads: 1 });
  const run = await call('runs.create', { name: 'r', scenario: 't2i', model: 'nano' });
  assert.deepEqual((run.config as { runtime: JsonObject }).runtime, { provider: 'webgpu', threads: 1, samplesPerPass: 8 });
  const own = await call('runs.create', { name: 'own', scenario: 't2i', config: { runtime: { threads: 4 } } });
  assert.deepEqual((own.config as { runtime: JsonObject }).runtime, { provider: 'webgpu', threads: 4, samplesPerPass: 8 });
  await call('eval.start', { suite: 'geneval', generator: 'model', limit: 1 });
  assert.deepEqual(started[0], { suite: 'geneval', generator: 'model', limit: 1, checkpoint: undefined, provider: 'webgpu', threads: 1 });
  done();
});

test("edits.mark stores a person's mark, one per annotator, and their mean is the editMark reward", async () => {
  const { store, call, done } = setup();
  const runId = store.runs.create({ name: 'edit run', scenario: 'edit', config: {} }).id;
  const prompt = store.prompts.ensure(runId, { text: 'make it blue', task: 'edit' });
  const { sampleIds } = store.groups.insert({ runId, step: 1, promptId: prompt.id, samples: [{ seed: 1 }, { seed: 2 }] });
  const edit = store.edits.insert({
    editedSampleId: sampleIds[0]!,
    sourceSampleId: sampleIds[1]!,
    instruction: 'make it blue',
    inverseInstruction: 'make it red',
  });
  await call('edits.mark', { editId: edit.id, annotator: 'ann', followed: false });
  await call('edits.mark', { editId: edit.id, annotator: 'bob', followed: true });
  assert.deepEqual(
    store.edits.get(edit.id).marks.map((m) => [m.annotator, m.followed]),
    [
      ['ann', false],
      ['bob', true],
    ],
  );
  assert.deepEqual(store.edits.markMeans(1), new Map([[sampleIds[0]!, 0]]));
  await assert.rejects(call('edits.mark', { editId: 99, annotator: 'ann', followed: true }), /edit 99 not found/);
  done();
});

test("eval.start records the job's summary and per-image results under an evaluation row", async () => {
  const report = {
    suite: 'geneval',
    generator: 'oracle',
    tasks: [{ task: 'counting', accuracy: 0.5 }],
    overall: 0.5,
    records: [
      { task: 'counting', input: 'two red circles', sample: 0, correct: true, reward: 1, reason: 'ok' },
      {
        task: 'counting',
        input: 'two red circles',
        sample: 1,
        correct: false,
        reward: 0.5,
        reason: 'expected 2 red circle, found 1',
        image: { width: 2, height: 1, rgb: new Uint8Array(6).fill(200) },
      },
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
  assert.deepEqual(
    results.items.map((r) => [r.correct, r.reason, r.hasImage]),
    [
      [false, 'expected 2 red circle, found 1', true],
      [true, 'ok', false],
    ],
  );
  assert.ok(store.evaluations.resultPng(results.items[0]!.id)!.length > 0);
  await assert.rejects(call('evaluations.results', { evaluationId: 77 }), /evaluation 77 not found/);
  done();
});

test("export.run writes under the data dir's exports/ and reports the folder", async () => {
  const { store, call, dataDir, done } = setup();
  const seeded = seedGroups(store, { groups: 1, groupSize: 2 });
  const manifest = await call('export.run', { runId: seeded.runId, format: 'rollouts' });
  assert.ok(manifest.dir.startsWith(join(dataDir, 'exports')), manifest.dir);
  assert.equal(readParquetFile(join(manifest.dir, 'rollouts.parquet')).rows.length, 2);
  // Headless: a browser downloads the folder as a zip from the path the manifest names.
  assert.equal(manifest.download, exportDownloadPath(basename(manifest.dir)));
  await assert.rejects(call('export.run', { runId: seeded.runId, format: 'parquet' }), /field "format"/);
  done();
});
