// What people's answers do to a group (issue 14): their rankings and marks as reward components, the
// queue policy that picks which groups they see and says why, and the human share of an update.
// No Node imports: the API computes a group's automatic-only advantages with the same code.
import type { RewardComponent } from '../../contract/domain.ts';
import { groupAdvantages, type AdvantageOptions } from './advantages.ts';
import { mean, meanStd } from './stats.ts';
import { HUMAN_REWARDS, type QueuePolicy, type RewardComponentName } from './config.ts';
import type { Rng } from '../world/rng.ts';

/** People's answers on one group, per member sample id (ranking.ts humanRankRewards; the marks' means of +1 / -1). */
export interface GroupFeedback {
  humanRank: ReadonlyMap<number, number>;
  critiqueMark: ReadonlyMap<number, number>;
  editMark: ReadonlyMap<number, number>;
}

const FEEDBACK_NAMES = ['humanRank', 'critiqueMark', 'editMark'] as const satisfies readonly (keyof GroupFeedback & RewardComponentName)[];

/**
 * A member's reward components with people's answers in place: the feedback components are replaced by the
 * current ones (a value only where people answered, each with the run's weight, 0 included, so the
 * breakdown shows an answer that weighs nothing), every other component stays.
 */
export function withFeedback(
  components: readonly RewardComponent[],
  sampleId: number,
  feedback: GroupFeedback,
  weights: Readonly<Record<RewardComponentName, number>>,
): RewardComponent[] {
  const kept = components.filter((c) => !(FEEDBACK_NAMES as readonly string[]).includes(c.name));
  const added = FEEDBACK_NAMES.flatMap((name) => {
    const value = feedback[name].get(sampleId);
    return value === undefined ? [] : [{ name, value, weight: weights[name] }];
  });
  return [...kept, ...added];
}

/** Σ value·weight over the components people feed (rankings, the preference model trained on them, marks). */
export function humanPart(components: readonly RewardComponent[]): number {
  return components.filter(isHuman).reduce((a, c) => a + c.value * c.weight, 0);
}

function isHuman(c: RewardComponent): boolean {
  return (HUMAN_REWARDS as readonly string[]).includes(c.name);
}

/**
 * The human rewards' share of an update: Σ|value·weight| of the human components over Σ|value·weight| of
 * all components, over every sample the update trains on (0 when nothing is weighted).
 */
export function humanShare(samples: readonly (readonly RewardComponent[])[]): number {
  let human = 0;
  let all = 0;
  for (const components of samples) {
    for (const c of components) {
      const size = Math.abs(c.value * c.weight);
      all += size;
      if (isHuman(c)) human += size;
    }
  }
  return all === 0 ? 0 : human / all;
}

/** What a group's advantages would be on the automatic rewards alone (the "before" of a ranking). */
export function automaticAdvantages(totals: readonly number[], humanParts: readonly number[], options: AdvantageOptions): number[] {
  return groupAdvantages(
    totals.map((t, k) => t - humanParts[k]!),
    options,
  ).advantages;
}

export interface QueueChoice {
  /** Higher is shown first. */
  score: number;
  /** What the Ranking screen says about why this group was chosen. */
  reason: string;
}

/**
 * Scores a group for the ranking queue under the run's policy. `totals`: the members' automatic rewards;
 * `preference`: the preference model's raw scores of the members, or null while there is no model (the
 * model-based policies then fall back to the reward spread, and say so).
 */
export function queueChoice(policy: QueuePolicy, totals: readonly number[], preference: readonly number[] | null, rng: Rng): QueueChoice {
  if (policy === 'random') return { score: rng.next(), reason: 'random pick' };
  const spread = meanStd(totals).std;
  if (policy === 'spread' || preference === null) {
    const fallback = policy === 'spread' ? '' : ' (no preference model yet)';
    return { score: spread, reason: `reward spread ${spread.toFixed(3)}${fallback}` };
  }
  if (policy === 'uncertain') {
    const u = mean(pairsOf(preference.length).map(([i, j]) => 1 - Math.abs(2 / (1 + Math.exp(-(preference[i]! - preference[j]!))) - 1)));
    return { score: u, reason: `preference model unsure of the order (${u.toFixed(2)} of 1)` };
  }
  const tau = kendallTau(preference, totals);
  return { score: (1 - tau) / 2, reason: `preference model and automatic reward disagree (Kendall's tau ${tau.toFixed(2)})` };
}

function pairsOf(n: number): [number, number][] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) pairs.push([i, j]);
  return pairs;
}

/** Kendall's tau-a between two orderings of the same items (ties count as neither agreeing nor not). */
export function kendallTau(a: readonly number[], b: readonly number[]): number {
  const pairs = pairsOf(a.length);
  if (pairs.length === 0) return 0;
  return pairs.reduce((s, [i, j]) => s + Math.sign(a[i]! - a[j]!) * Math.sign(b[i]! - b[j]!), 0) / pairs.length;
}
