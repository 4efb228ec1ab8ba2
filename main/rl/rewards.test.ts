import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sampleEdit } from '../world/edits.ts';
import { score } from '../world/evaluate.ts';
import { sampleReflection } from '../world/reflection.ts';
import { samplePrompt, sampleSceneForSpec } from '../world/prompts.ts';
import { renderScene } from '../world/render.ts';
import { Rng } from '../world/rng.ts';
import { resolveTrainConfig, rewardWeights } from './config.ts';
import { PreferenceModel } from './preference.ts';
import { extractAnswer } from '../world/vague.ts';
import { computeRewards, totalReward, type RewardComponentDef } from './rewards.ts';

const blank = (size = 32) => ({ width: size, height: size, data: new Float32Array(size * size * 3).fill(0.9) });

test('shapeEval: a render of the prompt scores 1, a blank image scores less; components carry their weight', () => {
  const rng = new Rng(5);
  const prompt = samplePrompt('counting', rng);
  const right = renderScene(sampleSceneForSpec(prompt.spec, rng));
  const [good, empty] = computeRewards([{ image: right }, { image: blank() }], { spec: prompt.spec }, { shapeEval: 2 });
  assert.deepEqual(good, [{ name: 'shapeEval', value: 1, weight: 2 }]);
  assert.ok(empty![0]!.value < 0.5, `blank image reward ${empty![0]!.value}`);
  assert.equal(totalReward(good), 2);
});

test('format and answer rewards read the tags', () => {
  // Completions as the model writes them after a prompt ending in <think> (or <answer>), and whole transcripts.
  const texts = [
    'a shape with three corners is a triangle . </think> <answer> a red triangle </answer> <eos>',
    '<think> a shape with three corners is a triangle . </think> <answer> a red triangle </answer>',
    'yes </answer> <eos>',
    '</think> <answer> yes </answer>',
    'a shape with three corners </think> <answer> </answer>',
    'a red triangle',
  ];
  const rewards = computeRewards(
    texts.map((text) => ({ text })),
    { format: 'reasoned' },
    { format: 1 },
  );
  assert.deepEqual(
    rewards.map((r) => r[0]!.value),
    [1, 1, 0, 0, 0, 0],
  );
  assert.deepEqual(
    computeRewards(
      texts.map((text) => ({ text })),
      { format: 'answer' },
      { format: 1 },
    ).map((r) => r[0]!.value),
    [0, 0, 1, 0, 0, 0],
  );
  assert.equal(extractAnswer('x </think> <answer> Three. </answer> <eos>'), 'Three.');
  assert.equal(extractAnswer('yes </answer> <eos>'), 'yes');
  assert.equal(extractAnswer('so it is red </think> red square'), 'red square');
  const answers = computeRewards(
    ['three </answer>', 'x </think> <answer> 3 </answer>', '<answer> two </answer>', 'three objects'].map((text) => ({ text })),
    { answer: 'three' },
    { answer: 1, format: 0 },
  );
  assert.deepEqual(
    answers.map((r) => r[0]!.value),
    [1, 1, 0, 1],
  );
  const checked = computeRewards(
    [{ text: 'x </think> <answer> a red square </answer>' }, { text: 'a blue one </answer>' }],
    { answerCheck: (a) => a.includes('red') },
    { answer: 1 },
  );
  assert.deepEqual(
    checked.map((r) => r[0]!.value),
    [1, 0],
  );
});

test('human rank and preference rewards are left out until they exist', () => {
  const samples = [
    { sampleId: 1, features: [1, 0] },
    { sampleId: 2, features: [0, 1] },
  ];
  const weights = { humanRank: 0.5, preference: 0.25 };
  assert.deepEqual(computeRewards(samples, {}, weights), [[], []]);
  const preference = new PreferenceModel({ inputSize: 2, hidden: 0, featureMean: [0, 0], featureStd: [1, 1], w1: [], b1: [], v: [2, -1] });
  const r = computeRewards(samples, {}, weights, { humanRanks: new Map([[1, -1]]), preference });
  assert.deepEqual(r, [
    [
      { name: 'humanRank', value: -1, weight: 0.5 },
      { name: 'preference', value: 2 / (1 + Math.exp(-2)) - 1, weight: 0.25 },
    ],
    [{ name: 'preference', value: 2 / (1 + Math.exp(1)) - 1, weight: 0.25 }],
  ]);
});

test('edit rewards: the target render complies and preserves; the source image does not comply; cycle compares to the source', () => {
  const edit = sampleEdit(new Rng(3), 'recolor');
  const source = renderScene(edit.source);
  const target = renderScene(edit.target);
  const [perfect, unchanged] = computeRewards(
    [
      { image: target, reconstruction: source },
      { image: source, reconstruction: blank() },
    ],
    { edit: { edit, source } },
    { editCompliance: 4, editPreservation: 1, cycle: 1 },
  );
  const value = (r: typeof perfect, name: string) => r!.find((c) => c.name === name)!.value;
  assert.equal(value(perfect, 'editCompliance'), 1);
  assert.ok(value(perfect, 'editPreservation') > 0.95);
  assert.equal(value(perfect, 'cycle'), 1);
  assert.ok(value(unchanged, 'editCompliance') < 1);
  assert.ok(value(unchanged, 'cycle') < 1);
});

test('cycle edit reward with the preset weights: a perfect edit earns 4 + 2 + 1, wrong edits less; the cycle flag drops its term', () => {
  const weights = rewardWeights(resolveTrainConfig('edit'));
  const edit = sampleEdit(new Rng(21), 'recolor');
  const source = renderScene(edit.source);
  const target = renderScene(edit.target);
  const otherColour = renderScene({
    ...edit.target,
    objects: edit.target.objects.map((o, i) => (i === edit.targetIndex ? { ...o, color: o.color === 'red' ? 'green' : 'red' } : o)),
  });
  const totals = computeRewards(
    [
      { image: target, reconstruction: source }, // perfect edit, perfect way back
      { image: target, reconstruction: target }, // perfect edit, but the inverse did nothing
      { image: source, reconstruction: source }, // no edit at all
      { image: otherColour, reconstruction: source }, // recoloured, but to the wrong colour
    ],
    { edit: { edit, source } },
    weights,
  ).map(totalReward);
  assert.equal(totals[0], 7);
  assert.ok(totals[1]! < 7 && totals[1]! >= 6, `no way back: ${totals[1]}`);
  // A wrong colour leaves the target object missing and an unexpected one: compliance (n-1)/(n+1) <= 1/2 for n <= 3 objects.
  // Preservation cannot save a wrong edit: at most 4 x 1/2 + 2 + 1.
  for (const wrong of [totals[2]!, totals[3]!]) assert.ok(wrong <= 4 * 0.5 + 2 + 1 + 1e-9, `wrong edit total ${wrong}`);
  const off = rewardWeights(resolveTrainConfig('edit', { edit: { cycle: false } }));
  assert.deepEqual(
    computeRewards([{ image: target }], { edit: { edit, source } }, off)[0]!.map((r) => r.name),
    ['editCompliance', 'editPreservation'],
  );
});

test('reflection rewards: final ShapeEval, improvement over the first image, critique verdicts against the scorer', () => {
  const example = sampleReflection(new Rng(8), 'color');
  const wrong = renderScene(example.wrongScene);
  const right = renderScene(example.rightScene);
  const weights = rewardWeights(resolveTrainConfig('reflect'));
  const target = { spec: example.spec };
  const value = (r: ReturnType<typeof computeRewards>[number], name: string) => r.find((c) => c.name === name)!.value;
  const [corrected, missed, falseAlarm] = computeRewards(
    [
      // Right critique ("wrong") of the wrong first image, refined into a right one, then judged right.
      {
        image: right,
        reflection: {
          firstImage: wrong,
          judged: [
            { image: wrong, verdict: 'wrong' },
            { image: right, verdict: 'correct' },
          ],
        },
      },
      // Wrong critique: calls the wrong image right, so the cycle ends on it.
      { image: wrong, reflection: { firstImage: wrong, judged: [{ image: wrong, verdict: 'correct' }] } },
      // Wrong critique of a right image, whose refinement broke it.
      { image: wrong, reflection: { firstImage: right, judged: [{ image: right, verdict: 'wrong' }] } },
    ],
    target,
    weights,
  );
  const wrongReward = score(wrong, example.spec).reward;
  assert.ok(wrongReward < 1);
  assert.deepEqual(
    [value(corrected!, 'shapeEval'), value(corrected!, 'improvement'), value(corrected!, 'critique')],
    [1, 1 - wrongReward, 1],
  );
  assert.deepEqual([value(missed!, 'shapeEval'), value(missed!, 'improvement'), value(missed!, 'critique')], [wrongReward, 0, 0]);
  assert.deepEqual([value(falseAlarm!, 'improvement'), value(falseAlarm!, 'critique')], [wrongReward - 1, 0]);
  assert.ok(totalReward(corrected!) > totalReward(missed!) && totalReward(missed!) > totalReward(falseAlarm!));
});

test('custom components plug in; bad inputs are named', () => {
  const length: RewardComponentDef = { name: 'length', score: (s) => (s.text ?? '').length / 10 };
  assert.deepEqual(computeRewards([{ text: 'abcde' }], {}, { length: 1 }, {}, [length]), [[{ name: 'length', value: 0.5, weight: 1 }]]);
  assert.throws(() => computeRewards([{}], {}, { nonsense: 1 }), /reward 'nonsense' has a weight but no component computes it/);
  assert.throws(
    () => computeRewards([{ image: blank() }], { spec: samplePrompt('colors', new Rng(1)).spec }, { critique: 1 }),
    /reward 'critique' needs a reflection cycle/,
  );
  assert.throws(() => computeRewards([{ text: 'x' }], {}, { shapeEval: 1 }), /reward 'shapeEval' needs an image/);
  assert.throws(() => computeRewards([{ text: 'x' }], {}, { answer: 1 }), /reward 'answer' needs an expected answer/);
});
