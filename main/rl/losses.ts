// The joint GRPO objective of UniRL-Zero (REFERENCE §1) as ONNX graph pieces, so the engine's autodiff
// differentiates it through the model: loss = LM term + DM term, one shared advantage per sample. Also the
// DiffusionNFT forward-process DM term (nftTerm) with the rows it trains on (nftRows) and its optimality
// probability. The same maths in plain TypeScript (with hand-derived gradients) is in reference.ts; the
// tests hold the two against each other and against numbers worked out by hand.
import type { GraphBuilder, Tensor } from '../engine/graph/builder.ts';
import type { Rng } from '../engine/runtime/rng.ts';

export interface ClipKl {
  /** PPO clip epsilon. */
  clipRange: number;
  /** KL penalty weight. */
  klBeta: number;
}

/** LM tokens of B sequences padded to T. Everything but `logProbs` is fed from the rollout and the reference. */
export interface LmTermInputs {
  /** [B, T] log-probs of the sampled tokens under the policy being trained (from the model graph). */
  logProbs: Tensor;
  /** [B, T] log-probs recorded at rollout time. */
  oldLogProbs: Tensor;
  /** [B, T] log-probs under the frozen reference LM. */
  refLogProbs: Tensor;
  /** [B, T] 1 for generated tokens, 0 for padding (float). */
  mask: Tensor;
  /** [B] advantage of each sequence's sample. */
  advantages: Tensor;
}

/**
 * DM steps as N rows, one per trained (sample, step) pair (the forward and reverse trajectories of an
 * edit are just more rows). The advantage is the sample's, repeated over its steps.
 */
export interface DmTermInputs {
  /** [N] log-prob of the recorded next latent under the policy's Gaussian (averaged over elements). */
  logProbs: Tensor;
  /** [N] the same, recorded at rollout time. */
  oldLogProbs: Tensor;
  /** [N, ...] the policy's step means (from the model graph). */
  means: Tensor;
  /** [N, ...] the frozen reference's step means. */
  refMeans: Tensor;
  /** [N] std of each step's Gaussian, sigma_t·sqrt(|dt|). */
  stds: Tensor;
  /** [N] advantage of each row's sample. */
  advantages: Tensor;
}

export interface TermResult {
  /** Scalar: policy loss + beta·KL. */
  loss: Tensor;
  /** Scalars for logging (no gradient is asked of them). */
  policyLoss: Tensor;
  kl: Tensor;
  /** Fraction of ratios outside [1 - eps, 1 + eps]. */
  clipFraction: Tensor;
  /** 0.5·mean((logp - logp_old)^2). */
  approxKl: Tensor;
}

/**
 * PPO-clip per element: max(-A·r, -A·clip(r, 1-eps, 1+eps)) with r = exp(logp - logp_old); the
 * pessimistic bound. Where the ratio is inside the range the two agree and the gradient is -A·r·dlogp;
 * where clipping binds, no gradient.
 */
function ppoClip(
  g: GraphBuilder,
  logProbs: Tensor,
  oldLogProbs: Tensor,
  advantages: Tensor,
  clipRange: number,
): { perElement: Tensor; clipped: Tensor; logRatio: Tensor } {
  const logRatio = g.sub(logProbs, oldLogProbs);
  const ratio = g.exp(logRatio);
  const negA = g.neg(advantages);
  const unclipped = g.mul(negA, ratio);
  const clippedLoss = g.mul(negA, g.clip(ratio, 1 - clipRange, 1 + clipRange));
  const clipped = g.cast(g.greater(g.abs(g.sub(ratio, 1)), clipRange), logProbs.dtype);
  return { perElement: g.max(unclipped, clippedLoss), clipped, logRatio };
}

/**
 * LM term: per token, PPO-clip + beta·k3 with k3 = exp(ref - logp) - (ref - logp) - 1; masked mean over
 * each sequence, then mean over sequences. Clip fraction and approx KL are means over all unmasked tokens.
 */
export function lmGrpoTerm(g: GraphBuilder, inputs: LmTermInputs, { clipRange, klBeta }: ClipKl): TermResult {
  return g.scope('lm_grpo', () => {
    const { logProbs, oldLogProbs, refLogProbs, mask } = inputs;
    const advantages = g.unsqueeze(inputs.advantages, [1]); // [B, 1]
    const { perElement, clipped, logRatio } = ppoClip(g, logProbs, oldLogProbs, advantages, clipRange);
    const refGap = g.sub(refLogProbs, logProbs);
    const k3 = g.sub(g.sub(g.exp(refGap), refGap), 1);
    // An empty sequence (all padding) divides by 1, not 0: it then adds nothing.
    const lengths = g.max(g.reduceSum(mask, [1], false), 1); // [B]
    const sequenceMean = (perToken: Tensor) =>
      g.reduceMean(g.div(g.reduceSum(g.mul(perToken, mask), [1], false), lengths), undefined, false);
    const tokens = g.max(g.reduceSum(mask, undefined, false), 1);
    const tokenMean = (perToken: Tensor) => g.div(g.reduceSum(g.mul(perToken, mask), undefined, false), tokens);
    const policyLoss = sequenceMean(perElement);
    const kl = sequenceMean(k3);
    return {
      loss: klBeta === 0 ? policyLoss : g.add(policyLoss, g.mul(kl, klBeta)),
      policyLoss,
      kl,
      clipFraction: tokenMean(clipped),
      approxKl: g.mul(tokenMean(g.mul(logRatio, logRatio)), 0.5),
    };
  });
}

/**
 * DM term: PPO-clip on the per-step Gaussian log-probs, mean over rows; plus beta·KL with the KL of
 * two Gaussians of equal std per row, mean((mu - mu_ref)^2) / (2·std^2), the mean taken over the latent
 * elements as the log-prob is (Flow-GRPO's code), then over rows.
 */
export function dmGrpoTerm(g: GraphBuilder, inputs: DmTermInputs, { clipRange, klBeta }: ClipKl): TermResult {
  return g.scope('dm_grpo', () => {
    const { logProbs, oldLogProbs, means, refMeans, stds, advantages } = inputs;
    const { perElement, clipped, logRatio } = ppoClip(g, logProbs, oldLogProbs, advantages, clipRange);
    const policyLoss = g.reduceMean(perElement, undefined, false);
    const diff = g.sub(means, refMeans);
    const elementAxes = Array.from({ length: means.rank - 1 }, (_, i) => i + 1);
    const meanSquare = g.reduceMean(g.mul(diff, diff), elementAxes, false); // [N]
    const kl = g.reduceMean(g.div(meanSquare, g.mul(g.mul(stds, stds), 2)), undefined, false);
    return {
      loss: klBeta === 0 ? policyLoss : g.add(policyLoss, g.mul(kl, klBeta)),
      policyLoss,
      kl,
      clipFraction: g.reduceMean(clipped, undefined, false),
      approxKl: g.mul(g.reduceMean(g.mul(logRatio, logRatio), undefined, false), 0.5),
    };
  });
}

/**
 * DiffusionNFT (negative-aware fine-tuning, NVlabs/DiffusionNFT) trains on the forward process: rows are
 * (sample, t) pairs at noised points x_t = (1-t)·x0 + t·eps of the samples' final clean latents x0, with the
 * flow-matching target v* = eps - x0 (flow.ts's convention, the paper's too). From the policy's velocity v
 * and the old policy's v_old at x_t (in the paper's code an EMA of the trained weights, decay min(0.001·step,
 * 0.5) after each step's update; the rollouts themselves use the current weights), two implicit policies:
 *   v+ = (1-β)·v_old + β·v      (the positive policy, pulled towards v* by well-rewarded samples)
 *   v- = (1+β)·v_old - β·v      (its mirror about v_old, pulled towards v* by badly rewarded ones)
 * so moving v+ towards a good sample's v* and v- towards a bad one's moves v towards the first and away
 * from the second. Per row, with r in [0, 1] its sample's optimality probability:
 *   loss_row = [r·L(v+) + (1-r)·L(v-)] / β,     L(u) = mean_d (u - v*)²       (plain flow matching)
 * or, with the adaptive weighting of the paper's code (adaptiveWeight: true), measured on the x0 prediction
 * x0(u) = x_t - t·u, whose error is x0(u) - x0 = t·(v* - u):
 *   L(u) = mean_d (t·(u - v*))² / sg(max(mean_d |t·(u - v*)|, 1e-5))
 * (a self-normalised error: rows whose prediction is far off do not dominate; sg = no gradient, the
 * `stopGradient` values to pass to grad()). The 1/β keeps the gradient's size independent of β (dv±/dv = ±β).
 * loss = mean over rows + klBeta·mean_rows mean_d (v - v_ref)². No likelihoods: any sampler (the ODE too)
 * gives the samples, without CFG. The paper's code also multiplies the policy loss by its advantage clip (5),
 * a constant that Adam's steps do not see; here klBeta is relative to the loss without it (the paper's 1e-4
 * against 5x is 2e-5 here).
 */
export interface NftTermInputs {
  /** [R, ...] the policy's velocity at each row's x_t (from the model graph). */
  velocity: Tensor;
  /** [R, ...] the old policy's velocity at the same x_t (fed). */
  oldVelocity: Tensor;
  /** [R, ...] flow-matching target v* = eps - x0 (nftRows). */
  target: Tensor;
  /** [R] time of each row's x_t. */
  t: Tensor;
  /** [R] optimality probability of each row's sample (optimalityProbability). */
  r: Tensor;
  /** [R, ...] the frozen reference's velocity; needed when klBeta > 0. */
  refVelocity?: Tensor;
}

export interface NftOptions {
  /** β: how far the implicit policies stand from the old one (the paper's GenEval config: 1; OCR 0.1). */
  beta: number;
  /** Weight of mean (v - v_ref)². */
  klBeta: number;
  /** The paper's self-normalised x0 error (true) or plain velocity flow matching (false). */
  adaptiveWeight: boolean;
}

export interface NftTermResult {
  /** Scalar: policy loss + klBeta·KL. */
  loss: Tensor;
  policyLoss: Tensor;
  /** mean_rows mean_d (v - v_ref)² (0 without a reference). */
  kl: Tensor;
  /** mean (v - v_old)²: how far the update has moved from the sampling policy (a metric). */
  oldDeviation: Tensor;
  /** Values grad() must treat as constants (`stopGradient: stopGradient.map((t) => t.name)`). */
  stopGradient: Tensor[];
}

/** The DiffusionNFT term (see NftTermInputs for the maths). */
export function nftTerm(g: GraphBuilder, inputs: NftTermInputs, { beta, klBeta, adaptiveWeight }: NftOptions): NftTermResult {
  if (!(beta > 0)) throw new Error(`nftTerm: beta must be > 0, got ${beta}`);
  return g.scope('dm_nft', () => {
    const { velocity: v, oldVelocity: vOld, target } = inputs;
    const elementAxes = Array.from({ length: v.rank - 1 }, (_, i) => i + 1);
    const rowMean = (x: Tensor) => g.reduceMean(x, elementAxes, false); // [R]
    const t = g.unsqueeze(inputs.t, elementAxes); // [R, 1, ...]
    const stopGradient: Tensor[] = [];
    const fitLoss = (u: Tensor, side: string): Tensor => {
      const error = g.sub(u, target);
      if (!adaptiveWeight) return rowMean(g.mul(error, error));
      const x0Error = g.mul(t, error);
      const weight = g.identity(g.max(rowMean(g.abs(x0Error)), 1e-5), `${side}_weight`);
      stopGradient.push(weight);
      return g.div(rowMean(g.mul(x0Error, x0Error)), weight);
    };
    const positive = fitLoss(g.add(g.mul(vOld, 1 - beta), g.mul(v, beta)), 'positive');
    const negative = fitLoss(g.sub(g.mul(vOld, 1 + beta), g.mul(v, beta)), 'negative');
    const r = inputs.r;
    const perRow = g.div(g.add(g.mul(r, positive), g.mul(g.sub(1, r), negative)), beta);
    const policyLoss = g.reduceMean(perRow, undefined, false);
    const drift = g.sub(v, vOld);
    const oldDeviation = g.reduceMean(g.mul(drift, drift), undefined, false);
    if (klBeta > 0 && !inputs.refVelocity) throw new Error('nftTerm: klBeta > 0 needs the reference velocity');
    const fromRef = inputs.refVelocity ? g.sub(v, inputs.refVelocity) : undefined;
    const kl = fromRef ? g.reduceMean(rowMean(g.mul(fromRef, fromRef)), undefined, false) : g.scalar(0);
    return { loss: klBeta === 0 ? policyLoss : g.add(policyLoss, g.mul(kl, klBeta)), policyLoss, kl, oldDeviation, stopGradient };
  });
}

/** The rows nftTerm trains on for one sample: times, noised latents, targets, and its r repeated. */
export interface NftRows {
  /** [K] times, distinct, from the given grid. */
  t: Float32Array;
  /** [K, ...] x_t = (1-t)·x0 + t·eps, fresh eps per row. */
  xt: Float32Array;
  /** [K, ...] v* = eps - x0. */
  target: Float32Array;
  /** [K] the sample's optimality probability. */
  r: Float32Array;
}

/**
 * K rows of one sample with clean latent x0: K distinct times drawn from `times` (the paper trains each
 * sample at a shuffled subset of its sampler's own time grid: pass timeGrid(steps, shift) without the final
 * 0, and K = the trained fraction of the steps), each with its own eps ~ N(0, I).
 */
export function nftRows(x0: Float32Array, r: number, rng: Rng, { times, count }: { times: ArrayLike<number>; count: number }): NftRows {
  if (!(r >= 0 && r <= 1)) throw new Error(`nftRows: r must be in [0, 1], got ${r}`);
  const pool = Array.from(times);
  if (pool.some((t) => !(t > 0 && t <= 1))) throw new Error(`nftRows: times must be in (0, 1], got ${pool.join(', ')}`);
  if (!Number.isInteger(count) || count < 1 || count > pool.length) {
    throw new Error(`nftRows: count must be 1..${pool.length}, got ${count}`);
  }
  // Partial Fisher-Yates: the first `count` entries become a uniform draw without replacement.
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rng.uniform() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  const D = x0.length;
  const rows: NftRows = {
    t: Float32Array.from(pool.slice(0, count)),
    xt: new Float32Array(count * D),
    target: new Float32Array(count * D),
    r: new Float32Array(count).fill(r),
  };
  for (let k = 0; k < count; k++) {
    const t = rows.t[k]!;
    for (let d = 0; d < D; d++) {
      const eps = rng.normal();
      rows.xt[k * D + d] = (1 - t) * x0[d]! + t * eps;
      rows.target[k * D + d] = eps - x0[d]!;
    }
  }
  return rows;
}

/**
 * DiffusionNFT's optimality probability of a sample from its advantage: r = (clamp(A, -c, c) + c) / (2c),
 * the clipped advantage mapped linearly onto [0, 1] (A = 0 -> 1/2: the sample pulls v+ and v- equally and
 * v stays). c is the advantage clip (config loss.advantageClip, the paper's 5); winRate advantages span
 * [-1, 1], so c = 1 uses their whole range there.
 */
export function optimalityProbability(advantage: number, clip: number): number {
  if (!(clip > 0)) throw new Error(`optimalityProbability: clip must be > 0, got ${clip}`);
  return (Math.min(clip, Math.max(-clip, advantage)) + clip) / (2 * clip);
}

/**
 * Masked mean over tokens of the entropy of the LM's next-token distribution (a metric: its gradient is
 * never asked for). logits [B, T, V], mask [B, T].
 */
export function tokenEntropy(g: GraphBuilder, logits: Tensor, mask: Tensor): Tensor {
  return g.scope('lm_entropy', () => {
    const logp = g.logSoftmax(logits, -1);
    const entropy = g.neg(g.reduceSum(g.mul(g.exp(logp), logp), [-1], false)); // [B, T]
    return g.div(g.reduceSum(g.mul(entropy, mask), undefined, false), g.max(g.reduceSum(mask, undefined, false), 1));
  });
}

export interface GrpoObjective {
  /** Scalar LM term + DM term: what `grad` differentiates. */
  loss: Tensor;
  /** Scalars keyed by their metric name ('policy_loss/lm', 'kl/dm', ...). */
  metrics: Record<string, Tensor>;
}

/** A term on the graph: its scalar loss and its metrics by short name ('policy_loss', 'kl', ...). */
export interface TermGraph {
  loss: Tensor;
  metrics: Record<string, Tensor>;
  /** Values the gradient must treat as constants (grad's stopGradient). */
  stopGradient?: Tensor[];
}

/** A clipped GRPO term's loss and metrics under their short names. */
export function grpoTermGraph(r: TermResult): TermGraph {
  return { loss: r.loss, metrics: { policy_loss: r.policyLoss, kl: r.kl, clip_fraction: r.clipFraction, approx_kl: r.approxKl } };
}

/**
 * loss = the sum of the terms, with each term's metrics as '<metric>/<kind>'. A term's `weight` (a scalar
 * input) scales it and its metrics: a batch updated in passes weighs each pass's means by its share of the
 * batch's completions or rows, so the passes' sums are the whole batch's means (the LM's token means, a
 * metric each, combine by completions: close to the batch's, not equal).
 */
export function combineTerms(g: GraphBuilder, terms: readonly { kind: string; term: TermGraph; weight?: Tensor }[]): GrpoObjective {
  if (terms.length === 0) throw new Error('grpoObjective: no LM and no DM term');
  const metrics: Record<string, Tensor> = {};
  const scaled = (t: Tensor, weight: Tensor | undefined) => (weight ? g.mul(t, weight) : t);
  for (const { kind, term, weight } of terms) {
    for (const [name, t] of Object.entries(term.metrics)) metrics[`${name}/${kind}`] = scaled(t, weight);
  }
  return { loss: g.sum(terms.map(({ term, weight }) => scaled(term.loss, weight))), metrics };
}

/** The joint GRPO objective of UniRL-Zero: the clipped LM term (with its entropy metric when given the logits) and the clipped DM term. */
export function grpoObjective(
  g: GraphBuilder,
  terms: {
    lm?: { inputs: LmTermInputs; logits?: Tensor; weight?: Tensor } & ClipKl;
    dm?: { inputs: DmTermInputs; weight?: Tensor } & ClipKl;
  },
): GrpoObjective {
  const parts: { kind: string; term: TermGraph; weight?: Tensor }[] = [];
  if (terms.lm)
    parts.push({
      kind: 'lm',
      term: lmTermGraph(g, terms.lm.inputs, terms.lm, terms.lm.logits),
      ...(terms.lm.weight ? { weight: terms.lm.weight } : {}),
    });
  if (terms.dm)
    parts.push({
      kind: 'dm',
      term: grpoTermGraph(dmGrpoTerm(g, terms.dm.inputs, terms.dm)),
      ...(terms.dm.weight ? { weight: terms.dm.weight } : {}),
    });
  return combineTerms(g, parts);
}

/** The LM term with the entropy of its next-token distributions as a metric when the logits are given. */
export function lmTermGraph(g: GraphBuilder, inputs: LmTermInputs, hyper: ClipKl, logits?: Tensor): TermGraph {
  const term = grpoTermGraph(lmGrpoTerm(g, inputs, hyper));
  if (logits) term.metrics.entropy = tokenEntropy(g, logits, inputs.mask);
  return term;
}

/** Graph output name of a metric ('metric/kl/lm'). */
export const metricOutput = (name: string) => `metric/${name}`;

/** Marks the objective's loss (as `lossName`) and metrics (as `metric/<name>`) as graph outputs. */
export function outputObjective(g: GraphBuilder, objective: GrpoObjective, lossName = 'loss'): void {
  g.output(objective.loss, lossName);
  for (const [name, t] of Object.entries(objective.metrics)) g.output(t, metricOutput(name));
}
