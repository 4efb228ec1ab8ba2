import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng, openStore } from '../../db/index.ts';
import { getPreset } from '../models/config.ts';
import { shapeWorldTokenizer } from '../models/data.ts';
import { UnifiedModel } from '../models/unified.ts';
import { resizeSquare, toUint8, type ImageRGB } from '../world/image.ts';
import { parsePrompt, sampleSceneForSpec } from '../world/prompts.ts';
import { renderScene } from '../world/render.ts';
import { Rng } from '../world/rng.ts';
import { PreferenceModel, preferenceReward } from './preference.ts';
import { scoreRewardBatch, type RewardItem } from './reward-batch.ts';
import { UnifiedPolicy } from './unified.ts';

function png(image: ImageRGB): Uint8Array {
  const rgb = toUint8(image);
  return encodePng(rgb.data, rgb.width, rgb.height);
}

function drawn(prompt: string, seed: number, size = 64): ImageRGB {
  return renderScene(sampleSceneForSpec(parsePrompt(prompt), new Rng(seed)), { width: size });
}

test('ShapeEval scores any size of image against the ground truth, or the parsed prompt without one', async () => {
  const store = openStore(':memory:');
  const spec = parsePrompt('two blue squares');
  const items: RewardItem[] = [
    { prompt: 'two blue squares', groundTruth: JSON.stringify(spec), png: png(drawn('two blue squares', 1, 96)) },
    { prompt: 'two blue squares', png: png(drawn('a red circle', 2, 48)) },
  ];
  const { scores, preferenceModel } = await scoreRewardBatch(store, { items });
  assert.deepEqual(
    scores.map((s) => s.correct),
    [true, false],
  );
  assert.equal(scores[0]!.shapeeval, 1);
  assert.ok(scores[1]!.shapeeval < 1);
  // No preference model and nobody ranked: the reward is ShapeEval's alone.
  assert.equal(preferenceModel, null);
  assert.deepEqual(
    scores.map((s) => [s.preference, s.human_rank, s.reward]),
    scores.map((s) => [null, null, s.shapeeval]),
  );
  store.close();
});

test('bad input names the item: not a PNG, a spec that is not one, a prompt outside the grammar', async () => {
  const store = openStore(':memory:');
  const good = png(drawn('a red circle', 1));
  await assert.rejects(
    scoreRewardBatch(store, {
      items: [
        { prompt: 'a red circle', png: good },
        { prompt: 'a red circle', png: new Uint8Array([1, 2, 3]) },
      ],
    }),
    /items\[1\]\.image: not a PNG/,
  );
  await assert.rejects(
    scoreRewardBatch(store, { items: [{ prompt: 'x', groundTruth: '{"task":"counting"}', png: good }] }),
    /items\[0\]\.ground_truth: ground_truth is not a ShapeEval spec/,
  );
  await assert.rejects(
    scoreRewardBatch(store, { items: [{ prompt: 'a photo of a cat', png: good }] }),
    /items\[0\]\.ground_truth: no ground_truth, and the prompt is not in the ShapeWorld grammar/,
  );
  store.close();
});

test('the human rank of an image people ranked is found by its pixels, and weighs into the reward', async () => {
  const store = openStore(':memory:');
  const run = store.runs.create({ name: 'imported', scenario: 't2i', config: {} });
  const prompt = store.prompts.ensure(run.id, { text: 'a green triangle', task: 'single_object' });
  const images = [1, 2, 3].map((seed) => toUint8(drawn('a green triangle', seed, 32)));
  const { groupId, sampleIds } = store.groups.insert({
    runId: run.id,
    step: 1,
    promptId: prompt.id,
    ranking: 'pending',
    samples: images.map((im, seed) => ({ seed, image: { width: im.width, height: im.height, rgb: im.data } })),
  });
  // ann: 2nd > 1st > 3rd; bob: 2nd > 3rd > 1st.
  store.rankings.submit({
    groupId,
    annotator: 'ann',
    durationMs: 1,
    ranks: [
      { sampleId: sampleIds[0]!, rank: 2 },
      { sampleId: sampleIds[1]!, rank: 1 },
      { sampleId: sampleIds[2]!, rank: 3 },
    ],
  });
  store.rankings.submit({
    groupId,
    annotator: 'bob',
    durationMs: 1,
    ranks: [
      { sampleId: sampleIds[0]!, rank: 3 },
      { sampleId: sampleIds[1]!, rank: 1 },
      { sampleId: sampleIds[2]!, rank: 2 },
    ],
  });

  const items = [
    ...images.map((im) => ({ prompt: 'a green triangle', png: png(im) })),
    { prompt: 'a green triangle', png: png(drawn('a green triangle', 9, 32)) },
  ];
  const { scores } = await scoreRewardBatch(store, { items, weights: { shapeeval: 0, human_rank: 2 } });
  assert.deepEqual(
    scores.map((s) => s.human_rank),
    [-0.5, 1, -0.5, null],
    'mean of the normalised ranks; an image nobody ranked has none',
  );
  assert.deepEqual(
    scores.map((s) => s.rankers),
    [2, 2, 2, 0],
  );
  assert.deepEqual(
    scores.map((s) => s.reward),
    [-1, 2, -1, 0],
  );
  store.close();
});

test("the preference model of a run scores the images through its checkpoint's vision encoder", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'unirl-reward-'));
  const store = openStore(':memory:');
  try {
    const config = getPreset('nano');
    const model = UnifiedModel.create(config, shapeWorldTokenizer(), { seed: 3 });
    const checkpoint = join(dir, 'step-1.safetensors');
    model.save(checkpoint);
    const width = config.lm.width;
    const weights = {
      inputSize: width,
      hidden: 0,
      featureMean: Array(width).fill(0),
      featureStd: Array(width).fill(1),
      w1: [],
      b1: [],
      v: Array.from({ length: width }, (_, i) => Math.sin(i + 1)),
    };
    const preferencePath = join(dir, 'preference-4.json');
    writeFileSync(preferencePath, JSON.stringify(weights));
    const run = store.runs.create({ name: 'with a preference model', scenario: 't2i', config: {} });
    store.checkpoints.add({ runId: run.id, step: 1, path: checkpoint });
    store.preferences.add({ runId: run.id, path: preferencePath, trainPairs: 4, heldoutPairs: 0, heldoutAccuracy: null });

    // Images of another size are resized to the model's before the encoder sees them.
    const images = [drawn('a red circle', 1, 64), drawn('three yellow squares', 2, 64)];
    const { scores, preferenceModel } = await scoreRewardBatch(store, {
      items: images.map((im) => ({ prompt: 'a red circle', png: png(im) })),
    });
    assert.deepEqual(preferenceModel, { runId: run.id, version: 1 });

    const features = await new UnifiedPolicy(model, 't2i').features(images.map((im) => resizeSquare(toUint8(im), config.imageSize)));
    const expected = features.map((f) => preferenceReward(new PreferenceModel(weights), f));
    scores.forEach((s, i) => assert.ok(Math.abs(s.preference! - expected[i]!) < 1e-4, `${s.preference} vs ${expected[i]}`));
    assert.notEqual(scores[0]!.preference!.toFixed(4), scores[1]!.preference!.toFixed(4), 'different images, different preference');
    assert.ok(Math.abs(scores[0]!.reward - (scores[0]!.shapeeval + scores[0]!.preference!)) < 1e-12);
    await model.dispose();

    // A newer checkpoint of the run replaces the encoder the worker keeps between batches.
    const newer = UnifiedModel.create(config, shapeWorldTokenizer(), { seed: 4 });
    newer.save(join(dir, 'step-2.safetensors'));
    store.checkpoints.add({ runId: run.id, step: 2, path: join(dir, 'step-2.safetensors') });
    const rescored = await scoreRewardBatch(store, { items: images.map((im) => ({ prompt: 'a red circle', png: png(im) })) });
    const newerFeatures = await new UnifiedPolicy(newer, 't2i').features(images.map((im) => resizeSquare(toUint8(im), config.imageSize)));
    rescored.scores.forEach((s, i) =>
      assert.ok(Math.abs(s.preference! - preferenceReward(new PreferenceModel(weights), newerFeatures[i]!)) < 1e-4),
    );
    assert.notEqual(rescored.scores[0]!.preference!.toFixed(4), scores[0]!.preference!.toFixed(4));
    await newer.dispose();
    await assert.rejects(
      scoreRewardBatch(store, { items: [{ prompt: 'a red circle', png: png(images[0]!) }], preferenceRunId: 99 }),
      /run 99 not found/,
    );
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
