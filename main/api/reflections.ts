// Reflection cycles as the Reflections screen shows them: the prompt, each round's critique read into
// plain text and a fix (models/formats.ts readCritique, so no format tags reach the renderer), the
// scorer's verdict on every image (from the stored PNG, the image a person sees), and what each round
// earned. The store filters (by the stored verdicts) and pages in SQL, so a page costs the scoring of its own images only.
import type { ImageVerdict, ReflectionCycleView, ReflectionFilter, ReflectionOutcome, ReflectionRoundView } from '../../contract/api.ts';
import type { Page, ReflectionCycle, ReflectionRound, RewardComponent, RolloutGroup } from '../../contract/domain.ts';
import type { Store } from '../../db/index.ts';
import { decodePng } from '../../db/png.ts';
import { readCritique } from '../models/formats.ts';
import { score } from '../world/evaluate.ts';
import type { PromptSpec } from '../world/spec.ts';

/** The cycle's first image is right by the scorer (stored with round 1). */
function firstRight(cycle: ReflectionCycle): boolean {
  return cycle.rounds[0]?.scorerVerdict === 'correct';
}

/** The image the cycle ended on is right: a round's reward is ShapeEval's on the image it leaves, 1 exactly when correct. */
function finalRight(cycle: ReflectionCycle): boolean {
  const last = cycle.rounds[cycle.rounds.length - 1];
  return last?.reward != null ? last.reward === 1 : firstRight(cycle);
}

export function outcomeOf(cycle: ReflectionCycle): ReflectionOutcome {
  const [first, last] = [firstRight(cycle), finalRight(cycle)];
  if (first === last) return first ? 'kept right' : 'kept wrong';
  return last ? 'corrected' : 'broken';
}

/** A page of a run's cycles (newest step first) that pass the filter, with what the screen shows of each. */
export function reflectionPage(
  store: Store,
  runId: number,
  filter: ReflectionFilter,
  offset: number,
  limit: number,
): Page<ReflectionCycleView> {
  const run = store.runs.get(runId);
  const weights = (run.config as { rewards?: Record<string, number> }).rewards ?? {};
  const { items, total } = store.reflections.page(runId, filter, offset, limit);
  return { items: items.map(({ groupId, cycle }) => cycleView(store, store.groups.get(groupId), cycle, weights)), total, offset, limit };
}

function cycleView(store: Store, group: RolloutGroup, cycle: ReflectionCycle, weights: Record<string, number>): ReflectionCycleView {
  const spec = store.prompts.get(group.promptId).spec as unknown as PromptSpec;
  const verdictOf = (sampleId: number): ImageVerdict => {
    const png = store.samples.imagePng(sampleId);
    if (!png) throw new Error(`reflection cycle ${cycle.id}: sample ${sampleId} has no image`);
    const { width, height, rgb } = decodePng(png);
    const { correct, reward, reason } = score({ width, height, data: rgb }, spec);
    return { sampleId, correct, reward, reason };
  };
  const member = store.samples.get(cycle.sampleId);
  return {
    id: cycle.id,
    sampleId: cycle.sampleId,
    groupId: group.id,
    step: group.step,
    prompt: group.prompt,
    task: group.task,
    rounds: cycle.rounds.map((round) => roundView(round, verdictOf, weights)),
    outcome: outcomeOf(cycle),
    rewards: member.rewards,
    reward: member.reward,
    advantage: member.advantage,
  };
}

function roundView(
  round: ReflectionRound,
  verdictOf: (sampleId: number) => ImageVerdict,
  weights: Record<string, number>,
): ReflectionRoundView {
  const { critique, fix } = readCritique(round.critique);
  const judged = verdictOf(round.judgedSampleId);
  const refined = round.refinedSampleId === null ? null : verdictOf(round.refinedSampleId);
  const rewards: RewardComponent[] = [
    { name: 'critique', value: round.verdict === round.scorerVerdict ? 1 : 0, weight: weights.critique ?? 0 },
  ];
  if (refined) rewards.push({ name: 'improvement', value: refined.reward - judged.reward, weight: weights.improvement ?? 0 });
  return {
    id: round.id,
    round: round.round,
    critique,
    fix,
    verdict: round.verdict,
    scorerVerdict: round.scorerVerdict,
    judged,
    refined,
    rewards,
    marks: round.marks,
  };
}
