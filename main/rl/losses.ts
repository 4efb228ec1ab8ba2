// The joint GRPO objective of UniRL-Zero (REFERENCE §1) as ONNX graph pieces, so the engine's autodiff
// differentiates it through the model: loss = LM term + DM term, one shared advantage per sample.
// The same maths in plain TypeScript (with hand-derived gradients) is in reference.ts; the tests hold
// the two against each other and against numbers worked out by hand.
import type { GraphBuilder, Tensor } from '../engine/graph/builder.ts';

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
function ppoClip(g: GraphBuilder, logProbs: Tensor, oldLogProbs: Tensor, advantages: Tensor, clipRange: number): { perElement: Tensor; clipped: Tensor; logRatio: Tensor } {
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
    const sequenceMean = (perToken: Tensor) => g.reduceMean(g.div(g.reduceSum(g.mul(perToken, mask), [1], false), lengths), undefined, false);
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
  terms: { lm?: { inputs: LmTermInputs; logits?: Tensor; weight?: Tensor } & ClipKl; dm?: { inputs: DmTermInputs; weight?: Tensor } & ClipKl },
): GrpoObjective {
  const parts: { kind: string; term: TermGraph; weight?: Tensor }[] = [];
  if (terms.lm) parts.push({ kind: 'lm', term: lmTermGraph(g, terms.lm.inputs, terms.lm, terms.lm.logits), ...(terms.lm.weight ? { weight: terms.lm.weight } : {}) });
  if (terms.dm) parts.push({ kind: 'dm', term: grpoTermGraph(dmGrpoTerm(g, terms.dm.inputs, terms.dm)), ...(terms.dm.weight ? { weight: terms.dm.weight } : {}) });
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
