// A toy GRPO policy for the trainer's tests: a 12-value "image" (2x2 RGB) drawn by the Flow-GRPO SDE from a
// velocity field v = bias + scale ⊙ x with learnable bias and scale, trained through the real objective graph
// (objectives/flow-grpo.ts, losses.ts, autodiff). Rewards in the tests favour red; a scripted annotator favours green.
import { grad, gradName } from '../../engine/autodiff/grad.ts';
import { GraphBuilder, type Tensor } from '../../engine/graph/builder.ts';
import { encodeModel } from '../../engine/onnx/proto.ts';
import { ParamStore } from '../../engine/runtime/params.ts';
import { Rng as EngineRng } from '../../engine/runtime/rng.ts';
import { createSession, type EngineSession } from '../../engine/runtime/session.ts';
import { sampleOde, sampleSde, sdeMean } from '../../models/flow.ts';
import type { ImageRGB } from '../../world/image.ts';
import { DM_LOSS_DEFAULTS, resolveTrainConfig, type DmLoss, type ModelPart, type TrainConfig } from '../config.ts';
import { combineTerms, metricOutput, outputObjective } from '../losses.ts';
import { flowGrpo } from '../objectives/flow-grpo.ts';
import { referenceFeed, type DmRow } from '../objectives/objective.ts';
import {
  firstImage,
  type ObjectiveResult,
  type ObjectiveTerms,
  type Policy,
  type RolloutOptions,
  type SampleResult,
  type TaskItem,
  type TaskSource,
  type UpdateSample,
} from '../policy.ts';
import type { RewardComponentDef } from '../rewards.ts';

export const SHAPE = [4, 3] as const; // a 2x2 RGB image: 4 pixels x 3 channels, the [N, C] the SDE step graph takes
export const SIZE = SHAPE[0] * SHAPE[1];

/** Latent in [-1, 1] -> a 2x2 RGB image in [0, 1]. */
export function toImage(latent: Float32Array): ImageRGB {
  return { width: 2, height: 2, data: Float32Array.from(latent, (v) => Math.min(1, Math.max(0, (v + 1) / 2))) };
}
export const channelMean = (image: ImageRGB, c: number): number => {
  let s = 0;
  for (let p = 0; p < 4; p++) s += Number(image.data[p * 3 + c]);
  return s / 4;
};

export class ToyPolicy implements Policy {
  readonly params = new ParamStore([
    { name: 'dm/bias', shape: [...SHAPE], group: 'dm' },
    { name: 'dm/scale', shape: [...SHAPE], group: 'dm', init: { kind: 'constant', value: -1 } },
  ]);
  private readonly reference = Float32Array.from(this.params.flat);
  private session: Promise<EngineSession> | undefined;

  paramsOf(part: ModelPart): string[] {
    return part === 'dm' ? ['dm/bias', 'dm/scale'] : [];
  }

  private velocity(x: Float32Array, params: Float32Array): Float32Array {
    return Float32Array.from(x, (xi, i) => params[i % SIZE]! + params[SIZE + (i % SIZE)]! * xi);
  }

  async rollout(items: readonly TaskItem[], o: RolloutOptions): Promise<SampleResult[][]> {
    return Promise.all(
      items.map(async (_item, i) => {
        const noiseRng = new EngineRng(o.seed + i);
        const groupNoise = noiseRng.fillNormal(new Float32Array(SIZE));
        return Promise.all(
          Array.from({ length: o.groupSize }, async (_, k) => {
            const seed = o.seed * 100 + i * 10 + k;
            const rng = new EngineRng(seed);
            const noise = o.sameNoisePerGroup ? groupNoise : rng.fillNormal(new Float32Array(SIZE));
            const traj = await sampleSde(async (x) => this.velocity(x, this.params.flat), noise, 1, {
              steps: o.sdeSteps,
              noiseLevel: o.noiseLevel,
              rng,
            });
            return {
              seed,
              turns: [
                {
                  kind: 'image' as const,
                  role: 'image' as const,
                  image: toImage(traj.latents[o.sdeSteps]!),
                  dm: {
                    latents: traj.latents,
                    grid: { size: 2, patch: 1 },
                    seeds: { noise: o.seed + i, sde: seed },
                    means: traj.means,
                    logProbs: Float32Array.from(traj.logProbs.map((l) => l[0]!)),
                    times: traj.times,
                    stds: traj.stds,
                    noiseLevel: o.noiseLevel,
                  },
                },
              ],
            };
          }),
        );
      }),
    );
  }

  /** The Flow-GRPO term (objectives/flow-grpo.ts, as the unified policy trains it) on the toy's velocity field. */
  async objective(batch: readonly UpdateSample[], terms: ObjectiveTerms): Promise<ObjectiveResult> {
    if (!terms.dm || terms.lm) throw new Error('the toy policy trains the DM term only');
    const hyper: DmLoss = { ...DM_LOSS_DEFAULTS, ...terms.dm, objective: 'flowGrpo' };
    this.session ??= this.buildSession(hyper);
    const rows: DmRow[] = batch.flatMap((u) =>
      u.dmSteps.map((k) => ({ seq: 0, source: new Float32Array(0), trajectory: firstImage(u.sample)!.dm, k, advantage: u.advantage })),
    );
    const feeds = flowGrpo.feeds(rows, SHAPE, hyper);
    // The reference step means: the toy's velocity under its starting weights.
    const refMean = new Float32Array(rows.length * SIZE);
    rows.forEach(({ trajectory: dm, k }, r) => {
      const x = dm.latents[k]!;
      refMean.set(sdeMean(x, this.velocity(x, this.reference), dm.times[k]!, dm.times[k + 1]!, dm.noiseLevel), r * SIZE);
    });
    const out = await (await this.session).run({
      ...feeds.inputs,
      ...feeds.terms,
      [referenceFeed('dm_mean')]: { data: refMean, shape: [rows.length, ...SHAPE] },
      ...this.params.feeds(),
    });
    const metrics = Object.fromEntries(
      ['policy_loss/dm', 'kl/dm', 'clip_fraction/dm', 'approx_kl/dm'].map((n) => [n, Number(out[metricOutput(n)]!.data[0])]),
    );
    return {
      loss: Number(out.loss!.data[0]),
      metrics,
      grads: { 'dm/bias': out[gradName('dm/bias')]!.data as Float32Array, 'dm/scale': out[gradName('dm/scale')]!.data as Float32Array },
    };
  }

  private async buildSession(hyper: DmLoss): Promise<EngineSession> {
    const g = new GraphBuilder('toy_grpo');
    // v = bias + scale ⊙ x: a velocity field of the latent alone.
    const velocity = (x: Tensor) => g.add(g.param('dm/bias', [...SHAPE]), g.mul(g.param('dm/scale', [...SHAPE]), x));
    const built = flowGrpo.build(g, velocity, SHAPE);
    outputObjective(g, combineTerms(g, [{ kind: 'dm', term: built.term(hyper) }]));
    return createSession(encodeModel(grad(g.build(), { loss: 'loss', wrt: ['dm/bias', 'dm/scale'] })), { threads: 1, cache: false });
  }

  async generate(items: readonly TaskItem[], odeSteps: number, seed: number): Promise<ImageRGB[]> {
    return Promise.all(
      items.map(async (_, i) =>
        toImage(
          await sampleOde(
            async (x) => this.velocity(x, this.params.flat),
            new EngineRng(seed + i).fillNormal(new Float32Array(SIZE)),
            odeSteps,
          ),
        ),
      ),
    );
  }

  async features(images: readonly ImageRGB[]): Promise<Float32Array[]> {
    return images.map((im) => Float32Array.from(im.data as Float32Array));
  }

  checkpointMetadata(): Record<string, string> {
    return { preset: 'toy' };
  }
}

export const toyTasks: TaskSource = {
  next: (count, step) =>
    Array.from({ length: count }, (_, i) => ({ task: 'toy', text: `toy prompt ${(step * count + i) % 3}`, spec: null, target: {} })),
  heldout: () => [],
};
export const redness: RewardComponentDef = { name: 'shapeEval', score: (s) => channelMean(s.image!, 0) };

/** The toy policy trains the Flow-GRPO term (its own graph) with group-std advantages. */
export const TOY_LOSS = { dm: { objective: 'flowGrpo', klBeta: 4e-3 }, advantage: 'groupStd' } as const;

/** The toy run the SIGKILL test uses in the child and in the resuming parent. */
export function killTestConfig(steps: number): TrainConfig {
  return resolveTrainConfig('t2i', {
    loss: TOY_LOSS,
    train: ['dm'],
    steps,
    checkpointEvery: 2,
    eval: { every: 0 },
    rollout: { promptsPerStep: 3, groupSize: 6, sdeSteps: 4 },
    optim: { lr: { dm: 0.1 } },
  });
}
