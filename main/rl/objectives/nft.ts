// DiffusionNFT's DM objective (Zheng et al., ICLR 2026): likelihood-free, on the forward process. Each row is
// a sample's final latent x0 noised to a time t of its sampler's grid, x_t = (1-t)·x0 + t·eps, with the
// flow-matching target v* = eps - x0. Two implicit policies around the sampling one,
//   v+ = (1-beta)·v_old + beta·v_theta,   v- = (1+beta)·v_old - beta·v_theta,
// are pulled toward v*: v+ with weight r and v- with weight 1-r, r in [0, 1] the sample's optimality
// probability from its advantage (losses.ts nftTerm, optimalityProbability). Minimising it moves v_theta toward
// the positives and away from the negatives; no SDE, no likelihood, any sampler (the ODE included). v_old is
// the paper's old policy, an EMA of the trained weights (config loss.dm.nftOldDecay; unified.ts runs the
// forward pass under it). Row k of a trajectory uses t = times[k] and its own eps, seeded by the
// trajectory's SDE seed and k (the same rows each epoch).
import { Rng } from '../../engine/runtime/rng.ts';
import { mixSeeds } from '../../world/rng.ts';
import { nftRows, nftTerm, optimalityProbability } from '../losses.ts';
import { oldFeed, referenceFeed, type DmObjective } from './objective.ts';

export const nft: DmObjective = {
  name: 'nft',

  /** x_t and v* [R, N, P], t and r [R]. */
  feeds(rows, rowShape, hyper) {
    const R = rows.length;
    const per = rowShape.reduce((a, b) => a * b, 1);
    const xt = new Float32Array(R * per);
    const target = new Float32Array(R * per);
    const t = new Float32Array(R);
    const r = new Float32Array(R);
    rows.forEach(({ trajectory: dm, k, advantage }, i) => {
      const x0 = dm.latents[dm.latents.length - 1]!;
      const row = nftRows(x0, optimalityProbability(advantage, hyper.advantageClip ?? 5), new Rng(mixSeeds(dm.seeds.sde, k, 0x4f7)), {
        times: [dm.times[k]!],
        count: 1,
      });
      xt.set(row.xt, i * per);
      target.set(row.target, i * per);
      t[i] = row.t[0]!;
      r[i] = row.r[0]!;
    });
    const shape = [R, ...rowShape];
    return {
      inputs: { x_t: { data: xt, shape }, t: { data: t, shape: [R] } },
      terms: { v_target: { data: target, shape }, dm_r: { data: r, shape: [R] } },
      count: R,
    };
  },

  build(g, velocity, rowShape) {
    const rows = (name: string) => g.input(name, 'float32', ['rows', ...rowShape]);
    const t = g.input('t', 'float32', ['rows']);
    const v = velocity(rows('x_t'), t);
    return {
      forward: { dm_v: v },
      old: true,
      term: (hyper) => {
        const r = nftTerm(
          g,
          {
            velocity: v,
            oldVelocity: rows(oldFeed('dm_v')),
            refVelocity: rows(referenceFeed('dm_v')),
            target: rows('v_target'),
            t,
            r: g.input('dm_r', 'float32', ['rows']),
          },
          { beta: hyper.nftBeta, klBeta: hyper.klBeta, adaptiveWeight: hyper.adaptiveWeight },
        );
        return {
          loss: r.loss,
          metrics: { policy_loss: r.policyLoss, kl: r.kl, old_deviation: r.oldDeviation },
          stopGradient: r.stopGradient,
        };
      },
    };
  },
};
