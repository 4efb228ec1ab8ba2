// Rectified flow around any velocity network (minRF style): the training pair, the Euler ODE sampler for
// evaluation, and the Flow-GRPO SDE sampler for RL (REFERENCE §1), which records every step's latent,
// mean and log-prob. Convention: x_t = (1 - t)·x0 + t·eps, the network predicts v = eps - x0, sampling
// runs t = 1 (noise) → 0 with dt < 0.
import type { GraphBuilder, Tensor } from '../engine/graph/builder.ts';
import { Rng } from '../engine/runtime/rng.ts';

/** The network: velocity at latents `x` [B, ...] and time t (same t for the whole batch). */
export type VelocityFn = (x: Float32Array, t: number) => Promise<Float32Array>;

/** Flow-GRPO's noise level `a` (sigma_t = a·sqrt(t / (1 - t))). */
export const DEFAULT_NOISE_LEVEL = 0.7;

/** steps+1 times from 1 down to 0. `shift` > 1 spends more steps at high noise (SD3's time shift). */
export function timeGrid(steps: number, shift = 1): Float64Array {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`timeGrid: steps must be a positive integer, got ${steps}`);
  if (!(shift > 0)) throw new Error(`timeGrid: shift must be > 0, got ${shift}`);
  const grid = new Float64Array(steps + 1);
  for (let i = 0; i <= steps; i++) {
    const t = 1 - i / steps;
    grid[i] = (shift * t) / (1 + (shift - 1) * t);
  }
  return grid;
}

/**
 * sigma_t = a·sqrt(t / (1 - t)). At t = 1 the denominator uses the next time instead (as Flow-GRPO does),
 * so the first step's noise stays finite.
 */
export function sdeSigma(t: number, tNext: number, noiseLevel: number): number {
  const denominatorT = t >= 1 ? tNext : t;
  return noiseLevel * Math.sqrt(t / (1 - denominatorT));
}

/** One training example's noised input and target: x_t = (1-t)·x0 + t·eps, v = eps - x0. */
export interface FlowPair {
  /** [B, ...] noised latents. */
  xt: Float32Array;
  /** [B] times in (0, 1). */
  t: Float32Array;
  /** [B, ...] velocity targets. */
  target: Float32Array;
}

/** Mean of the logit-normal time distribution: 0.5 puts the median t at 0.62, where the prompt decides most. */
export const TIME_LOGIT_MEAN = 0.5;

/**
 * Draws t = sigmoid(N(timeLogitMean, 1)) (SD3's logit-normal, shifted towards noise: small objects' colour
 * and shape are hidden in x_t there, so that is where the DiT must read the condition) and eps ~ N(0, I)
 * for clean latents x0 [B, ...].
 */
export function flowPair(x0: Float32Array, batch: number, rng: Rng, timeLogitMean = TIME_LOGIT_MEAN): FlowPair {
  if (x0.length % batch !== 0) throw new Error(`flowPair: ${x0.length} values do not split into a batch of ${batch}`);
  const per = x0.length / batch;
  const xt = new Float32Array(x0.length);
  const target = new Float32Array(x0.length);
  const t = new Float32Array(batch);
  for (let b = 0; b < batch; b++) {
    const tb = 1 / (1 + Math.exp(-(timeLogitMean + rng.normal())));
    t[b] = tb;
    for (let i = b * per; i < (b + 1) * per; i++) {
      const eps = rng.normal();
      xt[i] = (1 - tb) * x0[i]! + tb * eps;
      target[i] = eps - x0[i]!;
    }
  }
  return { xt, t, target };
}

/** Flow-matching loss in a graph: mean over every element of (v_pred - v_target)². Returns a scalar. */
export function flowLoss(g: GraphBuilder, predicted: Tensor, target: Tensor): Tensor {
  const diff = g.sub(predicted, target);
  return g.reduceMean(g.mul(diff, diff), undefined, false);
}

/** Euler ODE sampling from x1 = `noise` [B, ...]; returns x0. Deterministic given the noise. */
export async function sampleOde(velocity: VelocityFn, noise: Float32Array, steps: number, shift = 1): Promise<Float32Array> {
  const times = timeGrid(steps, shift);
  let x: Float32Array = noise.slice();
  for (let k = 0; k < steps; k++) {
    const t = times[k]!;
    const dt = times[k + 1]! - t;
    const v = await velocity(x, t);
    checkSize(v, x, 'sampleOde');
    x = eulerStep(x, v, dt);
  }
  return x;
}

/** Everything an RL update needs from one SDE rollout of a batch. */
export interface SdeTrajectory {
  /** steps+1 times, from 1 to 0. */
  times: Float64Array;
  /** steps+1 latents [B, ...]: latents[0] is the initial noise, latents[steps] the sample. */
  latents: Float32Array[];
  /** steps means [B, ...]: means[k] is the mean of the Gaussian latents[k+1] was drawn from (an ODE step's result). */
  means: Float32Array[];
  /** steps [B] log-probs of latents[k+1] given latents[k], averaged over non-batch dims (0 on ODE steps). */
  logProbs: Float32Array[];
  /** steps values: the std of each step's Gaussian (sigma_t·sqrt(|dt|)); 0 on ODE steps. */
  stds: Float64Array;
}

/** Steps start..start+size-1 of a trajectory. */
export interface SdeWindow {
  start: number;
  size: number;
}

export interface SdeOptions {
  steps: number;
  /** Flow-GRPO noise level a (default 0.7). */
  noiseLevel?: number;
  shift?: number;
  /**
   * Source of the per-step noise z: one for the whole batch, or one per batch row (a row's noise then does
   * not depend on its neighbours in the batch, so one sample can be drawn again alone).
   */
  rng: Rng | readonly Rng[];
  /**
   * The SDE only on these steps, the Euler ODE step on the others (Flow-GRPO-Fast, MixGRPO). ODE steps
   * draw no noise, so the window's steps take the noise sources' first draws. Default: every step.
   */
  window?: SdeWindow;
}

/**
 * Flow-GRPO SDE sampler:
 *   mu = x_t + [v + sigma_t²/(2t)·(x_t + (1-t)·v)]·dt,   x_{t+dt} = mu + sigma_t·sqrt(|dt|)·z.
 * Outside `window` the step is the ODE's, x_{t+dt} = x_t + v·dt (sigma 0: std 0, log-prob 0, nothing to
 * train there).
 */
export async function sampleSde(velocity: VelocityFn, noise: Float32Array, batch: number, options: SdeOptions): Promise<SdeTrajectory> {
  const { steps, noiseLevel = DEFAULT_NOISE_LEVEL, shift = 1, rng } = options;
  const inWindow = windowTest(options.window, steps);
  const times = timeGrid(steps, shift);
  const latents: Float32Array[] = [noise.slice()];
  const means: Float32Array[] = [];
  const logProbs: Float32Array[] = [];
  const stds = new Float64Array(steps);
  for (let k = 0; k < steps; k++) {
    const x = latents[k]!;
    const t = times[k]!;
    const v = await velocity(x, t);
    checkSize(v, x, 'sampleSde');
    if (!inWindow(k)) {
      const next = eulerStep(x, v, times[k + 1]! - t);
      means.push(next);
      logProbs.push(new Float32Array(batch));
      latents.push(next);
      continue;
    }
    const mean = sdeMean(x, v, t, times[k + 1]!, noiseLevel);
    const std = sdeStd(t, times[k + 1]!, noiseLevel);
    const z = standardNormals(rng, batch, x.length / batch);
    const next = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) next[i] = mean[i]! + std * z[i]!;
    stds[k] = std;
    means.push(mean);
    logProbs.push(gaussianLogProb(next, mean, std, batch));
    latents.push(next);
  }
  return { times, latents, means, logProbs, stds };
}

/** Whether step k is an SDE step of the window (every step without one); refuses a window outside the steps. */
export function windowTest(window: SdeWindow | undefined, steps: number): (k: number) => boolean {
  if (!window) return () => true;
  const { start, size } = window;
  if (!Number.isInteger(start) || !Number.isInteger(size) || start < 0 || size < 1 || start + size > steps) {
    throw new Error(`SDE window (start ${start}, size ${size}) is not inside the ${steps} steps`);
  }
  return (k) => k >= start && k < start + size;
}

/** The steps an update can train: those with noise (std > 0), i.e. the SDE window's. */
export function trainableSteps(stds: ArrayLike<number>): number[] {
  return Array.from(stds, (std, k) => (std > 0 ? k : -1)).filter((k) => k >= 0);
}

/**
 * The window of one optimisation step: a fixed start, or 'random' = uniform over 0..floor(steps/2) - size
 * from the step's seed (Flow-GRPO's fast config keeps the window in the first half of the trajectory, where
 * the image is decided; 0 when the window is wider than that half). Every sample of the step shares it.
 */
export function windowStart(window: { size: number; start: number | 'random' }, seed: number, steps: number): number {
  if (window.start !== 'random') return window.start;
  const last = Math.max(0, Math.floor(steps / 2) - window.size);
  // Salted so the start is not the first draw of the same seed's noise source.
  return Math.floor(new Rng((seed ^ 0x5ade1e57) >>> 0).uniform() * (last + 1));
}

/** x + v·dt: the Euler ODE step. */
function eulerStep(x: Float32Array, v: Float32Array, dt: number): Float32Array {
  const next = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) next[i] = x[i]! + v[i]! * dt;
  return next;
}

/**
 * `batch` rows of `per` standard normals: from one shared source row after row, or from each row's own source
 * (the same numbers as the shared source gives when the batch is one row).
 */
export function standardNormals(rng: Rng | readonly Rng[], batch: number, per: number): Float32Array {
  const rows: readonly Rng[] = rng instanceof Rng ? new Array<Rng>(batch).fill(rng) : rng;
  if (rows.length !== batch) throw new Error(`${rows.length} noise sources for a batch of ${batch}`);
  const z = new Float32Array(batch * per);
  for (let b = 0; b < batch; b++) for (let i = b * per; i < (b + 1) * per; i++) z[i] = rows[b]!.normal();
  return z;
}

/** The SDE step's mean for latents x and velocity v from t to tNext. */
export function sdeMean(x: Float32Array, v: Float32Array, t: number, tNext: number, noiseLevel: number): Float32Array {
  const dt = tNext - t;
  const sigma = sdeSigma(t, tNext, noiseLevel);
  const drift = (sigma * sigma) / (2 * t);
  const mean = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) mean[i] = x[i]! + (v[i]! + drift * (x[i]! + (1 - t) * v[i]!)) * dt;
  return mean;
}

/** Std of the SDE step's Gaussian: sigma_t·sqrt(|dt|). */
export function sdeStd(t: number, tNext: number, noiseLevel: number): number {
  return sdeSigma(t, tNext, noiseLevel) * Math.sqrt(Math.abs(tNext - t));
}

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** log N(x; mean, std²) per batch row, averaged over the row's elements. [B] */
export function gaussianLogProb(x: Float32Array, mean: Float32Array, std: number, batch: number): Float32Array {
  const per = x.length / batch;
  const out = new Float32Array(batch);
  const logStd = Math.log(std);
  for (let b = 0; b < batch; b++) {
    let sum = 0;
    for (let i = b * per; i < (b + 1) * per; i++) {
      const z = (x[i]! - mean[i]!) / std;
      sum += -0.5 * z * z;
    }
    out[b] = sum / per - logStd - HALF_LOG_2PI;
  }
  return out;
}

/**
 * The same step in a graph, for recomputing log-probs under new parameters (GRPO's ratio):
 * x, v, xNext [B, N, C]; per-row scalars t, dt, sigma [B] (the rollout's schedule; sigma from sdeSigma).
 * Returns mean [B, N, C] and logProb [B] (averaged over N·C, like gaussianLogProb).
 */
export function sdeStepGraph(
  g: GraphBuilder,
  inputs: { x: Tensor; v: Tensor; xNext: Tensor; t: Tensor; dt: Tensor; sigma: Tensor },
): { mean: Tensor; logProb: Tensor } {
  const { mean, std } = sdeMoments(g, inputs);
  return { mean, logProb: standardLogProb(g, g.div(g.sub(inputs.xNext, mean), std), std) };
}

/**
 * One SDE sampling step in a graph: x_next = mean + std·z for the given standard normal draws z [B, N, C],
 * with mean and log-prob as sdeStepGraph's. The device-resident sampler (sample.ts) chains these steps,
 * feeding each x_next back without a trip to the CPU.
 */
export function sdeSampleGraph(
  g: GraphBuilder,
  inputs: { x: Tensor; v: Tensor; z: Tensor; t: Tensor; dt: Tensor; sigma: Tensor },
): { xNext: Tensor; mean: Tensor; logProb: Tensor } {
  const { mean, std } = sdeMoments(g, inputs);
  return { xNext: g.add(mean, g.mul(std, inputs.z)), mean, logProb: standardLogProb(g, inputs.z, std) };
}

/** The step's Gaussian: mean x + [v + sigma²/(2t)·(x + (1-t)·v)]·dt [B, N, C] and std sigma·sqrt(|dt|) [B, 1, 1]. */
function sdeMoments(
  g: GraphBuilder,
  inputs: { x: Tensor; v: Tensor; t: Tensor; dt: Tensor; sigma: Tensor },
): { mean: Tensor; std: Tensor } {
  const { x, v } = inputs;
  const col = (s: Tensor) => g.unsqueeze(s, [1, 2]); // [B] → [B, 1, 1]
  const t = col(inputs.t);
  const dt = col(inputs.dt);
  const sigma = col(inputs.sigma);
  const drift = g.div(g.mul(sigma, sigma), g.mul(t, 2)); // sigma²/(2t)
  const inner = g.add(x, g.mul(g.sub(1, t), v)); // x + (1-t)·v
  return { mean: g.add(x, g.mul(g.add(v, g.mul(drift, inner)), dt)), std: g.mul(sigma, g.sqrt(g.abs(dt))) };
}

/** log N per row, averaged over N·C, of draws that are `z` standard deviations from the mean. [B] */
function standardLogProb(g: GraphBuilder, z: Tensor, std: Tensor): Tensor {
  const perElement = g.sub(g.mul(g.mul(z, z), -0.5), g.add(g.log(std), HALF_LOG_2PI));
  return g.reduceMean(perElement, [1, 2], false);
}

function checkSize(v: Float32Array, x: Float32Array, what: string): void {
  if (v.length !== x.length) throw new Error(`${what}: velocity has ${v.length} values, latents have ${x.length}`);
}
