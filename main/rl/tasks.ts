// ShapeWorld prompts of a GRPO scenario (its module's `task`), deterministic in (seed, step), and the
// held-out evaluation set: `promptsPerTask` of each kind of prompt the scenario cycles through.
import type { Scenario } from '../../contract/domain.ts';
import { mixSeeds, Rng } from '../world/rng.ts';
import type { TaskSource } from './policy.ts';
import { scenarioModule } from './scenarios/index.ts';

/** Prompts for a scenario: step s draws from its own seeded stream; the held-out set from another. */
export function shapeWorldTasks(scenario: Scenario, options: { seed?: number; heldoutPerTask?: number } = {}): TaskSource {
  const seed = options.seed ?? 0;
  const { task, taskKinds } = scenarioModule(scenario);
  const heldoutCount = (options.heldoutPerTask ?? 8) * taskKinds;
  const heldout = Array.from({ length: heldoutCount }, (_, i) => task(new Rng(mixSeeds(seed, 0x4e1d, i)), i));
  return {
    next: (count, step) => Array.from({ length: count }, (_, i) => task(new Rng(mixSeeds(seed, step, i)), step * count + i)),
    heldout: () => heldout,
  };
}
