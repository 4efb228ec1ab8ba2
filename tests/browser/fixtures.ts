// Store fixtures for browser tests: rollout groups with real ShapeWorld images, written straight
// into a data dir's database before `unirl serve` opens it (the screens' tests need data that only
// a training run would otherwise make).
import { openStore, resolveDataDir } from '../../db/index.ts';
import type { Scenario } from '../../contract/domain.ts';
import { toUint8 } from '../../main/world/image.ts';
import { renderScene } from '../../main/world/render.ts';
import { Rng } from '../../main/world/rng.ts';
import { describeObject, sampleScene } from '../../main/world/scene.ts';

export interface SeededRun {
  runId: number;
  /** groupIds[i] has member sample ids sampleIds[i] (in index order). */
  groupIds: number[];
  sampleIds: number[][];
}

/** One run with `groups` groups of `groupSize` rendered samples each, one group per step, all in the ranking queue. */
export function seedRolloutGroups(
  dataDir: string,
  options: { groups?: number; groupSize?: number; seed?: number; scenario?: Scenario; runName?: string } = {},
): SeededRun {
  const { groups = 2, groupSize = 4, seed = 1, scenario = 't2i', runName = 'seeded run' } = options;
  const rng = new Rng(seed);
  const store = openStore(resolveDataDir({ cliDir: dataDir }).dbPath);
  try {
    return store.transaction(() => {
      const run = store.runs.create({ name: runName, scenario, config: {} });
      const seeded: SeededRun = { runId: run.id, groupIds: [], sampleIds: [] };
      for (let step = 1; step <= groups; step++) {
        const target = sampleScene(rng, 1);
        const prompt = store.prompts.ensure(run.id, { text: `a ${describeObject(target.objects[0]!)}`, task: 'single_object' });
        // Sample 0 shows the prompt's scene (reward 1); the others are random scenes with random rewards.
        const rewards = Array.from({ length: groupSize }, (_, index) => (index === 0 ? 1 : rng.next()));
        const mean = rewards.reduce((a, b) => a + b, 0) / groupSize;
        const std = Math.sqrt(rewards.reduce((a, r) => a + (r - mean) ** 2, 0) / groupSize);
        const samples = rewards.map((value, index) => {
          const image = toUint8(renderScene(index === 0 ? target : sampleScene(rng, 1 + rng.int(2)), { width: 32 }));
          return {
            seed: seed * 1000 + step * 100 + index,
            image: { width: image.width, height: image.height, rgb: image.data },
            rewards: [{ name: 'shapeeval', value, weight: 1 }],
            advantage: std > 0 ? (value - mean) / std : 0,
          };
        });
        const { groupId, sampleIds } = store.groups.insert({ runId: run.id, step, promptId: prompt.id, samples, ranking: 'pending' });
        seeded.groupIds.push(groupId);
        seeded.sampleIds.push(sampleIds);
      }
      return seeded;
    });
  } finally {
    store.close();
  }
}
