// Group-relative advantages (GRPO): each sample's reward against its own group's mean and spread.
import { meanStd } from './stats.ts';

export interface AdvantageOptions {
  /** Added to the group std before dividing (REFERENCE §1: 1e-4). */
  stdEps?: number;
  /** Advantages are clamped to [-clip, clip] (REFERENCE §1: 5). */
  clip?: number;
  /** A group whose population std is at most this counts as zero-spread. */
  zeroStdTolerance?: number;
  /** Divide by the group's std (GRPO, default) or not (Dr. GRPO: A_i = r_i - mean_g, in reward units). */
  scaleByStd?: boolean;
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
  /** Fraction of groups with zero reward spread (the metric frac_reward_zero_std). */
  fracZeroStd: number;
  /** Groups left for the update. */
  trainedGroups: number;
}

/** A_i = clamp((r_i - mean_g) / (std_g + eps), -clip, clip); without scaleByStd, clamp(r_i - mean_g, -clip, clip). */
export function groupAdvantages(rewards: readonly number[], options: AdvantageOptions = {}): GroupAdvantages {
  const { stdEps = 1e-4, clip = 5, zeroStdTolerance = 1e-9, scaleByStd = true } = options;
  if (rewards.length < 2) throw new Error(`groupAdvantages: a group needs at least 2 rewards, got ${rewards.length}`);
  rewards.forEach((r, i) => {
    if (!Number.isFinite(r)) throw new Error(`groupAdvantages: reward ${i} is not finite (${r})`);
  });
  const { mean, std } = meanStd(rewards);
  const zeroStd = std <= zeroStdTolerance;
  const scale = scaleByStd ? std + stdEps : 1;
  const advantages = rewards.map((r) => (zeroStd ? 0 : Math.min(clip, Math.max(-clip, (r - mean) / scale))));
  return { advantages, mean, std, zeroStd };
}

/** Advantages of every group of a batch, with the zero-spread groups counted. */
export function batchAdvantages(groupRewards: readonly (readonly number[])[], options: AdvantageOptions = {}): BatchAdvantages {
  if (groupRewards.length === 0) throw new Error('batchAdvantages: no groups');
  const groups = groupRewards.map((rewards) => groupAdvantages(rewards, options));
  const zero = groups.filter((g) => g.zeroStd).length;
  return { groups, fracZeroStd: zero / groups.length, trainedGroups: groups.length - zero };
}
