import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grad, gradName } from '../engine/autodiff/grad.ts';
import { GraphBuilder } from '../engine/graph/builder.ts';
import { encodeModel } from '../engine/onnx/proto.ts';
import { Rng } from '../engine/runtime/rng.ts';
import { createSession } from '../engine/runtime/session.ts';
import { gaussianLogProb, sdeMean, sdeSigma, sdeStd, sdeStepGraph, timeGrid } from '../models/flow.ts';
import {
  grpoObjective,
  metricOutput,
  nftRows,
  nftTerm,
  optimalityProbability,
  outputObjective,
  type ClipKl,
  type NftOptions,
} from './losses.ts';
import {
  referenceDmTerm,
  referenceLmTerm,
  referenceNftTerm,
  type DmReferenceInputs,
  type LmReferenceInputs,
  type NftReferenceInputs,
} from './reference.ts';

const LM: ClipKl = { clipRange: 0.2, klBeta: 0.1 };
const DM: ClipKl = { clipRange: 1e-4, klBeta: 4e-3 };

function near(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol * (1 + Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}
function nearAll(actual: ArrayLike<number>, expected: readonly number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  expected.forEach((e, i) => near(actual[i]!, e, tol, `${what}[${i}]`));
}

/** Builds the objective over fed inputs, differentiates it w.r.t. the policy's log-probs and means, runs it. */
async function runObjective(lm?: LmReferenceInputs, dm?: DmReferenceInputs) {
  const g = new GraphBuilder('grpo_test');
  const feeds: Record<string, { data: Float32Array; shape: number[] }> = {};
  const input = (name: string, rows: number[] | number[][]) => {
    const shape = Array.isArray(rows[0]) ? [rows.length, (rows[0] as number[]).length] : [rows.length];
    feeds[name] = { data: Float32Array.from(rows.flat()), shape };
    return g.input(name, 'float32', shape);
  };
  const terms: Parameters<typeof grpoObjective>[1] = {};
  if (lm) {
    terms.lm = {
      ...LM,
      inputs: {
        logProbs: input('lm_logp', lm.logProbs),
        oldLogProbs: input('lm_old', lm.oldLogProbs),
        refLogProbs: input('lm_ref', lm.refLogProbs),
        mask: input('lm_mask', lm.mask),
        advantages: input('lm_adv', lm.advantages),
      },
    };
  }
  if (dm) {
    terms.dm = {
      ...DM,
      inputs: {
        logProbs: input('dm_logp', dm.logProbs),
        oldLogProbs: input('dm_old', dm.oldLogProbs),
        means: input('dm_mean', dm.means),
        refMeans: input('dm_ref', dm.refMeans),
        stds: input('dm_std', dm.stds),
        advantages: input('dm_adv', dm.advantages),
      },
    };
  }
  outputObjective(g, grpoObjective(g, terms));
  const wrt = [...(lm ? ['lm_logp'] : []), ...(dm ? ['dm_logp', 'dm_mean'] : [])];
  const session = await createSession(encodeModel(grad(g.build(), { loss: 'loss', wrt })), { threads: 1, cache: false });
  const out = await session.run(feeds);
  await session.release();
  const scalar = (name: string) => Number(out[name]!.data[0]);
  const array = (name: string) => Array.from(out[gradName(name)]!.data as Float32Array);
  return { loss: scalar('loss'), metric: (name: string) => scalar(metricOutput(name)), grad: array };
}

// Worked on paper (eps 0.2, beta 0.1). Sequence 0 (A = 1, two tokens): r = 1.1 inside -> -1.1; r = 1.3
// clipped -> -1.2. Sequence 1 (A = -2, three tokens): r = 0.5 clipped -> 1.6; r = 1 -> 2; r = 1.5 unclipped -> 3.
// Policy loss = ((-1.1 - 1.2)/2 + (1.6 + 2 + 3)/3) / 2 = 0.525. KL: one token with ref - logp = ln 2,
// k3 = 2 - ln 2 - 1, in sequence 1 -> (1 - ln 2)/3/2.
const handLm: LmReferenceInputs = {
  logProbs: [
    [-1, -2, -3],
    [-0.5, -0.7, -0.9],
  ],
  oldLogProbs: [
    [-1 - Math.log(1.1), -2 - Math.log(1.3), -3],
    [-0.5 - Math.log(0.5), -0.7, -0.9 - Math.log(1.5)],
  ],
  refLogProbs: [
    [-1, -2, 7],
    [-0.5, -0.7, -0.9 + Math.LN2],
  ],
  mask: [
    [1, 1, 0],
    [1, 1, 1],
  ],
  advantages: [1, -2],
};
const handLmKl = (1 - Math.LN2) / 6;
const handLmValues = {
  policyLoss: 0.525,
  kl: handLmKl,
  loss: 0.525 + 0.1 * handLmKl,
  clipFraction: 3 / 5,
  approxKl: (0.5 * (Math.log(1.1) ** 2 + Math.log(1.3) ** 2 + Math.log(0.5) ** 2 + Math.log(1.5) ** 2)) / 5,
  // d/dlogp: -A·r / (B·L_b) where unclipped, + beta·(1 - e^(ref - logp)) / (B·L_b); padding gets nothing.
  dLogProbs: [
    [-1.1 / 4, 0, 0],
    [0, 2 / 6, 3 / 6 + (0.1 * (1 - 2)) / 6],
  ],
};

// Worked on paper (eps 1e-4, beta 4e-3), 3 rows of 2 elements. Row 0: A = 1, r = 1 -> -1. Row 1: A = 2,
// r = 1.001 clipped -> -2.0002. Row 2: A = -1, r = 1.001 unclipped -> 1.001. Policy loss -1.9992/3.
// KL rows: mean((0.1, -0.1)^2)/(2·0.25) = 0.02; 0; mean((0.3, 0.1)^2)/2 = 0.025 -> 0.015.
const handDm: DmReferenceInputs = {
  logProbs: [0.5, -1, 2],
  oldLogProbs: [0.5, -1 - Math.log(1.001), 2 - Math.log(1.001)],
  means: [
    [0.1, -0.1],
    [1, 2],
    [0.3, 0.1],
  ],
  refMeans: [
    [0, 0],
    [1, 2],
    [0, 0],
  ],
  stds: [0.5, 0.2, 1],
  advantages: [1, 2, -1],
};
const handDmValues = {
  policyLoss: -1.9992 / 3,
  kl: 0.015,
  loss: -1.9992 / 3 + 4e-3 * 0.015,
  clipFraction: 2 / 3,
  approxKl: (0.5 * 2 * Math.log(1.001) ** 2) / 3,
  dLogProbs: [-1 / 3, 0, 1.001 / 3],
  // beta·(mu - mu_ref) / (N·D·s^2)
  dMeans: [
    [(4e-3 * 0.1) / 1.5, (-4e-3 * 0.1) / 1.5],
    [0, 0],
    [(4e-3 * 0.3) / 6, (4e-3 * 0.1) / 6],
  ],
};

test('the LM term matches the hand-worked example (reference and graph, value and gradient)', async () => {
  const ref = referenceLmTerm(handLm, LM);
  for (const key of ['policyLoss', 'kl', 'loss', 'clipFraction', 'approxKl'] as const)
    near(ref[key], handLmValues[key], 1e-12, `reference ${key}`);
  handLmValues.dLogProbs.forEach((row, b) => nearAll(ref.dLogProbs[b]!, row, 1e-12, `reference dLogProbs[${b}]`));

  const graph = await runObjective(handLm);
  near(graph.loss, handLmValues.loss, 1e-5, 'graph loss');
  near(graph.metric('policy_loss/lm'), handLmValues.policyLoss, 1e-5, 'graph policy loss');
  near(graph.metric('kl/lm'), handLmValues.kl, 1e-5, 'graph kl');
  near(graph.metric('clip_fraction/lm'), 0.6, 1e-6, 'graph clip fraction');
  near(graph.metric('approx_kl/lm'), handLmValues.approxKl, 1e-5, 'graph approx kl');
  nearAll(graph.grad('lm_logp'), handLmValues.dLogProbs.flat(), 1e-5, 'graph dLoss/dlogp');
});

test('the DM term matches the hand-worked example (reference and graph, value and gradient)', async () => {
  const ref = referenceDmTerm(handDm, DM);
  for (const key of ['policyLoss', 'kl', 'loss', 'clipFraction', 'approxKl'] as const)
    near(ref[key], handDmValues[key], 1e-12, `reference ${key}`);
  nearAll(ref.dLogProbs, handDmValues.dLogProbs, 1e-12, 'reference dLogProbs');
  nearAll(ref.dMeans.flat(), handDmValues.dMeans.flat(), 1e-12, 'reference dMeans');

  const graph = await runObjective(undefined, handDm);
  near(graph.loss, handDmValues.loss, 1e-5, 'graph loss');
  near(graph.metric('kl/dm'), 0.015, 1e-5, 'graph kl');
  near(graph.metric('clip_fraction/dm'), 2 / 3, 1e-6, 'graph clip fraction');
  nearAll(graph.grad('dm_logp'), handDmValues.dLogProbs, 1e-5, 'graph dLoss/dlogp');
  nearAll(graph.grad('dm_mean'), handDmValues.dMeans.flat(), 1e-4, 'graph dLoss/dmean');
});

function randomInputs(seed: number): { lm: LmReferenceInputs; dm: DmReferenceInputs } {
  const rng = new Rng(seed);
  const rows = (n: number, m: number, f: () => number) => Array.from({ length: n }, () => Array.from({ length: m }, f));
  const logProbs = rows(3, 5, () => -Math.abs(rng.normal()) - 0.1);
  const dmLogp = Array.from({ length: 6 }, () => rng.normal());
  const means = rows(6, 4, () => rng.normal());
  return {
    lm: {
      logProbs,
      // ratios spread over both sides of the clip range
      oldLogProbs: logProbs.map((r) => r.map((v) => v + rng.normal() * 0.3)),
      refLogProbs: logProbs.map((r) => r.map((v) => v + rng.normal() * 0.5)),
      mask: [
        [1, 1, 1, 1, 1],
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],
      ],
      advantages: [1.3, -0.4, -0.9],
    },
    dm: {
      logProbs: dmLogp,
      oldLogProbs: dmLogp.map((v, i) => v + (i % 3 === 0 ? 0 : rng.normal() * 1e-3)),
      means,
      refMeans: means.map((r) => r.map((v) => v + rng.normal() * 0.1)),
      stds: Array.from({ length: 6 }, () => 0.1 + rng.uniform()),
      advantages: [0.7, 0.7, 0.7, -1.2, -1.2, -1.2],
    },
  };
}

test('the joint objective is LM + DM; graph gradients match the reference on random inputs', async () => {
  for (const seed of [1, 2]) {
    const { lm, dm } = randomInputs(seed);
    const refLm = referenceLmTerm(lm, LM);
    const refDm = referenceDmTerm(dm, DM);
    const graph = await runObjective(lm, dm);
    near(graph.loss, refLm.loss + refDm.loss, 1e-5, `seed ${seed} loss`);
    near(graph.metric('clip_fraction/lm'), refLm.clipFraction, 1e-6, `seed ${seed} lm clip fraction`);
    assert.ok(refLm.clipFraction > 0 && refLm.clipFraction < 1, 'the random case exercises both sides of the clip');
    nearAll(graph.grad('lm_logp'), refLm.dLogProbs.flat(), 1e-5, `seed ${seed} dlogp lm`);
    nearAll(graph.grad('dm_logp'), refDm.dLogProbs, 1e-5, `seed ${seed} dlogp dm`);
    nearAll(graph.grad('dm_mean'), refDm.dMeans.flat(), 1e-4, `seed ${seed} dmean`);
  }
});

test("the reference's hand-derived gradients agree with central finite differences", () => {
  const { lm, dm } = randomInputs(3);
  const h = 1e-6;
  const refLm = referenceLmTerm(lm, LM);
  lm.logProbs.forEach((row, b) =>
    row.forEach((v, t) => {
      row[t] = v + h;
      const up = referenceLmTerm(lm, LM).loss;
      row[t] = v - h;
      const down = referenceLmTerm(lm, LM).loss;
      row[t] = v;
      near(refLm.dLogProbs[b]![t]!, (up - down) / (2 * h), 1e-6, `lm d/dlogp[${b}][${t}]`);
    }),
  );
  const refDm = referenceDmTerm(dm, DM);
  for (const [values, grads, name] of [
    [dm.logProbs, refDm.dLogProbs, 'logp'],
    ...dm.means.map((r, n) => [r, refDm.dMeans[n]!, `mean[${n}]`] as const),
  ] as const) {
    values.forEach((v, i) => {
      values[i] = v + h;
      const up = referenceDmTerm(dm, DM).loss;
      values[i] = v - h;
      const down = referenceDmTerm(dm, DM).loss;
      values[i] = v;
      near(grads[i]!, (up - down) / (2 * h), 1e-6, `dm d/d${name}[${i}]`);
    });
  }
});

test('the DM term differentiates through the SDE step to the velocity (graph vs finite differences in TS)', async () => {
  // 2 rows (e.g. two samples at one step) of 3x2 latents; the policy's velocity v is what a network would output.
  const rng = new Rng(11);
  const [B, N, C] = [2, 3, 2];
  const per = N * C;
  const t = 0.8;
  const tNext = 0.7;
  const noiseLevel = 0.7;
  const x = Float32Array.from({ length: B * per }, () => rng.normal());
  const vOld = Float32Array.from({ length: B * per }, () => rng.normal());
  const vRef = Float32Array.from(vOld, (v) => v + 0.05 * rng.normal());
  const std = sdeStd(t, tNext, noiseLevel);
  const oldMean = sdeMean(x, vOld, t, tNext, noiseLevel);
  const xNext = Float32Array.from(oldMean, (m) => m + std * rng.normal());
  const oldLogp = gaussianLogProb(xNext, oldMean, std, B);
  const refMean = sdeMean(x, vRef, t, tNext, noiseLevel);
  const v = Float32Array.from(vOld, (a) => a + 0.01 * rng.normal());
  const advantages = [1.5, -0.5];
  const loose: ClipKl = { clipRange: 0.2, klBeta: 0.05 };

  // TS: v -> (mean, logp) with flow.ts's own step maths -> reference DM term.
  const lossOf = (vel: Float32Array) => {
    const mean = sdeMean(x, vel, t, tNext, noiseLevel);
    const logp = gaussianLogProb(xNext, mean, std, B);
    const rows = (a: Float32Array) => Array.from({ length: B }, (_, b) => Array.from(a.subarray(b * per, (b + 1) * per)));
    return referenceDmTerm(
      {
        logProbs: Array.from(logp),
        oldLogProbs: Array.from(oldLogp),
        means: rows(mean),
        refMeans: rows(refMean),
        stds: [std, std],
        advantages,
      },
      loose,
    ).loss;
  };

  const g = new GraphBuilder('sde_grpo');
  const feed = (name: string, data: Float32Array, shape: number[]) => ({ tensor: g.input(name, 'float32', shape), feed: { data, shape } });
  const inputs = {
    x: feed('x', x, [B, N, C]),
    v: feed('v', v, [B, N, C]),
    xNext: feed('x_next', xNext, [B, N, C]),
    t: feed('t', new Float32Array([t, t]), [B]),
    dt: feed('dt', new Float32Array([tNext - t, tNext - t]), [B]),
    sigma: feed(
      'sigma',
      Float32Array.from([0, 0], () => sdeSigma(t, tNext, noiseLevel)),
      [B],
    ),
    old: feed('old_logp', oldLogp, [B]),
    refMean: feed('ref_mean', refMean, [B, N, C]),
    std: feed('std', new Float32Array([std, std]), [B]),
    adv: feed('adv', Float32Array.from(advantages), [B]),
  };
  const step = sdeStepGraph(g, {
    x: inputs.x.tensor,
    v: inputs.v.tensor,
    xNext: inputs.xNext.tensor,
    t: inputs.t.tensor,
    dt: inputs.dt.tensor,
    sigma: inputs.sigma.tensor,
  });
  const objective = grpoObjective(g, {
    dm: {
      ...loose,
      inputs: {
        logProbs: step.logProb,
        oldLogProbs: inputs.old.tensor,
        means: step.mean,
        refMeans: inputs.refMean.tensor,
        stds: inputs.std.tensor,
        advantages: inputs.adv.tensor,
      },
    },
  });
  outputObjective(g, objective);
  const session = await createSession(encodeModel(grad(g.build(), { loss: 'loss', wrt: ['v'] })), { threads: 1, cache: false });
  const out = await session.run(Object.fromEntries(Object.values(inputs).map((i) => [i.tensor.name, i.feed])));
  await session.release();
  near(Number(out.loss!.data[0]), lossOf(v), 1e-4, 'loss through the SDE step');
  const dv = out[gradName('v')]!.data as Float32Array;
  const h = 1e-3;
  const v64 = Float32Array.from(v);
  for (let i = 0; i < v.length; i++) {
    const orig = v64[i]!;
    v64[i] = orig + h;
    const up = lossOf(v64);
    v64[i] = orig - h;
    const down = lossOf(v64);
    v64[i] = orig;
    near(dv[i]!, (up - down) / (2 * h), 2e-3, `dLoss/dv[${i}]`);
  }
});

test('an objective with no term is refused', () => {
  assert.throws(() => grpoObjective(new GraphBuilder(), {}), /no LM and no DM term/);
});

/** Builds the NFT term over fed [R, N, P] inputs, differentiates it w.r.t. the policy's velocity, runs it. */
async function runNft(x: NftReferenceInputs, options: NftOptions, shape: [number, number]) {
  const g = new GraphBuilder('nft_test');
  const feeds: Record<string, { data: Float32Array; shape: number[] }> = {};
  const rows = (name: string, values: number[][]) => {
    const dims = [values.length, ...shape];
    feeds[name] = { data: Float32Array.from(values.flat()), shape: dims };
    return g.input(name, 'float32', dims);
  };
  const column = (name: string, values: number[]) => {
    feeds[name] = { data: Float32Array.from(values), shape: [values.length] };
    return g.input(name, 'float32', [values.length]);
  };
  const term = nftTerm(
    g,
    {
      velocity: rows('v', x.velocity),
      oldVelocity: rows('v_old', x.oldVelocity),
      target: rows('target', x.target),
      t: column('t', x.t),
      r: column('r', x.r),
      ...(x.refVelocity ? { refVelocity: rows('v_ref', x.refVelocity) } : {}),
    },
    options,
  );
  g.output(term.loss, 'loss');
  g.output(term.policyLoss, 'policy_loss');
  g.output(term.kl, 'kl');
  g.output(term.oldDeviation, 'old_deviation');
  const model = grad(g.build(), { loss: 'loss', wrt: ['v'], stopGradient: term.stopGradient.map((t) => t.name) });
  const session = await createSession(encodeModel(model), { threads: 1, cache: false });
  const out = await session.run(feeds);
  await session.release();
  const scalar = (name: string) => Number(out[name]!.data[0]);
  return {
    loss: scalar('loss'),
    policyLoss: scalar('policy_loss'),
    kl: scalar('kl'),
    oldDeviation: scalar('old_deviation'),
    dVelocity: Array.from(out[gradName('v')]!.data as Float32Array),
  };
}

// Worked on paper. Plain flow matching, beta 1 (v+ = v, v- = 2·v_old - v), klBeta 0.1, 2 rows of 2 elements.
// Row 0 (r = 1): u+ = v - v* = (1, 0), L+ = 0.5. Row 1 (r = 0): v- = (1, 1), u- = (1, -1), L- = 1.
// Policy loss (0.5 + 1)/2 = 0.75; KL against v_ref = 0: (0.5 + 1)/2 = 0.75.
// dL/dv: row 0 2·u+/(R·D) = (0.5, 0); row 1 -2·u-/(R·D) = (-0.5, 0.5); plus 2·0.1·v/(R·D) = 0.05·v.
const handNft: NftReferenceInputs = {
  velocity: [
    [1, 0],
    [1, 1],
  ],
  oldVelocity: [
    [0, 0],
    [1, 1],
  ],
  target: [
    [0, 0],
    [0, 2],
  ],
  refVelocity: [
    [0, 0],
    [0, 0],
  ],
  t: [0.3, 0.6],
  r: [1, 0],
};
const handNftValues = { policyLoss: 0.75, kl: 0.75, loss: 0.75 + 0.1 * 0.75, dVelocity: [0.5 + 0.05, 0, -0.5 + 0.05, 0.5 + 0.05] };

test('the NFT term matches the hand-worked example (reference and graph, value and gradient)', async () => {
  const options: NftOptions = { beta: 1, klBeta: 0.1, adaptiveWeight: false };
  const ref = referenceNftTerm(handNft, options);
  for (const key of ['policyLoss', 'kl', 'loss'] as const) near(ref[key], handNftValues[key], 1e-12, `reference ${key}`);
  nearAll(ref.dVelocity.flat(), handNftValues.dVelocity, 1e-12, 'reference dv');
  const graph = await runNft(handNft, options, [1, 2]);
  for (const key of ['policyLoss', 'kl', 'loss'] as const) near(graph[key], handNftValues[key], 1e-6, `graph ${key}`);
  near(graph.oldDeviation, (1 + 0 + 0 + 0) / 4, 1e-6, 'graph old deviation');
  nearAll(graph.dVelocity, handNftValues.dVelocity, 1e-6, 'graph dv');
});

test('the adaptive weighting by hand: the x0 error t·(v+ - v*) over its own mean size, held constant', async () => {
  // beta 0.5, t 0.5, r 1: v+ = 0.5·(1, 0); u+ = (0.5, -1); t·u+ = (0.25, -0.5); w+ = 0.375;
  // L+ = mean(0.0625, 0.25)/0.375 = 5/12; loss = L+/beta = 5/6; dv = 2·(t²/w+)·u+/D = (1/3, -2/3).
  const x: NftReferenceInputs = { velocity: [[1, 0]], oldVelocity: [[0, 0]], target: [[0, 1]], t: [0.5], r: [1] };
  const options: NftOptions = { beta: 0.5, klBeta: 0, adaptiveWeight: true };
  const ref = referenceNftTerm(x, options);
  near(ref.loss, 5 / 6, 1e-12, 'reference loss');
  near(ref.weights.positive[0]!, 0.375, 1e-12, 'w+');
  nearAll(ref.dVelocity[0]!, [1 / 3, -2 / 3], 1e-12, 'reference dv');
  const graph = await runNft(x, options, [2, 1]);
  near(graph.loss, 5 / 6, 1e-6, 'graph loss');
  near(graph.kl, 0, 0, 'no reference, no KL');
  nearAll(graph.dVelocity, [1 / 3, -2 / 3], 1e-6, 'graph dv (the weight is a stop-gradient)');
});

function randomNft(seed: number, R: number, D: number): NftReferenceInputs {
  const rng = new Rng(seed);
  const rows = (f: () => number) => Array.from({ length: R }, () => Array.from({ length: D }, f));
  const oldVelocity = rows(() => rng.normal());
  return {
    velocity: oldVelocity.map((row) => row.map((v) => v + 0.3 * rng.normal())),
    oldVelocity,
    target: rows(() => rng.normal()),
    refVelocity: oldVelocity.map((row) => row.map((v) => v + 0.1 * rng.normal())),
    t: Array.from({ length: R }, () => 0.05 + 0.95 * rng.uniform()),
    r: Array.from({ length: R }, () => rng.uniform()),
  };
}

test('the NFT term: graph value and gradient match the reference on random inputs, both weightings', async () => {
  for (const adaptiveWeight of [true, false]) {
    for (const [seed, beta] of [
      [21, 1],
      [22, 0.1],
    ] as const) {
      const x = randomNft(seed, 4, 6);
      const options: NftOptions = { beta, klBeta: 0.05, adaptiveWeight };
      const ref = referenceNftTerm(x, options);
      const graph = await runNft(x, options, [3, 2]);
      const what = `adaptive ${adaptiveWeight}, seed ${seed}`;
      near(graph.loss, ref.loss, 1e-5, `${what} loss`);
      near(graph.kl, ref.kl, 1e-5, `${what} kl`);
      nearAll(graph.dVelocity, ref.dVelocity.flat(), 1e-4, `${what} dv`);
    }
  }
});

test("the NFT reference's gradient agrees with central finite differences (adaptive weights held fixed)", () => {
  const h = 1e-6;
  for (const adaptiveWeight of [true, false]) {
    const x = randomNft(23, 3, 5);
    const options: NftOptions = { beta: 0.3, klBeta: 0.02, adaptiveWeight };
    const base = referenceNftTerm(x, options);
    x.velocity.forEach((row, n) =>
      row.forEach((v, d) => {
        row[d] = v + h;
        const up = referenceNftTerm(x, options, base.weights).loss;
        row[d] = v - h;
        const down = referenceNftTerm(x, options, base.weights).loss;
        row[d] = v;
        near(base.dVelocity[n]![d]!, (up - down) / (2 * h), 1e-6, `adaptive ${adaptiveWeight} d/dv[${n}][${d}]`);
      }),
    );
  }
});

test('at v = v_old a step down the NFT gradient moves v towards v* when r > 1/2 and away when r < 1/2', () => {
  for (const adaptiveWeight of [true, false]) {
    for (const r of [0.9, 0.1]) {
      const x = randomNft(24, 1, 4);
      x.velocity = x.oldVelocity.map((row) => row.slice());
      x.r = [r];
      const { dVelocity } = referenceNftTerm(x, { beta: 1, klBeta: 0, adaptiveWeight });
      const distance = (v: number[]) => v.reduce((a, vd, d) => a + (vd - x.target[0]![d]!) ** 2, 0);
      const stepped = x.velocity[0]!.map((v, d) => v - 1e-3 * dVelocity[0]![d]!);
      assert.equal(distance(stepped) < distance(x.velocity[0]!), r > 0.5, `adaptive ${adaptiveWeight}, r ${r}`);
    }
  }
});

test('nftRows: distinct times from the grid, x_t = (1-t)·x0 + t·eps and v* = eps - x0 with fresh eps per row', () => {
  const x0 = new Float32Array([0.5, -1, 0.25]);
  const times = timeGrid(10).subarray(0, 10); // 1, 0.9, ..., 0.1: the sampler's steps
  const rows = nftRows(x0, 0.7, new Rng(5), { times, count: 9 });
  assert.equal(new Set(rows.t).size, 9, 'distinct times');
  for (const t of rows.t)
    assert.ok(
      Array.from(times).some((g) => Math.abs(g - t) < 1e-6),
      `${t} is a grid time`,
    );
  assert.deepEqual(
    Array.from(rows.r),
    Array(9)
      .fill(0.7)
      .map((v) => Math.fround(v)),
  );
  const eps: number[] = [];
  for (let k = 0; k < 9; k++) {
    for (let d = 0; d < 3; d++) {
      const e = rows.target[k * 3 + d]! + x0[d]!;
      eps.push(e);
      near(rows.xt[k * 3 + d]!, (1 - rows.t[k]!) * x0[d]! + rows.t[k]! * e, 1e-6, `x_t[${k}][${d}]`);
    }
  }
  assert.equal(new Set(eps).size, eps.length, 'a new eps for every element of every row');
  assert.deepEqual(nftRows(x0, 0.7, new Rng(5), { times, count: 9 }), rows, 'the same rng gives the same rows');
  // Over many draws every grid time is chosen about equally often.
  const rng = new Rng(6);
  const counts = new Map<number, number>();
  for (let i = 0; i < 500; i++) for (const t of nftRows(x0, 0.5, rng, { times, count: 3 }).t) counts.set(t, (counts.get(t) ?? 0) + 1);
  assert.equal(counts.size, 10);
  for (const [t, c] of counts) assert.ok(c > 100 && c < 200, `t ${t} drawn ${c} times of 1500`);
  assert.throws(() => nftRows(x0, 1.5, rng, { times, count: 3 }), /r must be in \[0, 1\]/);
  assert.throws(() => nftRows(x0, 0.5, rng, { times: timeGrid(4), count: 3 }), /times must be in \(0, 1\]/);
  assert.throws(() => nftRows(x0, 0.5, rng, { times, count: 11 }), /count must be 1\.\.10/);
});

test('optimality probability: the clipped advantage mapped onto [0, 1], as DiffusionNFT does', () => {
  assert.equal(optimalityProbability(0, 5), 0.5);
  assert.equal(optimalityProbability(2.5, 5), 0.75);
  assert.equal(optimalityProbability(-5, 5), 0);
  assert.equal(optimalityProbability(9, 5), 1);
  assert.equal(optimalityProbability(-0.5, 1), 0.25);
  assert.throws(() => optimalityProbability(1, 0), /clip must be > 0/);
});

test('the NFT term refuses a KL weight without a reference velocity, and beta 0', () => {
  const g = new GraphBuilder();
  const v = g.input('v', 'float32', [1, 2, 1]);
  const t = g.input('t', 'float32', [1]);
  const inputs = { velocity: v, oldVelocity: v, target: v, t, r: t };
  assert.throws(() => nftTerm(g, inputs, { beta: 1, klBeta: 0.1, adaptiveWeight: true }), /needs the reference velocity/);
  assert.throws(() => nftTerm(g, inputs, { beta: 0, klBeta: 0, adaptiveWeight: true }), /beta must be > 0/);
});
