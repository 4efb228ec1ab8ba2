// A Bradley-Terry preference reward model: a small head on a feature vector of an image (the model's
// vision-encoder features, or any encoder's) -> a scalar score, trained on preference pairs so that
// P(winner beats loser) = sigmoid(s(winner) - s(loser)). Plain TypeScript: it is tiny and trains in
// milliseconds, so it can be retrained whenever labels arrive.
import { Rng, seedFor } from '../engine/runtime/rng.ts';
import type { PreferencePair } from './ranking.ts';

export interface PreferenceTrainOptions {
  /** Hidden width (tanh); 0 = a linear score. Default 32. */
  hidden?: number;
  /** Adam learning rate. Default 1e-2. */
  lr?: number;
  /** Full-batch Adam steps. Default 200. */
  epochs?: number;
  /** L2 penalty on the weights. Default 1e-4. */
  l2?: number;
  /** Fraction of groups (or of pairs, when pairs have no group) held out for the accuracy. Default 0.2. */
  heldoutFraction?: number;
  seed?: number;
}

/** A pair with the group it came from, so held-out pairs come from groups never seen in training. */
export interface GroupedPair extends PreferencePair {
  group?: number;
}

export interface PreferenceTrainResult {
  model: PreferenceModel;
  trainPairs: number;
  heldoutPairs: number;
  /** Fraction of held-out pairs the model orders correctly (null when none were held out). */
  heldoutAccuracy: number | null;
  trainAccuracy: number;
  /** Mean -log sigmoid(s_w - s_l) on the training pairs, before and after training. */
  lossBefore: number;
  lossAfter: number;
}

/** The serialisable weights: features are standardised, then h = tanh(W1 x + b1), s = v . h (or s = v . x). */
export interface PreferenceWeights {
  inputSize: number;
  hidden: number;
  featureMean: number[];
  featureStd: number[];
  /** [hidden][inputSize] row-major; empty when hidden = 0. */
  w1: number[];
  b1: number[];
  /** [hidden] (or [inputSize] when linear). */
  v: number[];
}

export class PreferenceModel {
  constructor(readonly weights: PreferenceWeights) {
    const { inputSize, hidden, featureMean, featureStd, w1, b1, v } = weights;
    const sizes: [string, number, number][] = [
      ['featureMean', featureMean.length, inputSize],
      ['featureStd', featureStd.length, inputSize],
      ['w1', w1.length, hidden * inputSize],
      ['b1', b1.length, hidden],
      ['v', v.length, hidden || inputSize],
    ];
    for (const [name, got, want] of sizes) {
      if (got !== want) throw new Error(`PreferenceModel: ${name} has ${got} values, expected ${want}`);
    }
  }

  /** The reward of an image from its feature vector. */
  score(features: ArrayLike<number>): number {
    if (features.length !== this.weights.inputSize) {
      throw new Error(`PreferenceModel.score: expected ${this.weights.inputSize} features, got ${features.length}`);
    }
    return forward(this.weights, standardise(this.weights, features)).score;
  }

  /** Fraction of pairs ordered correctly (a tie counts as wrong). */
  accuracy(pairs: readonly PreferencePair[], features: FeatureLookup): number {
    if (pairs.length === 0) throw new Error('PreferenceModel.accuracy: no pairs');
    const correct = pairs.filter((p) => this.score(features(p.winner)) > this.score(features(p.loser))).length;
    return correct / pairs.length;
  }

  toJSON(): PreferenceWeights {
    return this.weights;
  }
}

/** The preference reward in [-1, 1]: 2 sigmoid(score) - 1 (what the trainer and the reward service use). */
export function preferenceReward(model: PreferenceModel, features: ArrayLike<number>): number {
  return 2 / (1 + Math.exp(-model.score(features))) - 1;
}

/** Features of a sample by id (throws for an unknown id). */
export type FeatureLookup = (sampleId: number) => ArrayLike<number>;

/** Trains a Bradley-Terry head on `pairs`, holding some groups out to measure pair accuracy. */
export function trainPreferenceModel(
  pairs: readonly GroupedPair[],
  features: FeatureLookup,
  options: PreferenceTrainOptions = {},
): PreferenceTrainResult {
  const { hidden = 32, lr = 1e-2, epochs = 200, l2 = 1e-4, heldoutFraction = 0.2, seed = 0 } = options;
  if (pairs.length === 0) throw new Error('trainPreferenceModel: no pairs');
  if (!Number.isInteger(hidden) || hidden < 0) throw new Error(`trainPreferenceModel: hidden must be an integer >= 0, got ${hidden}`);
  const rng = new Rng(seedFor(seed, 'preference'));
  const { train, heldout } = splitPairs(pairs, heldoutFraction, rng);

  const ids = [...new Set(train.flatMap((p) => [p.winner, p.loser]))];
  const raw = new Map(ids.map((id) => [id, Float64Array.from(features(id))]));
  const inputSize = raw.get(ids[0]!)!.length;
  for (const [id, f] of raw)
    if (f.length !== inputSize) throw new Error(`trainPreferenceModel: sample ${id} has ${f.length} features, others ${inputSize}`);
  const { mean, std } = featureStats([...raw.values()], inputSize);

  const weights: PreferenceWeights = {
    inputSize,
    hidden,
    featureMean: mean,
    featureStd: std,
    w1: Array.from({ length: hidden * inputSize }, () => rng.normal() / Math.sqrt(inputSize)),
    b1: Array<number>(hidden).fill(0),
    v: Array.from({ length: hidden || inputSize }, () => (hidden ? rng.normal() / Math.sqrt(hidden) : 0)),
  };
  const x = new Map([...raw].map(([id, f]) => [id, standardise(weights, f)]));
  const params = [weights.w1, weights.b1, weights.v];
  const adam = params.map((p) => ({ m: new Float64Array(p.length), s: new Float64Array(p.length) }));
  const lossBefore = pairLoss(weights, train, x).loss;
  for (let t = 1; t <= epochs; t++) {
    const { grads } = pairLoss(weights, train, x);
    params.forEach((p, k) => {
      const g = grads[k]!;
      const { m, s } = adam[k]!;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]! + l2 * p[i]!;
        m[i] = 0.9 * m[i]! + 0.1 * gi;
        s[i] = 0.999 * s[i]! + 0.001 * gi * gi;
        p[i]! -= (lr * (m[i]! / (1 - 0.9 ** t))) / (Math.sqrt(s[i]! / (1 - 0.999 ** t)) + 1e-8);
      }
    });
  }
  const model = new PreferenceModel(weights);
  return {
    model,
    trainPairs: train.length,
    heldoutPairs: heldout.length,
    heldoutAccuracy: heldout.length ? model.accuracy(heldout, features) : null,
    trainAccuracy: model.accuracy(train, features),
    lossBefore,
    lossAfter: pairLoss(weights, train, x).loss,
  };
}

function splitPairs(pairs: readonly GroupedPair[], fraction: number, rng: Rng): { train: GroupedPair[]; heldout: GroupedPair[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`trainPreferenceModel: heldoutFraction must be in [0, 1), got ${fraction}`);
  const keyOf = (p: GroupedPair, i: number) => (p.group === undefined ? `pair${i}` : `group${p.group}`);
  const keys = [...new Set(pairs.map(keyOf))];
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  // Hold out at least one unit when asked to and enough are there, never all of them.
  const count = fraction === 0 || keys.length < 2 ? 0 : Math.min(keys.length - 1, Math.max(1, Math.round(fraction * keys.length)));
  const held = new Set(keys.slice(0, count));
  const train: GroupedPair[] = [];
  const heldout: GroupedPair[] = [];
  pairs.forEach((p, i) => (held.has(keyOf(p, i)) ? heldout : train).push(p));
  return { train, heldout };
}

function featureStats(rows: readonly Float64Array[], size: number): { mean: number[]; std: number[] } {
  const mean = Array<number>(size).fill(0);
  const std = Array<number>(size).fill(0);
  for (const r of rows) for (let i = 0; i < size; i++) mean[i]! += r[i]! / rows.length;
  for (const r of rows) for (let i = 0; i < size; i++) std[i]! += (r[i]! - mean[i]!) ** 2 / rows.length;
  // A constant feature carries no preference: divide by 1 instead of 0.
  return { mean, std: std.map((v) => (v > 1e-12 ? Math.sqrt(v) : 1)) };
}

function standardise(w: PreferenceWeights, f: ArrayLike<number>): Float64Array {
  const out = new Float64Array(w.inputSize);
  for (let i = 0; i < w.inputSize; i++) out[i] = (f[i]! - w.featureMean[i]!) / w.featureStd[i]!;
  return out;
}

/** score and the hidden activations (for backprop). */
function forward(w: PreferenceWeights, x: Float64Array): { score: number; h: Float64Array } {
  if (w.hidden === 0) return { score: x.reduce((s, xi, i) => s + xi * w.v[i]!, 0), h: x };
  const h = new Float64Array(w.hidden);
  let score = 0;
  for (let j = 0; j < w.hidden; j++) {
    let pre = w.b1[j]!;
    for (let i = 0; i < w.inputSize; i++) pre += w.w1[j * w.inputSize + i]! * x[i]!;
    h[j] = Math.tanh(pre);
    score += w.v[j]! * h[j]!;
  }
  return { score, h };
}

/**
 * L = mean over pairs of softplus(-(s_w - s_l)); dL/d(s_w - s_l) = -sigmoid(-(s_w - s_l)) / N.
 * Returns gradients for [w1, b1, v].
 */
function pairLoss(
  w: PreferenceWeights,
  pairs: readonly PreferencePair[],
  x: ReadonlyMap<number, Float64Array>,
): { loss: number; grads: Float64Array[] } {
  const grads = [new Float64Array(w.w1.length), new Float64Array(w.b1.length), new Float64Array(w.v.length)];
  const cache = new Map<number, { score: number; h: Float64Array }>();
  const run = (id: number) => cache.get(id) ?? cache.set(id, forward(w, x.get(id)!)).get(id)!;
  const dScore = new Map<number, number>();
  let loss = 0;
  for (const p of pairs) {
    const margin = run(p.winner).score - run(p.loser).score;
    loss += margin > 0 ? Math.log1p(Math.exp(-margin)) : -margin + Math.log1p(Math.exp(margin));
    const g = -1 / (1 + Math.exp(margin)) / pairs.length;
    dScore.set(p.winner, (dScore.get(p.winner) ?? 0) + g);
    dScore.set(p.loser, (dScore.get(p.loser) ?? 0) - g);
  }
  const [gw1, gb1, gv] = grads as [Float64Array, Float64Array, Float64Array];
  for (const [id, ds] of dScore) {
    const { h } = run(id);
    for (let j = 0; j < gv.length; j++) gv[j]! += ds * h[j]!;
    if (w.hidden === 0) continue;
    const xi = x.get(id)!;
    for (let j = 0; j < w.hidden; j++) {
      const dPre = ds * w.v[j]! * (1 - h[j]! * h[j]!);
      gb1[j]! += dPre;
      for (let i = 0; i < w.inputSize; i++) gw1[j * w.inputSize + i]! += dPre * xi[i]!;
    }
  }
  return { loss: loss / pairs.length, grads };
}
