// Group-relative advantages (GRPO): each sample's reward against its own group, in one of four
// normalisations (`loss.advantage` in config.ts). With r_i the rewards of a group g of G members,
// mean_g their mean, std_g their population std, std_B the population std of every reward in the batch:
//   groupStd  (GRPO, REFERENCE §1)     A_i = (r_i - mean_g) / (std_g + eps)
//   globalStd (Flow-GRPO's fast recipe) A_i = (r_i - mean_g) / (std_B + eps)
//   none      (Dr. GRPO)                A_i =  r_i - mean_g                     (reward units)
//   winRate   (Pref-GRPO)               A_i = 2·w_i - 1,  w_i = (1/(G-1)) Σ_{j≠i} [r_i > r_j] + ½[r_i = r_j]
// each clamped to [-clip, clip]. Dividing by a small group std turns tiny reward gaps into unit advantages
// (the "illusory advantage" Pref-GRPO names, and what the edit runs of docs/results.md measured); the
// batch std keeps a group's scale relative to the rest of the step; none keeps reward units; the win rate
// keeps only the order.
//
// winRate, precisely: w_i is the share of pairwise comparisons member i wins within its group, a tie
// counting half. The w_i of a group sum to G/2 (each pair hands out exactly one win), so their mean is
// 1/2 and 2·w_i - 1 = 2·(w_i - mean_w) is w_i centred and spread over [-1, 1]: the best member of a strict
// order gets 1, the worst -1. For a strict order this is 1 - 2p/(G-1), p the member's 0-based position,
// the same scale ranking.ts gives a person's ranking (ties there also share their positions' mean).

import { meanStd } from './stats.ts';

export const ADVANTAGE_MODES = ['groupStd', 'globalStd', 'none', 'winRate'] as const;
export type AdvantageMode = (typeof ADVANTAGE_MODES)[number];

export interface AdvantageOptions {
  /** How a group's rewards become advantages (default 'groupStd'). */
  mode?: AdvantageMode;
  /** Added to the std before dividing (REFERENCE §1: 1e-4). */
  stdEps?: number;
  /** Advantages are clamped to [-clip, clip] (REFERENCE §1: 5). */
  clip?: number;
  /**
   * A group whose population std is at most this counts as zero-spread; winRate: two rewards closer than
   * this tie.
   */
  zeroStdTolerance?: number;
  /**
   * globalStd: the population std of every reward in the step's batch. batchAdvantages computes it; a
   * group recomputed alone later (people's ranks reached it) passes its batch's.
   */
  batchStd?: number;
}

export interface GroupAdvantages {
  /** One advantage per member, in member order; all 0 for a zero-spread group. */
  advantages: number[];
  mean: number;
  /** Population std (ddof 0, as numpy's default in Flow-GRPO's code). */
  std: number;
  /** All rewards (nearly) equal: no GRPO signal, so the group is skipped in the update. */
  zeroStd: boolean;
}

export interface BatchAdvantages {
  groups: GroupAdvantages[];
  /** Population std of every reward of the batch (what globalStd divides by). */
  batchStd: number;
  /** Fraction of groups with zero reward spread (the metric frac_reward_zero_std). */
  fracZeroStd: number;
  /** Groups left for the update. */
  trainedGroups: number;
}

/** The advantages of one group's members (the header's table); globalStd needs `options.batchStd`. */
export function groupAdvantages(rewards: readonly number[], options: AdvantageOptions = {}): GroupAdvantages {
  const { mode = 'groupStd', stdEps = 1e-4, clip = 5, zeroStdTolerance = 1e-9, batchStd } = options;
  if (rewards.length < 2) throw new Error(`groupAdvantages: a group needs at least 2 rewards, got ${rewards.length}`);
  rewards.forEach((r, i) => {
    if (!Number.isFinite(r)) throw new Error(`groupAdvantages: reward ${i} is not finite (${r})`);
  });
  const { mean, std } = meanStd(rewards);
  const zeroStd = std <= zeroStdTolerance;
  const clamp = (a: number) => Math.min(clip, Math.max(-clip, a));
  if (zeroStd) return { advantages: rewards.map(() => 0), mean, std, zeroStd };
  if (mode === 'winRate') return { advantages: winRates(rewards, zeroStdTolerance).map((w) => clamp(2 * w - 1)), mean, std, zeroStd };
  let scale = 1;
  if (mode === 'groupStd') scale = std + stdEps;
  if (mode === 'globalStd') {
    if (batchStd === undefined) {
      throw new Error("groupAdvantages: mode 'globalStd' needs the batch's std (batchStd); batchAdvantages computes it");
    }
    scale = batchStd + stdEps;
  }
  return { advantages: rewards.map((r) => clamp((r - mean) / scale)), mean, std, zeroStd };
}

/** Advantages of every group of a batch (one step's groups), with the zero-spread groups counted. */
export function batchAdvantages(groupRewards: readonly (readonly number[])[], options: AdvantageOptions = {}): BatchAdvantages {
  if (groupRewards.length === 0) throw new Error('batchAdvantages: no groups');
  const batchStd = options.batchStd ?? meanStd(groupRewards.flat()).std;
  const groups = groupRewards.map((rewards) => groupAdvantages(rewards, { ...options, batchStd }));
  const zero = groups.filter((g) => g.zeroStd).length;
  return { groups, batchStd, fracZeroStd: zero / groups.length, trainedGroups: groups.length - zero };
}

/** w_i: the share of member i's comparisons with the rest of its group that it wins, ties counting half. */
export function winRates(rewards: readonly number[], tieTolerance = 0): number[] {
  const G = rewards.length;
  return rewards.map((ri, i) => {
    let wins = 0;
    rewards.forEach((rj, j) => {
      if (j === i) return;
      if (Math.abs(ri - rj) <= tieTolerance) wins += 0.5;
      else if (ri > rj) wins += 1;
    });
    return wins / (G - 1);
  });
}
