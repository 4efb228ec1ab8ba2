// Host-side pieces of the model, checked against hand-computed values: tokenizer, packing, patches, the
// flow samplers' maths, formats.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../engine/runtime/rng.ts';
import { getPreset, layoutOf } from './config.ts';
import { captionOf } from './data.ts';
import {
  flowPair,
  gaussianLogProb,
  sampleOde,
  sampleSde,
  sdeMean,
  sdeSigma,
  sdeStd,
  timeGrid,
  trainableSteps,
  windowStart,
} from './flow.ts';
import { formats, parseCompletion } from './formats.ts';
import { imagesToPatches, patchesToImages } from './patches.ts';
import { MASKED, nextTokenTargets, packSequences } from './sequence.ts';
import { SPECIAL_TOKENS, WordTokenizer } from './tokenizer.ts';

const tokenizer = WordTokenizer.fromCorpus(['a red circle above two blue squares', 'is there a circle ? yes no']);

test('the tokenizer encodes words and punctuation, maps unknown words to <unk>, and round-trips', () => {
  const ids = tokenizer.encode('<bos> Is there a red circle? <answer> yes </answer>');
  assert.equal(ids[0], tokenizer.specials['<bos>']);
  assert.equal(tokenizer.decode(ids), '<bos> is there a red circle? <answer> yes </answer>');
  assert.equal(tokenizer.encode('a purple hexagon')[1], tokenizer.specials['<unk>']);
  assert.equal(tokenizer.decode(ids, { skipSpecial: true }), 'is there a red circle? yes');
  const copy = WordTokenizer.fromJSON(JSON.parse(JSON.stringify(tokenizer.toJSON())));
  assert.deepEqual(copy.encode('two blue squares'), tokenizer.encode('two blue squares'));
  assert.throws(() => new WordTokenizer(['<bos>', ...SPECIAL_TOKENS.slice(1)]), /vocab\[0\] must be the special token '<pad>'/);
  assert.throws(() => tokenizer.decode([tokenizer.vocabSize]), /outside the vocabulary/);
});

test('packing: image slots, right padding, positions over real tokens, causal bias, queries last', () => {
  const config = getPreset('nano');
  const { imageTokens: P } = layoutOf(config);
  const Q = config.queries;
  const image = new Float32Array(config.imageSize ** 2 * 3).fill(1);
  const packed = packSequences(
    config,
    tokenizer,
    [
      { text: [1, 20, 21], querySet: 'generate', image },
      { text: [1, 22], querySet: 'edit' },
    ],
    { withQueries: true },
  );
  const L = 3;
  const T = P + L + Q;
  assert.equal(packed.length, T);
  assert.deepEqual([...packed.editFlag], [0, 1]);
  assert.equal(packed.textIds[L + 2], BigInt(tokenizer.specials['<pad>']));
  // Row 0 has an image: positions 0..T-1 in order. Row 1 has none and one pad: text at 0,1, queries at 2...
  assert.equal(packed.positions[T - 1], BigInt(T - 1));
  assert.equal(packed.positions[T + P], 0n);
  assert.equal(packed.positions[T + P + 1], 1n);
  assert.equal(packed.positions[T + P + L], 2n);
  const bias = (b: number, i: number, j: number) => packed.bias[(b * T + i) * T + j]!;
  assert.equal(bias(0, P + 1, P), 0); // text attends to earlier text
  assert.equal(bias(0, P, P + 1), MASKED); // but not to later text
  assert.equal(bias(0, P, 0), 0); // to the image
  assert.equal(bias(1, P, 0), MASKED); // a row without image does not see image slots
  assert.equal(bias(1, P + L, P + 2), MASKED); // queries do not see padding
  assert.equal(bias(1, P + L, P + 1), 0);
  // Vision patches: the image row is all (1·2 - 1) = 1, the image-less row all zeros.
  const per = P * layoutOf(config).visionPatchDim;
  assert.ok(packed.visionPatches.subarray(0, per).every((v) => v === 1));
  assert.ok(packed.visionPatches.subarray(per).every((v) => v === 0));
  assert.throws(() => packSequences(config, tokenizer, [{ text: [1, 9999] }], { withQueries: false }), /outside the vocabulary/);
});

test('next-token targets put weight 1/count on the token after each scored position', () => {
  const config = getPreset('nano');
  const texts = [
    [1, 20, 21, 2],
    [1, 22],
  ];
  const packed = packSequences(
    config,
    tokenizer,
    texts.map((text) => ({ text })),
    { withQueries: false },
  );
  const V = tokenizer.vocabSize;
  const { targets, count } = nextTokenTargets(packed, texts, [2, 1], V);
  assert.equal(count, 3); // tokens 21 and 2 of row 0, token 22 of row 1
  const third = Math.fround(1 / 3);
  assert.equal(targets[(0 * 4 + 1) * V + 21], third); // slot 1 predicts text[2]
  assert.equal(targets[(0 * 4 + 2) * V + 2], third);
  assert.equal(targets[(1 * 4 + 0) * V + 22], third);
  assert.ok(Math.abs(targets.reduce((a, b) => a + b, 0) - 1) < 1e-6);
});

test('patches round-trip images and use [-1, 1]', () => {
  const rng = new Rng(1);
  const images = new Float32Array(2 * 8 * 8 * 3).map(() => rng.uniform());
  const patches = imagesToPatches(images, 2, 8, 4);
  // First patch row = first image row's first 4 pixels.
  assert.ok(Math.abs(patches[0]! - (images[0]! * 2 - 1)) < 1e-6);
  assert.ok(Math.abs(patches[12]! - (images[8 * 3]! * 2 - 1)) < 1e-6); // second row of the first patch
  const back = patchesToImages(patches, 2, 8, 4);
  for (let i = 0; i < images.length; i++) assert.ok(Math.abs(back[i]! - images[i]!) < 1e-6);
  assert.throws(() => imagesToPatches(images, 2, 8, 3), /not divisible/);
});

test('flow maths: time grid, sigma at t = 1, step mean and Gaussian log-prob by hand', () => {
  assert.deepEqual([...timeGrid(4)], [1, 0.75, 0.5, 0.25, 0]);
  const shifted = timeGrid(2, 3);
  assert.ok(Math.abs(shifted[1]! - 0.75) < 1e-12); // 3·0.5 / (1 + 2·0.5)
  assert.ok(Math.abs(sdeSigma(1, 0.9, 0.7) - 0.7 * Math.sqrt(1 / 0.1)) < 1e-12);
  assert.ok(Math.abs(sdeSigma(0.5, 0.4, 0.7) - 0.7) < 1e-12);
  // mu = x + [v + sigma²/(2t)(x + (1-t)v)]·dt with x = 1, v = 2, t = 0.5, dt = -0.1, sigma = 0.7.
  const mean = sdeMean(new Float32Array([1]), new Float32Array([2]), 0.5, 0.4, 0.7);
  assert.ok(Math.abs(mean[0]! - (1 + (2 + (0.49 / 1) * (1 + 0.5 * 2)) * -0.1)) < 1e-6);
  const lp = gaussianLogProb(new Float32Array([1, 3, 0, 0]), new Float32Array([0, 3, 0, 2]), 2, 2);
  const expected = (z2: number) => -0.5 * z2 - Math.log(2) - 0.5 * Math.log(2 * Math.PI);
  assert.ok(Math.abs(lp[0]! - (expected(0.25) + expected(0)) / 2) < 1e-6);
  assert.ok(Math.abs(lp[1]! - (expected(0) + expected(1)) / 2) < 1e-6);
});

test('samplers: the ODE follows an exact straight flow to its target; the SDE records one log-prob per step', async () => {
  // The ideal velocity towards a fixed x0 is (x - x0) / t; Euler integrates the straight path exactly.
  const x0 = new Float32Array([0.5, -0.25, 0.75]);
  const velocity = async (x: Float32Array, t: number) => x.map((v, i) => (v - x0[i % 3]!) / t);
  const out = await sampleOde(velocity, new Float32Array([1, 2, -1]), 5);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(out[i]! - x0[i]!) < 1e-5);
  const sde = await sampleSde(velocity, new Float32Array([1, 2, -1, 0, 0, 0]), 2, { steps: 5, rng: new Rng(3) });
  assert.equal(sde.latents.length, 6);
  assert.equal(sde.logProbs.length, 5);
  assert.ok(sde.logProbs.every((lp) => lp.length === 2 && lp.every(Number.isFinite)));
  // Each recorded log-prob is the density of the drawn latent under the recorded mean and std.
  const k = 2;
  assert.deepEqual(gaussianLogProb(sde.latents[k + 1]!, sde.means[k]!, sde.stds[k]!, 2), sde.logProbs[k]);
});

test("windowed SDE: the noise only inside the window, the ODE step outside; no window is today's sampler exactly", async () => {
  // A velocity that is not a straight flow, so ODE and SDE states differ visibly.
  const velocity = async (x: Float32Array, t: number) => x.map((v, i) => Math.sin(v + i) * (1 + t));
  const noise = new Float32Array([1, 2, -1, 0.5, -0.3, 0.8]);
  const rngs = (seed: number) => [new Rng(seed), new Rng(seed + 1)];
  const full = await sampleSde(velocity, noise, 2, { steps: 6, rng: rngs(7) });
  // The same seeds give the same numbers, with no window or one over every step (the recorded numbers of
  // the sampler before windows existed: nothing changed for runs without one).
  assert.deepEqual(await sampleSde(velocity, noise, 2, { steps: 6, rng: rngs(7) }), full);
  assert.deepEqual(await sampleSde(velocity, noise, 2, { steps: 6, rng: rngs(7), window: { start: 0, size: 6 } }), full);
  assert.deepEqual(trainableSteps(full.stds), [0, 1, 2, 3, 4, 5]);

  const windowed = await sampleSde(velocity, noise, 2, { steps: 6, rng: rngs(7), window: { start: 2, size: 2 } });
  assert.deepEqual(trainableSteps(windowed.stds), [2, 3]);
  // ODE steps: the Euler sampler's states (recorded as sampleOde asks for velocities), std 0, log-prob 0.
  const odeStates: Float32Array[] = [];
  await sampleOde(
    async (x, t) => {
      odeStates.push(x.slice());
      return velocity(x, t);
    },
    noise,
    6,
  );
  for (let k = 0; k <= 2; k++) assert.deepEqual(windowed.latents[k], odeStates[k], `state ${k} is the ODE's`);
  for (const k of [0, 1, 4, 5]) {
    assert.equal(windowed.stds[k], 0);
    assert.deepEqual(windowed.logProbs[k], new Float32Array(2));
    assert.deepEqual(windowed.means[k], windowed.latents[k + 1]);
  }
  // After the window the ODE continues from the window's state: Euler steps from latents[4].
  const times = timeGrid(6);
  for (const k of [4, 5]) {
    const v = await velocity(windowed.latents[k]!, times[k]!);
    const euler = windowed.latents[k]!.map((x, i) => x + v[i]! * (times[k + 1]! - times[k]!));
    assert.deepEqual(windowed.latents[k + 1], euler, `step ${k} is an Euler step`);
  }
  // Window steps: the full SDE's step (mean, std, log-prob) from the state entering them, with the noise
  // sources' first draws: equal to a full SDE started from that state with the same seeds.
  for (const k of [2, 3]) {
    const v = await velocity(windowed.latents[k]!, times[k]!);
    const mean = sdeMean(windowed.latents[k]!, v, times[k]!, times[k + 1]!, 0.7);
    assert.deepEqual(windowed.means[k], mean);
    assert.equal(windowed.stds[k], sdeStd(times[k]!, times[k + 1]!, 0.7));
    assert.deepEqual(windowed.logProbs[k], gaussianLogProb(windowed.latents[k + 1]!, mean, windowed.stds[k]!, 2));
  }
  const startOfWindow = await sampleSde(velocity, noise, 2, { steps: 6, rng: rngs(7), window: { start: 0, size: 2 } });
  for (let k = 0; k < 2; k++) {
    assert.deepEqual(startOfWindow.latents[k + 1], full.latents[k + 1], `the window at 0 is the full SDE's step ${k}`);
    assert.deepEqual(startOfWindow.logProbs[k], full.logProbs[k]);
  }
  assert.deepEqual(trainableSteps(startOfWindow.stds), [0, 1]);
  await assert.rejects(sampleSde(velocity, noise, 2, { steps: 6, rng: rngs(7), window: { start: 5, size: 2 } }), /not inside the 6 steps/);
  await assert.rejects(sampleSde(velocity, noise, 2, { steps: 6, rng: rngs(7), window: { start: 0, size: 0 } }), /not inside/);
});

test("windowStart: a fixed start as given; 'random' from the step's seed, in the first half of the trajectory", () => {
  assert.equal(windowStart({ size: 3, start: 4 }, 123, 10), 4);
  const starts = Array.from({ length: 400 }, (_, seed) => windowStart({ size: 2, start: 'random' }, seed, 10));
  assert.deepEqual(
    starts,
    Array.from({ length: 400 }, (_, seed) => windowStart({ size: 2, start: 'random' }, seed, 10)),
    'deterministic',
  );
  // steps 10, size 2: starts 0..3, so the window ends by step 5 (Flow-GRPO's range (0, steps // 2))
  assert.deepEqual([...new Set(starts)].sort(), [0, 1, 2, 3]);
  for (let s = 0; s <= 3; s++) assert.ok(starts.filter((x) => x === s).length > 60, `start ${s} is drawn about a quarter of the time`);
  assert.equal(windowStart({ size: 8, start: 'random' }, 5, 10), 0, 'a window wider than half starts at 0');
});

test('flow pairs: x_t interpolates x0 and noise, the target is noise - x0', () => {
  const x0 = new Float32Array([0.5, -0.5, 1, 0]);
  const { xt, t, target } = flowPair(x0, 2, new Rng(4));
  for (let b = 0; b < 2; b++) {
    assert.ok(t[b]! > 0 && t[b]! < 1);
    for (let i = 2 * b; i < 2 * b + 2; i++) {
      const eps = target[i]! + x0[i]!;
      assert.ok(Math.abs(xt[i]! - ((1 - t[b]!) * x0[i]! + t[b]! * eps)) < 1e-6);
    }
  }
});

test('formats: completions parse into thinking and answer; captions list every object', () => {
  const completion = formats.thinkCompletion('A round shape is a circle. So: a red circle.', 'a red circle');
  assert.deepEqual(parseCompletion(completion), { thinking: 'A round shape is a circle. So: a red circle.', answer: 'a red circle' });
  assert.deepEqual(parseCompletion('yes </answer> <eos>'), {});
  const scene = {
    background: 'grey' as const,
    objects: [
      { shape: 'circle' as const, color: 'red' as const, size: 0.2, x: 0.2, y: 0.2 },
      { shape: 'circle' as const, color: 'red' as const, size: 0.2, x: 0.7, y: 0.2 },
      { shape: 'square' as const, color: 'blue' as const, size: 0.2, x: 0.5, y: 0.7 },
    ],
  };
  assert.equal(captionOf(scene), 'two red circles and a blue square');
});
