// The unified model end to end on the nano preset: shapes, gradient flow to every part, padding
// invariance, KV-cache decoding vs full recomputation, SDE log-probs vs recomputation, checkpoints.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Rng as EngineRng } from '../engine/runtime/rng.ts';
import { readSafetensorsMetadata } from '../engine/checkpoint/safetensors.ts';
import { Rng } from '../world/rng.ts';
import { SUITE_NAMES, buildSuite } from '../world/suites.ts';
import { getPreset, layoutOf } from './config.ts';
import { shapeWorldTokenizer } from './data.ts';
import { formats } from './formats.ts';
import { dmGradients, lmGradients } from './pretrain.ts';
import { completionLogProbs, conditionFor, sampleImages, sampleText, sdeStepLogProbs } from './sample.ts';
import { DEFAULT_CHECKPOINT } from './generator.ts';
import { tokenizerFromMetadata, type Tokenizer } from './tokenizer.ts';
import { PARTS, UnifiedModel, partOf } from './unified.ts';

const config = getPreset('nano');
let tokenizer: Tokenizer;
let model: UnifiedModel;
let dir: string;

/** Random values everywhere, so zero-initialised layers (adaLN-Zero, ref embedding) do not hide a broken path. */
function perturb(m: UnifiedModel, seed: number): void {
  const rng = new EngineRng(seed);
  for (const p of m.store.list()) for (let i = 0; i < p.size; i++) p.data[i]! += 0.05 * rng.normal();
}

function image(seed: number): Float32Array {
  const rng = new EngineRng(seed);
  return new Float32Array(config.imageSize * config.imageSize * 3).map(() => rng.uniform());
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

before(() => {
  tokenizer = shapeWorldTokenizer();
  model = UnifiedModel.create(config, tokenizer, { threads: 1, seed: 3 });
  perturb(model, 11);
  dir = mkdtempSync(join(tmpdir(), 'unirl-model-'));
});

after(async () => {
  await model.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('forward shapes: condition, velocity and LM logits', async () => {
  const { ditTokens, ditPatchDim } = layoutOf(config);
  const prompts = [
    { text: formats.generate('a red circle'), querySet: 'generate' as const },
    { text: formats.edit('remove the blue square'), querySet: 'edit' as const, source: image(1) },
  ];
  const cond = await conditionFor(model, prompts);
  assert.equal(cond.length, 2 * config.queries * config.dit.condWidth);
  const samples = await sampleImages(model, prompts, { sampler: 'ode', steps: 2, seed: 1 });
  assert.equal(samples.images.length, 2 * config.imageSize * config.imageSize * 3);
  assert.ok(samples.images.every((v) => v >= 0 && v <= 1 && Number.isFinite(v)));
  assert.equal(samples.ref.length, 2 * ditTokens * ditPatchDim);
  const text = await sampleText(model, [{ text: formats.caption(), image: image(2) }], { maxTokens: 5, seed: 1 });
  assert.equal(text.tokens[0]!.length, text.logProbs[0]!.length);
  assert.ok(text.tokens[0]!.length >= 1 && text.tokens[0]!.length <= 5);
});

test('every part of the model gets a gradient (queries, connector, DiT, LM, vision)', async () => {
  const rng = new Rng(5);
  const noise = new EngineRng(5);
  const sources = [
    await dmGradients(model, 'generate', 3, rng, noise),
    await dmGradients(model, 'edit', 3, rng, noise),
    await lmGradients(model, 'question', 3, rng),
  ];
  const normByPart = Object.fromEntries(PARTS.map((p) => [p, 0])) as Record<string, number>;
  const silent: string[] = [];
  for (const p of model.store.list()) {
    let sum = 0;
    for (const s of sources) {
      const g = s.grads[p.name];
      if (g) for (const v of g) sum += v * v;
    }
    normByPart[partOf(p.name)]! += sum;
    if (!(sum > 0)) silent.push(p.name);
  }
  assert.deepEqual(silent, [], `parameters without gradient: ${silent.join(', ')}`);
  for (const part of PARTS) assert.ok(normByPart[part]! > 0, `part ${part} has no gradient`);
});

test('a text gives the same condition alone and padded in a batch with a longer one', async () => {
  const short = { text: formats.generate('a red circle'), querySet: 'generate' as const };
  const long = { text: formats.generate('a photo of two blue squares left of a yellow triangle'), querySet: 'generate' as const };
  const alone = await conditionFor(model, [short]);
  const batched = await conditionFor(model, [long, short]);
  assert.ok(maxAbsDiff(alone, batched.subarray(alone.length)) < 1e-5);
  const other = await conditionFor(model, [{ ...short, text: formats.generate('a green square') }]);
  assert.ok(maxAbsDiff(alone, other) > 1e-4, 'different prompts must give different conditions');
});

test('KV-cache decoding gives the log-probs of a full recomputation', async () => {
  const prompts = [
    { text: formats.question('Is there a red circle in the image?'), image: image(3) },
    { text: formats.think('a shape with three corners') },
    { text: formats.caption(), image: image(4) },
  ];
  const sampled = await sampleText(model, prompts, { maxTokens: 12, temperature: 1, topP: 0.95, seed: 7 });
  const recomputed = await completionLogProbs(model, prompts, sampled.tokens, 1);
  for (let b = 0; b < prompts.length; b++) {
    assert.ok(sampled.tokens[b]!.length > 0);
    assert.ok(maxAbsDiff(sampled.logProbs[b]!, recomputed[b]!) < 1e-4, `row ${b}: ${sampled.logProbs[b]} vs ${recomputed[b]}`);
  }
  // At temperature 2 the recorded log-probs are those of the flattened distribution.
  const hot = await sampleText(model, prompts.slice(0, 1), { maxTokens: 6, temperature: 2, seed: 8 });
  const hotRecomputed = await completionLogProbs(model, prompts.slice(0, 1), hot.tokens, 2);
  assert.ok(maxAbsDiff(hot.logProbs[0]!, hotRecomputed[0]!) < 1e-4);
});

test('the SDE sampler records the log-probs and means a recomputation gives', async () => {
  const prompts = [
    { text: formats.generate('two green triangles'), querySet: 'generate' as const },
    { text: formats.edit('turn the red square into a circle'), querySet: 'edit' as const, source: image(9) },
  ];
  const samples = await sampleImages(model, prompts, { sampler: 'sde', steps: 4, seed: 2 });
  const trajectory = samples.trajectory!;
  assert.equal(trajectory.latents.length, 5);
  assert.equal(trajectory.logProbs.length, 4);
  for (let k = 0; k < 4; k++) {
    const { mean, logProb } = await sdeStepLogProbs(model, { ...samples, trajectory }, k);
    assert.ok(maxAbsDiff(logProb, trajectory.logProbs[k]!) < 1e-3, `step ${k}: ${logProb} vs ${trajectory.logProbs[k]}`);
    assert.ok(maxAbsDiff(mean, trajectory.means[k]!) < 1e-4);
  }
  // Another sample is less likely under this step's Gaussian than the one drawn from it.
  const other = await sampleImages(model, prompts, { sampler: 'sde', steps: 4, seed: 3 });
  const swapped = {
    ...samples,
    trajectory: {
      ...trajectory,
      latents: [...trajectory.latents.slice(0, 2), other.trajectory!.latents[1]!, ...trajectory.latents.slice(2)],
    },
  };
  const { logProb } = await sdeStepLogProbs(model, swapped, 1);
  assert.ok(logProb[0]! < trajectory.logProbs[1]![0]!);
});

test('the resident sampler (one graph per SDE step) draws the trajectory the host loop draws', async () => {
  const resident = UnifiedModel.create(config, tokenizer, { threads: 1, residentSampler: true });
  resident.store.flat.set(model.store.flat);
  try {
    const prompts = [
      { text: formats.generate('a red circle'), querySet: 'generate' as const },
      { text: formats.edit('make the square blue'), querySet: 'edit' as const, source: image(4) },
    ];
    const host = (await sampleImages(model, prompts, { sampler: 'sde', steps: 4, seed: 5 })).trajectory!;
    const chained = (await sampleImages(resident, prompts, { sampler: 'sde', steps: 4, seed: 5 })).trajectory!;
    assert.ok(Object.keys(await resident.providers()).includes('sdeSample'), 'the step graph ran');
    assert.deepEqual(chained.times, host.times);
    assert.deepEqual(chained.stds, host.stds);
    for (let k = 0; k <= 4; k++) assert.ok(maxAbsDiff(chained.latents[k]!, host.latents[k]!) < 1e-5, `latents ${k}`);
    for (let k = 0; k < 4; k++) {
      assert.ok(maxAbsDiff(chained.means[k]!, host.means[k]!) < 1e-5, `means ${k}`);
      assert.ok(maxAbsDiff(chained.logProbs[k]!, host.logProbs[k]!) < 1e-4, `log-probs ${k}`);
    }
    // With an SDE window, the ODE steps outside it too (std 0, log-prob 0).
    const window = { start: 1, size: 2 };
    const hostWindow = (await sampleImages(model, prompts, { sampler: 'sde', steps: 4, seed: 5, window })).trajectory!;
    const chainedWindow = (await sampleImages(resident, prompts, { sampler: 'sde', steps: 4, seed: 5, window })).trajectory!;
    assert.deepEqual(
      [...chainedWindow.stds].map((s) => s > 0),
      [false, true, true, false],
    );
    assert.deepEqual(chainedWindow.stds, hostWindow.stds);
    for (let k = 0; k < 4; k++) {
      assert.ok(maxAbsDiff(chainedWindow.latents[k + 1]!, hostWindow.latents[k + 1]!) < 1e-5, `windowed latents ${k + 1}`);
      assert.ok(maxAbsDiff(chainedWindow.logProbs[k]!, hostWindow.logProbs[k]!) < 1e-4, `windowed log-probs ${k}`);
    }
    assert.deepEqual(chainedWindow.logProbs[3], new Float32Array(2));
  } finally {
    await resident.dispose();
  }
});

test('a checkpoint round-trips parameters, config and tokenizer', async () => {
  const path = join(dir, 'roundtrip.safetensors');
  model.save(path, { metadata: { step: '7' } });
  const { model: loaded, metadata } = UnifiedModel.load(path, { threads: 1 });
  try {
    assert.equal(metadata.step, '7');
    assert.deepEqual(loaded.config, model.config);
    assert.equal(loaded.tokenizer.vocabSize, tokenizer.vocabSize);
    assert.deepEqual(loaded.store.flat, model.store.flat);
    const prompt = [{ text: formats.generate('a blue square'), querySet: 'generate' as const }];
    assert.deepEqual(await conditionFor(loaded, prompt), await conditionFor(model, prompt));
  } finally {
    await loaded.dispose();
  }
});

test("the shipped base's vocabulary has every word of every suite (an unknown word would read as <unk>)", () => {
  const shipped = tokenizerFromMetadata(readSafetensorsMetadata(DEFAULT_CHECKPOINT), DEFAULT_CHECKPOINT);
  const unknown = shipped.encode('<unk>')[0]!;
  for (const name of SUITE_NAMES)
    for (const task of buildSuite(name, { samplesPerItem: 1 }).tasks)
      for (const item of task.items) {
        const text = JSON.stringify(item);
        const words = 'prompt' in item ? `${item.prompt} ${'reference' in item ? item.reference : ''}` : '';
        assert.ok(!shipped.encode(words).includes(unknown), `${name}: ${text.slice(0, 200)}`);
      }
});
