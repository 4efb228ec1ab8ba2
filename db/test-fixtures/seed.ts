// Test data: a run with a prompt and groups of samples carrying images, rewards and both kinds of trajectory.
import type { Store } from '../store.ts';
import type { GroupInput } from '../repos/groups.ts';
import type { SampleInput } from '../repos/samples.ts';

export function solidImage(width: number, height: number, value: number): { width: number; height: number; rgb: Uint8Array } {
  return { width, height, rgb: new Uint8Array(width * height * 3).fill(value) };
}

/**
 * A member sample: 8x8 image, two reward components, an LM trajectory [T=5] and a DM trajectory
 * (means [S=3] of a 2x2 image in 1x1 patches).
 */
export function sampleInput(seed: number, reward: number): SampleInput {
  return {
    seed,
    text: `<think>sample ${seed}</think>`,
    image: solidImage(8, 8, seed % 256),
    rewards: [
      { name: 'shapeeval', value: reward, weight: 1 },
      { name: 'format', value: 1, weight: 0.5 },
    ],
    trajectories: [
      {
        kind: 'lm',
        tensors: {
          tokenIds: { dtype: 'int32', shape: [5], data: Int32Array.of(1, 2, 3, 4, seed) },
          logProbs: { dtype: 'float32', shape: [5], data: Float32Array.of(-0.1, -0.2, -0.3, -0.4, -0.5) },
        },
      },
      {
        kind: 'dm',
        tensors: {
          means: { dtype: 'float32', shape: [3, 4, 3], data: new Float32Array(36).fill(seed) },
          logProbs: { dtype: 'float32', shape: [3], data: Float32Array.of(-1, -2, -3) },
        },
      },
    ],
  };
}

export function groupInput(runId: number, promptId: number, step: number, rewards: number[], extra: Partial<GroupInput> = {}): GroupInput {
  return { runId, step, promptId, samples: rewards.map((r, i) => sampleInput(step * 100 + i, r)), ...extra };
}

/** A t2i run with one prompt. */
export function seedRun(store: Store, name = 'test run'): { runId: number; promptId: number } {
  const run = store.runs.create({ name, scenario: 't2i', config: { groupSize: 4, lr: 1e-4 } });
  const prompt = store.prompts.ensure(run.id, {
    text: 'a red circle',
    task: 'single_object',
    spec: { objects: [{ shape: 'circle', color: 'red' }] },
  });
  return { runId: run.id, promptId: prompt.id };
}
