// The trainer's held-out evaluation every `eval.every` steps: the scenario's own evaluation (scenarios/*.ts
// evaluate: ShapeEval on ODE images, edits against their target scenes, greedy reflection cycles with the
// statistics world/reflection-stats.ts shares with the refine suite, greedy answers), stored as an
// evaluation of the run so the Evaluation screen and the step slider show its images.
import type { Store } from '../../db/store.ts';
import { mixSeeds } from '../world/rng.ts';
import type { TrainConfig } from './config.ts';
import type { Policy, TaskSource } from './policy.ts';
import { recordEvaluation } from './recorder.ts';
import type { RewardComponentDef } from './rewards.ts';
import type { ScenarioModule } from './scenarios/scenario.ts';

export async function evaluateHeldOut(
  env: {
    cfg: TrainConfig;
    policy: Policy;
    scenario: ScenarioModule;
    tasks: TaskSource;
    store: Store;
    runId: number;
    components?: readonly RewardComponentDef[];
  },
  step: number,
): Promise<Record<string, number>> {
  const items = env.tasks.heldout();
  if (items.length === 0) return {};
  const { metrics, scored } = await env.scenario.evaluate(env.policy, items, {
    cfg: env.cfg,
    seed: mixSeeds(env.cfg.seed, 0xe7a1),
    ...(env.components ? { components: env.components } : {}),
  });
  if (scored.length > 0) recordEvaluation(env.store, env.runId, step, metrics, scored);
  env.store.log.append(
    env.runId,
    'info',
    `step ${step}: eval accuracy ${metrics['eval/accuracy']?.toFixed(3)} on ${items.length} held-out prompts`,
  );
  return metrics;
}
