// What a run writes to the store: each scored group in one transaction (prompt, samples with their rewards,
// advantages and trajectories by the storage policy, and the scenario's derived images and records), and
// each held-out evaluation with its images.
import { HELD_OUT_SUITE } from '../../contract/domain.ts';
import type { Store } from '../../db/store.ts';
import { toUint8 } from '../world/image.ts';
import type { QueueChoice } from './feedback.ts';
import type { ScoredGroup } from './grpo.ts';
import type { LatentStorage } from './records.ts';
import type { ScenarioModule, ScoredImage } from './scenarios/scenario.ts';

/** Where a stored group goes: to the ranking queue (and how many rankings it needs), or nowhere. */
export interface Routing {
  ranked: boolean;
  queue?: QueueChoice;
  rankingsNeeded: number;
}

/** Stores the group whole or not at all; returns its ids (also set on the group). */
export function recordGroup(
  store: Store,
  runId: number,
  scenario: ScenarioModule,
  group: ScoredGroup,
  routing: Routing,
  storage: LatentStorage,
): { groupId: number; sampleIds: number[] } {
  const { item, samples } = group;
  const inserted = store.db.transaction(() => {
    const prompt = store.prompts.ensure(runId, { text: item.text, task: item.task, spec: item.spec });
    const stored = store.groups.insert({
      runId,
      step: group.step,
      promptId: prompt.id,
      samples: samples.map((s, k) => scenario.member(s, { rewards: group.rewards[k]!, advantage: group.advantages[k]! }, storage)),
      ranking: routing.ranked ? 'pending' : 'none',
      rankingsNeeded: routing.rankingsNeeded,
      ...(routing.queue ? { queue: routing.queue } : {}),
      zeroStd: group.zeroStd,
    });
    samples.forEach((s, k) => scenario.recordDerived?.(store, stored.sampleIds[k]!, item, s, storage));
    return stored;
  })();
  group.groupId = inserted.groupId;
  group.sampleIds = inserted.sampleIds;
  return inserted;
}

/** New rewards and advantages of a stored group (people's answers arrived). */
export function recordRewards(store: Store, group: ScoredGroup): void {
  const ids = group.sampleIds ?? fail('the group is not stored');
  store.groups.updateRewards(
    group.groupId!,
    ids.map((sampleId, k) => ({ sampleId, rewards: group.rewards[k]!, advantage: group.advantages[k]! })),
    group.zeroStd,
  );
}

/** The held-out images of one evaluation step, stored as an evaluation of the run (suite "held-out", summary per task). */
export function recordEvaluation(
  store: Store,
  runId: number,
  step: number,
  metrics: Record<string, number>,
  scored: readonly ScoredImage[],
): void {
  const evaluation = store.evaluations.start({ runId, suite: HELD_OUT_SUITE });
  store.evaluations.addResults(
    evaluation.id,
    scored.map(({ item, image, verdict }) => {
      const { width, height, data } = toUint8(image);
      return {
        task: item.task,
        prompt: item.text,
        imageIndex: 0,
        correct: verdict.correct,
        reward: verdict.reward,
        reason: verdict.reason,
        image: { width, height, rgb: data },
      };
    }),
  );
  const tasks = [...new Set(scored.map((s) => s.item.task))].map((task) => {
    const of = scored.filter((s) => s.item.task === task);
    return { task, accuracy: of.filter((s) => s.verdict.correct).length / of.length, prompts: of.length };
  });
  const evalMetrics = Object.fromEntries(Object.entries(metrics).filter(([name]) => name.startsWith('eval/')));
  store.evaluations.complete(evaluation.id, {
    step,
    generator: 'model (during training)',
    tasks,
    overall: metrics['eval/accuracy'] ?? 0,
    metrics: evalMetrics,
  });
}

function fail(message: string): never {
  throw new Error(`recorder: ${message}`);
}
