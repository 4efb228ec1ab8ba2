// Sampling from the unified model: images (Euler ODE for evaluation, Flow-GRPO SDE for RL, optional CFG)
// and text (KV-cached decoding with temperature / top-p, recording each token's log-prob), plus the
// recomputations an RL update needs (token log-probs, SDE step log-probs) under the current parameters.
import { Rng } from '../engine/runtime/rng.ts';
import { concatFloat32 } from '../engine/runtime/arrays.ts';
import type { QuerySet } from './connector.ts';
import { layoutOf } from './config.ts';
import * as ort from 'onnxruntime-node';
import {
  DEFAULT_NOISE_LEVEL,
  sampleOde,
  sampleSde,
  sdeSigma,
  sdeStd,
  standardNormals,
  timeGrid,
  windowTest,
  type SdeOptions,
  type SdeTrajectory,
  type SdeWindow,
  type VelocityFn,
} from './flow.ts';
import { formats } from './formats.ts';
import { imagesToPatches, patchesToImages } from './patches.ts';
import { MASKED, nextTokenTargets, packSequences, type SequenceItem } from './sequence.ts';
import { sequenceFeeds, type UnifiedModel } from './unified.ts';

// ----- images ------------------------------------------------------------------------------------------------

/** What to draw: the formatted text (formats.generate / formats.edit / a reasoning transcript). */
export interface ImagePrompt {
  text: string;
  /** The token ids the LM reads, when they are not `text` encoded (CoT's prompt followed by the sampled reasoning's tokens). */
  ids?: readonly number[];
  querySet: QuerySet;
  /** Editing: the source image [S, S, 3] in [0, 1]; the LM sees it and the DiT gets it as reference. */
  source?: Float32Array;
}

export interface ImageSampleOptions {
  sampler: 'ode' | 'sde';
  steps: number;
  /** Seed of the initial noise (and the SDE's noise); ignored for the noise when `noise` is given. */
  seed: number;
  /** Initial noise [B, N, pd] (e.g. shared within a GRPO group). */
  noise?: Float32Array;
  /** SDE noise level a (default 0.7). */
  noiseLevel?: number;
  /** Classifier-free guidance scale; 1 (default) = no guidance. */
  cfgScale?: number;
  /** Time shift of the step grid (> 1 spends more steps at high noise; default 1 = uniform). */
  shift?: number;
  /** SDE: one seed per prompt for its own step noise, so a row can be drawn again alone (RL rollouts); default: one stream from `seed`. */
  rowSeeds?: readonly number[];
  /** SDE only: the noise only on these steps, the ODE step elsewhere (flow.ts sampleSde). */
  window?: SdeWindow;
}

export interface ImageSamples {
  /** [B, S, S, 3] in [0, 1]. */
  images: Float32Array;
  /** [B, Q, Dc]: the condition the DiT saw (without the unconditional half of CFG). */
  cond: Float32Array;
  /** [B, N, pd]: the DiT reference patches (zeros without a source). */
  ref: Float32Array;
  /** SDE only: every step's latents, means and log-probs (patch space [B, N, pd]). */
  trajectory?: SdeTrajectory;
}

/** The DM condition [B, Q, Dc] for formatted prompts. */
export async function conditionFor(model: UnifiedModel, prompts: readonly ImagePrompt[]): Promise<Float32Array> {
  const items: SequenceItem[] = prompts.map((p) => ({
    text: p.ids ? [...p.ids] : model.tokenizer.encode(p.text),
    querySet: p.querySet,
    ...(p.source ? { image: p.source } : {}),
  }));
  const packed = packSequences(model.config, model.tokenizer, items, { withQueries: true });
  const out = await model.run('condition', sequenceFeeds(model.config, packed));
  return out.cond!.data as Float32Array;
}

/** Reference patches [B, N, pd] for the prompts' sources (zeros where there is none). */
export function referencePatches(model: UnifiedModel, prompts: readonly ImagePrompt[]): Float32Array {
  const { imageSize, dit } = model.config;
  const pixels = imageSize * imageSize * 3;
  const images = new Float32Array(prompts.length * pixels).fill(0.5); // 0.5 grey ↦ patch value 0
  prompts.forEach((p, b) => p.source && images.set(p.source, b * pixels));
  return imagesToPatches(images, prompts.length, imageSize, dit.patch);
}

/** The DiT as a VelocityFn over a fixed condition and reference; CFG mixes in `uncond` when scale != 1. */
export function velocityFn(
  model: UnifiedModel,
  batch: number,
  cond: Float32Array,
  ref: Float32Array,
  cfg?: { scale: number; uncond: Float32Array },
): VelocityFn {
  const { ditTokens, ditPatchDim } = layoutOf(model.config);
  const { queries, dit } = model.config;
  const guided = cfg && cfg.scale !== 1;
  const rows = guided ? 2 * batch : batch;
  const condFeed = guided ? concatFloat32([cond, cfg.uncond]) : cond;
  const refFeed = guided ? concatFloat32([ref, ref]) : ref;
  return async (x, t) => {
    const out = await model.run('velocity', {
      x: { data: guided ? concatFloat32([x, x]) : x, shape: [rows, ditTokens, ditPatchDim] },
      t: { data: new Float32Array(rows).fill(t), shape: [rows] },
      cond: { data: condFeed, shape: [rows, queries, dit.condWidth] },
      ref: { data: refFeed, shape: [rows, ditTokens, ditPatchDim] },
    });
    const v = out.v!.data as Float32Array;
    if (!guided) return v;
    const half = x.length;
    const mixed = new Float32Array(half);
    for (let i = 0; i < half; i++) mixed[i] = v[half + i]! + cfg.scale * (v[i]! - v[half + i]!);
    return mixed;
  };
}

/** Draws images for the prompts (one per prompt). */
export async function sampleImages(
  model: UnifiedModel,
  prompts: readonly ImagePrompt[],
  options: ImageSampleOptions,
): Promise<ImageSamples> {
  const B = prompts.length;
  if (B === 0) throw new Error('sampleImages: no prompts');
  const { ditTokens, ditPatchDim } = layoutOf(model.config);
  const size = B * ditTokens * ditPatchDim;
  const rng = new Rng(options.seed);
  const noise = options.noise ?? new Float32Array(size).map(() => rng.normal());
  if (noise.length !== size) throw new Error(`sampleImages: noise has ${noise.length} values, expected ${B}x${ditTokens}x${ditPatchDim}`);
  const cond = await conditionFor(model, prompts);
  const ref = referencePatches(model, prompts);
  const scale = options.cfgScale ?? 1;
  const uncond =
    scale !== 1
      ? await conditionFor(
          model,
          prompts.map((p) => ({ ...p, text: p.querySet === 'edit' ? formats.edit('') : formats.generate('') })),
        )
      : undefined;
  const velocity = velocityFn(model, B, cond, ref, uncond ? { scale, uncond } : undefined);
  const { imageSize, dit } = model.config;
  if (options.sampler === 'ode') {
    const x0 = await sampleOde(velocity, noise, options.steps, options.shift ?? 1);
    return { images: patchesToImages(x0, B, imageSize, dit.patch), cond, ref };
  }
  if (options.rowSeeds && options.rowSeeds.length !== B)
    throw new Error(`sampleImages: ${options.rowSeeds.length} row seeds for ${B} prompts`);
  const rowRngs = options.rowSeeds?.map((seed) => new Rng(seed));
  const sde: SdeOptions = {
    steps: options.steps,
    noiseLevel: options.noiseLevel ?? DEFAULT_NOISE_LEVEL,
    shift: options.shift ?? 1,
    rng: rowRngs ?? rng,
    ...(options.window ? { window: options.window } : {}),
  };
  const trajectory =
    model.runtime.residentSampler && !uncond
      ? await sampleSdeResident(model, noise, cond, ref, B, sde)
      : await sampleSde(velocity, noise, B, sde);
  return { images: patchesToImages(trajectory.latents[options.steps]!, B, imageSize, dit.patch), cond, ref, trajectory };
}

/**
 * sampleSde with each step one graph run (sdeSample: DiT, mean, draw, log-prob) whose latents stay where
 * the session computed them (on a GPU with RuntimeOptions.residentSampler) and come back once at the end.
 * Draws the same per-step noise from `rng` in the same order as sampleSde, so both give one trajectory.
 * An ODE step outside the window is the same graph with sigma 0 (its mean is then the Euler step) and z 0;
 * its log-prob (log of a zero std) is replaced by sampleSde's 0.
 */
async function sampleSdeResident(
  model: UnifiedModel,
  noise: Float32Array,
  cond: Float32Array,
  ref: Float32Array,
  batch: number,
  options: SdeOptions,
): Promise<SdeTrajectory> {
  const { steps, noiseLevel = DEFAULT_NOISE_LEVEL, shift = 1, rng } = options;
  const inWindow = windowTest(options.window, steps);
  const { ditTokens, ditPatchDim } = layoutOf(model.config);
  const shape = [batch, ditTokens, ditPatchDim];
  const times = timeGrid(steps, shift);
  const stds = new Float64Array(steps);
  let x: ort.Tensor = new ort.Tensor('float32', noise.slice(), shape);
  const kept: { latent: ort.Tensor; mean: ort.Tensor; logProb: ort.Tensor | null }[] = [];
  for (let k = 0; k < steps; k++) {
    const [t, tNext] = [times[k]!, times[k + 1]!];
    const sde = inWindow(k);
    const out = await model.run('sdeSample', {
      x,
      z: { data: sde ? standardNormals(rng, batch, noise.length / batch) : new Float32Array(noise.length), shape },
      t: { data: new Float32Array(batch).fill(t), shape: [batch] },
      dt: { data: new Float32Array(batch).fill(tNext - t), shape: [batch] },
      sigma: { data: new Float32Array(batch).fill(sde ? sdeSigma(t, tNext, noiseLevel) : 0), shape: [batch] },
      cond: { data: cond, shape: [batch, model.config.queries, model.config.dit.condWidth] },
      ref: { data: ref, shape },
    });
    stds[k] = sde ? sdeStd(t, tNext, noiseLevel) : 0;
    x = out.x_next!;
    kept.push({ latent: x, mean: out.mean!, logProb: sde ? out.log_prob! : null });
  }
  const download = async (tensor: ort.Tensor) => (await tensor.getData(true)) as Float32Array;
  return {
    times,
    latents: [noise.slice(), ...(await Promise.all(kept.map((s) => download(s.latent))))],
    means: await Promise.all(kept.map((s) => download(s.mean))),
    logProbs: await Promise.all(kept.map((s) => (s.logProb ? download(s.logProb) : new Float32Array(batch)))),
    stds,
  };
}

/**
 * Recomputes step k of an SDE trajectory under the model's current parameters (no CFG): the mean and the
 * log-prob [B] of latents[k+1] given latents[k]. Equal to the rollout's record when nothing changed.
 */
export async function sdeStepLogProbs(
  model: UnifiedModel,
  samples: Pick<ImageSamples, 'cond' | 'ref'> & { trajectory: SdeTrajectory },
  k: number,
  noiseLevel = DEFAULT_NOISE_LEVEL,
): Promise<{ mean: Float32Array; logProb: Float32Array }> {
  const { trajectory } = samples;
  const steps = trajectory.means.length;
  if (!Number.isInteger(k) || k < 0 || k >= steps) throw new Error(`sdeStepLogProbs: step ${k} is outside the trajectory's ${steps} steps`);
  const { ditTokens, ditPatchDim } = layoutOf(model.config);
  const B = trajectory.logProbs[k]!.length;
  const t = trajectory.times[k]!;
  const tNext = trajectory.times[k + 1]!;
  const shape = [B, ditTokens, ditPatchDim];
  const out = await model.run('sdeStep', {
    x: { data: trajectory.latents[k]!, shape },
    x_next: { data: trajectory.latents[k + 1]!, shape },
    t: { data: new Float32Array(B).fill(t), shape: [B] },
    dt: { data: new Float32Array(B).fill(tNext - t), shape: [B] },
    sigma: { data: new Float32Array(B).fill(sdeSigma(t, tNext, noiseLevel)), shape: [B] },
    cond: { data: samples.cond, shape: [B, model.config.queries, model.config.dit.condWidth] },
    ref: { data: samples.ref, shape },
  });
  return { mean: out.mean!.data as Float32Array, logProb: out.log_prob!.data as Float32Array };
}

// ----- text --------------------------------------------------------------------------------------------------

export interface TextPrompt {
  /** Formatted prompt (e.g. formats.question(q)). */
  text: string;
  image?: Float32Array;
}

export interface TextSampleOptions {
  /** Most new tokens per row (also capped by the model's text length). */
  maxTokens: number;
  /** 0 = greedy. Default 1. */
  temperature?: number;
  /** Nucleus sampling mass (default 1 = off). */
  topP?: number;
  seed: number;
}

export interface TextSamples {
  /** Generated ids per row, up to and including <eos> when it was produced. */
  tokens: number[][];
  /** log p(token) per generated token, under the temperature-scaled distribution (before top-p). */
  logProbs: number[][];
  /** Decoded completions (special tokens kept, so formats.parseCompletion can read them). */
  texts: string[];
  /** Whether each row ended with <eos>. */
  finished: boolean[];
}

/** KV-cached decoding: one prefill over the prompts, then one step graph call per token. */
export async function sampleText(model: UnifiedModel, prompts: readonly TextPrompt[], options: TextSampleOptions): Promise<TextSamples> {
  const B = prompts.length;
  if (B === 0) throw new Error('sampleText: no prompts');
  const temperature = options.temperature ?? 1;
  const topP = options.topP ?? 1;
  if (!(temperature >= 0)) throw new Error(`sampleText: temperature must be >= 0, got ${temperature}`);
  if (!(topP > 0 && topP <= 1)) throw new Error(`sampleText: topP must be in (0, 1], got ${topP}`);
  const { config, tokenizer } = model;
  const rng = new Rng(options.seed);
  const promptIds = prompts.map((p) => tokenizer.encode(p.text));
  const packed = packSequences(
    config,
    tokenizer,
    prompts.map((p, b) => ({ text: promptIds[b]!, ...(p.image ? { image: p.image } : {}) })),
    { withQueries: false },
  );
  const maxNew = Math.min(options.maxTokens, config.textLength - Math.max(...promptIds.map((ids) => ids.length)));
  const V = tokenizer.vocabSize;
  const L = packed.textLength;
  const P = layoutOf(config).imageTokens;
  const prefill = await model.run('prefill', sequenceFeeds(config, packed));
  let cache = cacheOf(prefill, config.lm.layers);
  const prefillLogits = prefill.logits!.data as Float32Array;
  let logits: Float32Array = Float32Array.from({ length: B * V }, (_, i) => {
    const b = Math.floor(i / V);
    return prefillLogits[(b * L + promptIds[b]!.length - 1) * V + (i % V)]!;
  });
  const tokens: number[][] = prompts.map(() => []);
  const logProbs: number[][] = prompts.map(() => []);
  const finished = prompts.map(() => false);
  const eos = tokenizer.specials['<eos>'];
  const pad = tokenizer.specials['<pad>'];
  // Slot validity of the prefill (image slots, real prompt tokens), extended by one valid slot per step.
  const prefixValid = prompts.map((p, b) => [
    ...Array.from({ length: P }, () => !!p.image),
    ...Array.from({ length: L }, (_, l) => l < promptIds[b]!.length),
  ]);
  const validCount = prefixValid.map((v) => v.filter(Boolean).length);
  for (let k = 0; k < maxNew; k++) {
    const chosen = new BigInt64Array(B);
    for (let b = 0; b < B; b++) {
      if (finished[b]) {
        chosen[b] = BigInt(pad);
        continue;
      }
      const { token, logProb } = pickToken(logits.subarray(b * V, (b + 1) * V), temperature, topP, rng);
      tokens[b]!.push(token);
      logProbs[b]!.push(logProb);
      if (token === eos) finished[b] = true;
      chosen[b] = BigInt(token);
    }
    if (finished.every(Boolean) || k === maxNew - 1) break;
    const total = P + L + k + 1;
    const bias = new Float32Array(B * total).fill(MASKED);
    const positions = new BigInt64Array(B);
    for (let b = 0; b < B; b++) {
      for (let s = 0; s < P + L; s++) if (prefixValid[b]![s]) bias[b * total + s] = 0;
      for (let s = P + L; s < total; s++) bias[b * total + s] = 0;
      positions[b] = BigInt(validCount[b]! + k);
    }
    const step = await model.run('step', {
      token_ids: { data: chosen, shape: [B, 1] },
      positions: { data: positions, shape: [B, 1] },
      bias: { data: bias, shape: [B, 1, 1, total] },
      ...Object.fromEntries(
        cache.flatMap((kv, i) => [
          [`past_k${i}`, kv.k],
          [`past_v${i}`, kv.v],
        ]),
      ),
    });
    cache = cacheOf(step, config.lm.layers);
    logits = step.logits!.data as Float32Array;
  }
  return { tokens, logProbs, texts: tokens.map((ids) => tokenizer.decode(ids)), finished };
}

function cacheOf(outputs: Record<string, import('onnxruntime-node').Tensor>, layers: number) {
  return Array.from({ length: layers }, (_, i) => ({ k: outputs[`present_k${i}`]!, v: outputs[`present_v${i}`]! }));
}

/** Samples one token from logits; returns it with its log-prob under softmax(logits / temperature). */
export function pickToken(logits: Float32Array, temperature: number, topP: number, rng: Rng): { token: number; logProb: number } {
  const scale = temperature > 0 ? 1 / temperature : 1;
  let max = -Infinity;
  for (const l of logits) max = Math.max(max, l * scale);
  const probs = Float64Array.from(logits, (l) => Math.exp(l * scale - max));
  const total = probs.reduce((a, b) => a + b, 0);
  const logProbOf = (token: number) => Math.log(probs[token]! / total);
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    return { token: best, logProb: logProbOf(best) };
  }
  const order = Array.from(probs.keys()).sort((a, b) => probs[b]! - probs[a]!);
  let kept = 0;
  let mass = 0;
  while (kept < order.length && mass < topP * total) mass += probs[order[kept++]!]!;
  let u = rng.uniform() * mass;
  for (let i = 0; i < kept; i++) {
    const token = order[i]!;
    u -= probs[token]!;
    if (u <= 0) return { token, logProb: logProbOf(token) };
  }
  const last = order[kept - 1]!;
  return { token: last, logProb: logProbOf(last) };
}

/**
 * Recomputes log p(completion token) [per row, per token] under the current parameters with one full
 * forward pass (the RL ratio's numerator; equals sampleText's record when nothing changed).
 */
export async function completionLogProbs(
  model: UnifiedModel,
  prompts: readonly TextPrompt[],
  completions: readonly (readonly number[])[],
  temperature = 1,
): Promise<number[][]> {
  const { config, tokenizer } = model;
  const promptIds = prompts.map((p) => tokenizer.encode(p.text));
  const texts = promptIds.map((ids, b) => [...ids, ...completions[b]!]);
  const packed = packSequences(
    config,
    tokenizer,
    prompts.map((p, b) => ({ text: texts[b]!, ...(p.image ? { image: p.image } : {}) })),
    { withQueries: false },
  );
  const V = tokenizer.vocabSize;
  const { targets } = nextTokenTargets(
    packed,
    texts,
    promptIds.map((ids) => ids.length),
    V,
  );
  for (let i = 0; i < targets.length; i++) if (targets[i]! > 0) targets[i] = 1;
  const out = await model.run('tokenLogProbs', {
    ...sequenceFeeds(config, packed),
    targets: { data: targets, shape: [prompts.length, packed.textLength, V] },
    inv_temperature: { data: new Float32Array([temperature > 0 ? 1 / temperature : 1]), shape: [1] },
  });
  const logProbs = out.log_probs!.data as Float32Array;
  const L = packed.textLength;
  return completions.map((c, b) => c.map((_, j) => logProbs[b * L + promptIds[b]!.length - 1 + j]!));
}
