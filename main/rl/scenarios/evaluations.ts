// Held-out evaluations shared by scenarios: images scored by ShapeEval against their prompt's spec (t2i,
// CoT), and greedy answers scored by the run's answer and format rewards (text, VQA).
import { score } from '../../world/evaluate.ts';
import { computeRewards } from '../rewards.ts';
import { mean } from '../stats.ts';
import type { Policy, TaskItem } from '../policy.ts';
import { firstText } from '../policy.ts';
import { rolloutOptionsOf, type EvalEnv, type ScenarioModule } from './scenario.ts';

type Evaluation = Awaited<ReturnType<ScenarioModule['evaluate']>>;

/** Euler ODE images scored by ShapeEval: eval/accuracy and the fractional eval/reward. */
export async function evaluateImages(policy: Policy, items: readonly TaskItem[], env: EvalEnv): Promise<Evaluation> {
  const images = await policy.generate(items, env.cfg.eval.odeSteps, env.seed);
  const scored = items.map((item, i) => {
    const spec = item.target.spec ?? fail(`item '${item.text}' has no prompt spec`);
    return { item, image: images[i]!, verdict: score(images[i]!, spec) };
  });
  return {
    metrics: {
      'eval/accuracy': mean(scored.map((s) => (s.verdict.correct ? 1 : 0))),
      'eval/reward': mean(scored.map((s) => s.verdict.reward)),
    },
    scored,
  };
}

/** Greedy answers scored by the answer reward (eval/accuracy) and, when the run rewards it, the format (eval/format). */
export async function evaluateAnswers(policy: Policy, items: readonly TaskItem[], env: EvalEnv): Promise<Evaluation> {
  const answers = await policy.rollout(
    items,
    rolloutOptionsOf(env.cfg, { groupSize: 1, sameNoisePerGroup: false, temperature: 0, topP: 1, seed: env.seed }),
  );
  const weights = { answer: 1, format: env.cfg.rewards.format === 0 ? 0 : 1 };
  const rewards = items.map(
    (it, i) =>
      computeRewards(
        answers[i]!.map((s) => ({ text: firstText(s)?.text ?? '' })),
        it.target,
        weights,
        {},
        env.components,
      )[0]!,
  );
  const metrics: Record<string, number> = {};
  for (const name of ['answer', 'format'] as const) {
    const values = rewards.flatMap((cs) => cs.filter((c) => c.name === name).map((c) => c.value));
    if (values.length) metrics[name === 'answer' ? 'eval/accuracy' : 'eval/format'] = mean(values);
  }
  return { metrics, scored: [] };
}

function fail(message: string): never {
  throw new Error(`evaluation: ${message}`);
}
