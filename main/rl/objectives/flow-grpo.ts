// Flow-GRPO's DM objective (REFERENCE §1): each trained row is one step k of a recorded SDE trajectory.
// The policy's Gaussian step x_{k+1} ~ N(mu_theta(x_k, t_k), std_k^2) gives the log-prob of the recorded next
// latent; PPO-clip on the ratio to the rollout's log-prob with the sample's advantage, plus beta times the
// KL of two equal-std Gaussians to the frozen reference's step mean (losses.ts dmGrpoTerm).
import { sdeSigma, sdeStepGraph } from '../../models/flow.ts';
import { dmGrpoTerm, grpoTermGraph } from '../losses.ts';
import { referenceFeed, type DmObjective } from './objective.ts';

export const flowGrpo: DmObjective = {
  name: 'flowGrpo',

  /** x, x_next [R, N, P]; t, dt, sigma [R] for the step; the rollout's log-prob, the step's std and the advantage [R]. */
  feeds(rows, rowShape) {
    const R = rows.length;
    const per = rowShape.reduce((a, b) => a * b, 1);
    const f = {
      x: new Float32Array(R * per),
      xNext: new Float32Array(R * per),
      t: new Float32Array(R),
      dt: new Float32Array(R),
      sigma: new Float32Array(R),
      old: new Float32Array(R),
      std: new Float32Array(R),
      adv: new Float32Array(R),
    };
    rows.forEach(({ trajectory: dm, k, advantage }, r) => {
      const t = dm.times[k]!;
      const tNext = dm.times[k + 1]!;
      f.x.set(dm.latents[k]!, r * per);
      f.xNext.set(dm.latents[k + 1]!, r * per);
      f.t[r] = t;
      f.dt[r] = tNext - t;
      f.sigma[r] = sdeSigma(t, tNext, dm.noiseLevel);
      f.old[r] = dm.logProbs[k]!;
      f.std[r] = dm.stds[k]!;
      f.adv[r] = advantage;
    });
    const shape = [R, ...rowShape];
    return {
      inputs: {
        x: { data: f.x, shape },
        x_next: { data: f.xNext, shape },
        t: { data: f.t, shape: [R] },
        dt: { data: f.dt, shape: [R] },
        sigma: { data: f.sigma, shape: [R] },
      },
      terms: { dm_old: { data: f.old, shape: [R] }, dm_std: { data: f.std, shape: [R] }, dm_adv: { data: f.adv, shape: [R] } },
      count: R,
    };
  },

  build(g, velocity, rowShape) {
    const rows = (name: string) => g.input(name, 'float32', ['rows', ...rowShape]);
    const scalars = (name: string) => g.input(name, 'float32', ['rows']);
    const x = rows('x');
    const t = scalars('t');
    const step = sdeStepGraph(g, { x, v: velocity(x, t), t, xNext: rows('x_next'), dt: scalars('dt'), sigma: scalars('sigma') });
    return {
      forward: { dm_mean: step.mean },
      term: (hyper) =>
        grpoTermGraph(
          dmGrpoTerm(
            g,
            {
              logProbs: step.logProb,
              means: step.mean,
              oldLogProbs: scalars('dm_old'),
              refMeans: rows(referenceFeed('dm_mean')),
              stds: scalars('dm_std'),
              advantages: scalars('dm_adv'),
            },
            hyper,
          ),
        ),
    };
  },
};
