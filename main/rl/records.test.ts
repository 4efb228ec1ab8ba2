// The stored form of hand-made edit and reflection samples (no model): which images are derived from the
// member, the edit and reflection rows the screens read, and the scores they carry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore, type Store } from '../../db/index.ts';
import { sampleEdit } from '../world/edits.ts';
import type { ImageRGB } from '../world/image.ts';
import { sampleReflection } from '../world/reflection.ts';
import { renderScene } from '../world/render.ts';
import { Rng } from '../world/rng.ts';
import type { DmTrajectory, SampleResult, TaskItem } from './policy.ts';
import { resolveTrainConfig } from './config.ts';
import { latentStorageOf, SEEDS_ONLY, type LatentStorage } from './records.ts';
import { edit as editScenario } from './scenarios/edit.ts';
import { reflect } from './scenarios/reflect.ts';
import type { ScenarioModule } from './scenarios/scenario.ts';
import { t2i } from './scenarios/t2i.ts';

/** A 2-step trajectory of a 2x2 image in 1x1 patches (what it holds does not matter here). */
const trajectory = (): DmTrajectory => ({
  latents: [new Float32Array(12), new Float32Array(12), new Float32Array(12)],
  means: [new Float32Array(12), new Float32Array(12)],
  grid: { size: 2, patch: 1 },
  seeds: { noise: 1, sde: 2 },
  logProbs: new Float32Array([-1, -2]),
  times: new Float64Array([1, 0.5, 0]),
  stds: new Float64Array([0.5, 0.5]),
  noiseLevel: 0.7,
});
const FULL: LatentStorage = { latents: true, means: false };
const lm = () => ({ tokenIds: new Int32Array([5, 6]), logProbs: new Float32Array([-0.5, -0.25]), temperature: 1 });

/** Stores `sample` as the only member of a group, then its derived images and record; returns the member id. */
function store(scenario: ScenarioModule, item: TaskItem, sample: SampleResult): { store: Store; memberId: number } {
  const s = openStore(':memory:');
  const run = s.runs.create({ name: 'records', scenario: 'edit', config: {} });
  const prompt = s.prompts.ensure(run.id, { text: item.text, task: item.task, spec: item.spec });
  const group = s.groups.insert({
    runId: run.id,
    step: 1,
    promptId: prompt.id,
    samples: [scenario.member(sample, { rewards: [], advantage: 0 }, FULL)],
  });
  scenario.recordDerived!(s, group.sampleIds[0]!, item, sample, FULL);
  return { store: s, memberId: group.sampleIds[0]! };
}

test('a perfect cycle edit is stored as source | instruction | edited | inverse | reconstruction with full scores', () => {
  const edit = sampleEdit(new Rng(4), 'move');
  const source = renderScene(edit.source);
  const item: TaskItem = { task: 'edit_move', text: edit.instruction, spec: null, target: { edit: { edit, source } }, image: source };
  const sample: SampleResult = {
    seed: 9,
    turns: [
      { kind: 'image', role: 'edit', image: renderScene(edit.target), dm: trajectory() },
      { kind: 'image', role: 'reverse', image: source, dm: trajectory() },
    ],
  };
  const { store: s, memberId } = store(editScenario, item, sample);
  try {
    const [record] = s.edits.forGroup(s.samples.get(memberId).groupId);
    assert.deepEqual(
      { ...record!, id: 0 },
      {
        id: 0,
        editedSampleId: memberId,
        sourceSampleId: null,
        hasSourceImage: true,
        instruction: edit.instruction,
        inverseInstruction: edit.inverse,
        reconstructionSampleId: s.samples.derived(memberId)[0]!.id,
        compliance: 1,
        preservation: record!.preservation,
        cycleScore: 1,
        marks: [],
      },
    );
    assert.ok(record!.preservation! > 0.95, `preservation ${record!.preservation}`);
    assert.deepEqual(
      s.samples.trajectories(memberId).map((t) => [t.label, t.tensors.latents!.shape]),
      [['forward', [3, 4, 3]]],
    );
    assert.equal(s.samples.derived(memberId)[0]!.text, edit.inverse);
    assert.equal(editScenario.rewardSample(sample).reconstruction, source, 'the cycle reward sees the reconstruction');
  } finally {
    s.close();
  }
});

test('a reflection cycle: wrong image, right critique, refinement, then a "correct" verdict ends it', () => {
  const example = sampleReflection(new Rng(2), 'shape');
  const wrong = renderScene(example.wrongScene);
  const right = renderScene(example.rightScene);
  const item: TaskItem = { task: 'single_object', text: example.prompt, spec: null, target: { spec: example.spec } };
  const critiques = [
    `${example.critique} </think> <answer> ${example.fix} </answer>`,
    'The image matches the prompt. </think> <answer> none </answer>',
  ];
  const sample: SampleResult = {
    seed: 3,
    turns: [
      { kind: 'image', role: 'image', image: wrong, dm: trajectory() },
      { kind: 'text', role: 'critique', text: critiques[0]!, lm: lm(), verdict: 'wrong', fix: example.fix },
      { kind: 'image', role: 'refine', image: right, dm: trajectory() },
      { kind: 'text', role: 'critique', text: critiques[1]!, lm: lm(), verdict: 'correct', fix: '' },
    ],
  };
  const { store: s, memberId } = store(reflect, item, sample);
  try {
    const cycle = s.reflections.forSample(memberId)!;
    const [refined] = s.samples.derived(memberId);
    assert.deepEqual(
      cycle.rounds.map((r) => [r.judgedSampleId, r.refinedSampleId, r.verdict, r.scorerVerdict, r.reward]),
      [
        [memberId, refined!.id, 'wrong', 'wrong', 1],
        [refined!.id, null, 'correct', 'correct', 1],
      ],
    );
    assert.equal(cycle.rounds[0]!.critique, critiques[0]);
    assert.deepEqual(
      s.samples.trajectories(memberId).map((t) => `${t.kind}:${t.label}`),
      ['dm:generate', 'lm:critique1'],
    );
    assert.deepEqual(
      s.samples.trajectories(refined!.id).map((t) => `${t.kind}:${t.label}`),
      ['dm:refine1', 'lm:critique2'],
    );
    assert.equal(s.samples.get(memberId).text, critiques[0]);
    const seen = reflect.rewardSample(sample);
    assert.equal(seen.image, right, 'ShapeEval scores the final image');
    assert.deepEqual(
      seen.reflection!.judged.map((j: { image: ImageRGB }) => j.image),
      [wrong, right],
    );
  } finally {
    s.close();
  }
});

test('the storage policy keeps latents for ranked and sampled groups only (compactly), seeds for every trajectory', () => {
  const cfg = resolveTrainConfig('t2i');
  assert.deepEqual([cfg.storage.trajectories, cfg.storage.sampledFraction, cfg.storage.encoding], ['viewed', 0.02, 'q8']);
  assert.deepEqual(latentStorageOf(cfg, { step: 1, index: 0, ranked: true }), { latents: true, means: false, compact: 'q8' });
  const kept = Array.from(
    { length: 5000 },
    (_, i) => latentStorageOf(cfg, { step: 1 + (i >> 2), index: i & 3, ranked: false }).latents,
  ).filter(Boolean).length;
  assert.ok(kept > 60 && kept < 140, `${kept} of 5000 groups sampled at 2%`);
  assert.deepEqual(
    latentStorageOf(resolveTrainConfig('t2i', { storage: { trajectories: 'all', encoding: 'float32' } }), {
      step: 1,
      index: 0,
      ranked: false,
    }),
    { latents: true, means: true },
  );
  assert.equal(
    latentStorageOf(resolveTrainConfig('t2i', { rollout: { storeLatents: false } }), { step: 1, index: 0, ranked: true }).latents,
    false,
  );
  const image = { width: 2, height: 2, data: new Float32Array(12) };
  const stored = t2i.member(
    { seed: 1, turns: [{ kind: 'image', role: 'image', image, dm: trajectory() }] },
    { rewards: [], advantage: 0 },
    SEEDS_ONLY,
  ).trajectories![0]!;
  assert.deepEqual(Object.keys(stored.tensors).sort(), ['logProbs', 'steps', 'times']);
  assert.deepEqual(stored.seeds, { noise: 1, sde: 2 });
});
