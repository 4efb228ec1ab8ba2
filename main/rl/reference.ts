// The GRPO objective of losses.ts in plain TypeScript (float64), with its gradient derived by hand. The
// tests check the ONNX graph's value and its autodiff gradient against this, and this against numbers
// worked out on paper and against finite differences.
import type { ClipKl, NftOptions } from './losses.ts';

export interface ReferenceTerm {
  loss: number;
  policyLoss: number;
  kl: number;
  clipFraction: number;
  approxKl: number;
}

/** max(-A·r, -A·clip(r)) and its derivative in logp: -A·r where the unclipped side is taken, else 0. */
function ppo(logp: number, old: number, advantage: number, clipRange: number): { value: number; dLogp: number; clipped: boolean } {
  const ratio = Math.exp(logp - old);
  const unclipped = -advantage * ratio;
  const clippedLoss = -advantage * Math.min(1 + clipRange, Math.max(1 - clipRange, ratio));
  // Ties go to the unclipped side (inside the range both sides are equal, with equal derivatives).
  const takeUnclipped = unclipped >= clippedLoss;
  return { value: takeUnclipped ? unclipped : clippedLoss, dLogp: takeUnclipped ? unclipped : 0, clipped: Math.abs(ratio - 1) > clipRange };
}

export interface LmReferenceInputs {
  logProbs: number[][];
  oldLogProbs: number[][];
  refLogProbs: number[][];
  mask: number[][];
  advantages: number[];
}

/**
 * L = (1/B) Σ_b (1/L_b) Σ_t m_bt [ppo_bt + β·k3_bt],  k3 = e^(ref - logp) - (ref - logp) - 1.
 * dL/dlogp_bt = m_bt / (B·L_b) · [dppo_bt + β·(1 - e^(ref - logp))].
 */
export function referenceLmTerm(x: LmReferenceInputs, { clipRange, klBeta }: ClipKl): ReferenceTerm & { dLogProbs: number[][] } {
  const B = x.logProbs.length;
  let policyLoss = 0;
  let kl = 0;
  let tokens = 0;
  let clipped = 0;
  let squaredLogRatio = 0;
  const dLogProbs = x.logProbs.map((row, b) => {
    const length = Math.max(
      1,
      x.mask[b]!.reduce((s, m) => s + m, 0),
    );
    return row.map((logp, t) => {
      const m = x.mask[b]![t]!;
      const p = ppo(logp, x.oldLogProbs[b]![t]!, x.advantages[b]!, clipRange);
      const gap = x.refLogProbs[b]![t]! - logp;
      policyLoss += (m * p.value) / length / B;
      kl += (m * (Math.exp(gap) - gap - 1)) / length / B;
      tokens += m;
      clipped += m * Number(p.clipped);
      squaredLogRatio += m * (logp - x.oldLogProbs[b]![t]!) ** 2;
      return (m / (B * length)) * (p.dLogp + klBeta * (1 - Math.exp(gap)));
    });
  });
  tokens = Math.max(tokens, 1);
  return {
    loss: policyLoss + klBeta * kl,
    policyLoss,
    kl,
    clipFraction: clipped / tokens,
    approxKl: (0.5 * squaredLogRatio) / tokens,
    dLogProbs,
  };
}

export interface DmReferenceInputs {
  logProbs: number[];
  oldLogProbs: number[];
  /** [N][D] flattened latent elements per row. */
  means: number[][];
  refMeans: number[][];
  stds: number[];
  advantages: number[];
}

/**
 * L = (1/N) Σ_n ppo_n + β·(1/N) Σ_n mean_d (mu - mu_ref)^2 / (2 s_n^2).
 * dL/dlogp_n = dppo_n / N;  dL/dmu_nd = β·(mu_nd - mu_ref_nd) / (N·D·s_n^2).
 */
export function referenceDmTerm(
  x: DmReferenceInputs,
  { clipRange, klBeta }: ClipKl,
): ReferenceTerm & { dLogProbs: number[]; dMeans: number[][] } {
  const N = x.logProbs.length;
  let policyLoss = 0;
  let kl = 0;
  let clipped = 0;
  let squaredLogRatio = 0;
  const dLogProbs = x.logProbs.map((logp, n) => {
    const p = ppo(logp, x.oldLogProbs[n]!, x.advantages[n]!, clipRange);
    policyLoss += p.value / N;
    clipped += Number(p.clipped);
    squaredLogRatio += (logp - x.oldLogProbs[n]!) ** 2;
    return p.dLogp / N;
  });
  const dMeans = x.means.map((row, n) => {
    const D = row.length;
    const s2 = x.stds[n]! ** 2;
    kl += row.reduce((s, mu, d) => s + (mu - x.refMeans[n]![d]!) ** 2, 0) / D / (2 * s2) / N;
    return row.map((mu, d) => (klBeta * (mu - x.refMeans[n]![d]!)) / (N * D * s2));
  });
  return {
    loss: policyLoss + klBeta * kl,
    policyLoss,
    kl,
    clipFraction: clipped / N,
    approxKl: (0.5 * squaredLogRatio) / N,
    dLogProbs,
    dMeans,
  };
}

export interface NftReferenceInputs {
  /** [R][D] flattened latent elements per row. */
  velocity: number[][];
  oldVelocity: number[][];
  target: number[][];
  refVelocity?: number[][];
  t: number[];
  r: number[];
}

/** The adaptive weights per row, w± = max(mean_d |t·(v± - v*)|, 1e-5). */
export interface NftWeights {
  positive: number[];
  negative: number[];
}

/**
 * L = (1/R) Σ_n [r_n·L+_n + (1-r_n)·L-_n] / β + klBeta·(1/R) Σ_n mean_d (v - v_ref)², with u± = v± - v*,
 * v+ = (1-β)·v_old + β·v, v- = (1+β)·v_old - β·v, and L± = c±·mean_d u±²: c = 1 plain, c = t²/w± adaptive
 * (w± held constant: `weights` fixes them, as the graph's stop-gradient does, for finite differences).
 * dL/dv_nd = (1/R)·[r·2c+·u+_d - (1-r)·2c-·u-_d] / D + 2·klBeta·(v - v_ref)_d / (R·D)   (dv±/dv = ±β cancels 1/β).
 */
export function referenceNftTerm(
  x: NftReferenceInputs,
  { beta, klBeta, adaptiveWeight }: NftOptions,
  weights?: NftWeights,
): { loss: number; policyLoss: number; kl: number; dVelocity: number[][]; weights: NftWeights } {
  const R = x.velocity.length;
  let policyLoss = 0;
  let kl = 0;
  const used: NftWeights = { positive: [], negative: [] };
  const dVelocity = x.velocity.map((v, n) => {
    const D = v.length;
    const t = x.t[n]!;
    const r = x.r[n]!;
    const vOld = x.oldVelocity[n]!;
    const uPos = v.map((vd, d) => (1 - beta) * vOld[d]! + beta * vd - x.target[n]![d]!);
    const uNeg = v.map((vd, d) => (1 + beta) * vOld[d]! - beta * vd - x.target[n]![d]!);
    const scale = (u: number[], side: keyof NftWeights): number => {
      if (!adaptiveWeight) return 1;
      const w = weights?.[side][n] ?? Math.max(u.reduce((a, ud) => a + Math.abs(t * ud), 0) / D, 1e-5);
      used[side].push(w);
      return (t * t) / w;
    };
    const cPos = scale(uPos, 'positive');
    const cNeg = scale(uNeg, 'negative');
    const meanSquare = (u: number[]) => u.reduce((a, ud) => a + ud * ud, 0) / D;
    policyLoss += (r * cPos * meanSquare(uPos) + (1 - r) * cNeg * meanSquare(uNeg)) / beta / R;
    const ref = x.refVelocity?.[n];
    if (ref) kl += v.reduce((a, vd, d) => a + (vd - ref[d]!) ** 2, 0) / D / R;
    const klGrad = (vd: number, d: number) => (ref ? 2 * klBeta * (vd - ref[d]!) : 0);
    return v.map((vd, d) => (r * 2 * cPos * uPos[d]! - (1 - r) * 2 * cNeg * uNeg[d]! + klGrad(vd, d)) / (R * D));
  });
  return { loss: policyLoss + klBeta * kl, policyLoss, kl, dVelocity, weights: used };
}
