/**
 * A learning-rate schedule maps the 1-based step about to be taken to a multiplier of each group's
 * base learning rate, so one schedule drives groups with different rates (e.g. LM vs DM).
 */
export type LrSchedule = (step: number) => number;

export function constantLr(): LrSchedule {
  return () => 1;
}

export interface WarmupCosineOptions {
  /** Steps of linear warmup from 1/warmupSteps up to 1. 0 disables warmup. */
  warmupSteps: number;
  /** Step at which the cosine reaches `minFactor`; later steps stay there. */
  totalSteps: number;
  /** Floor of the multiplier after decay. Default 0. */
  minFactor?: number;
}

/** Linear warmup, then cosine decay from 1 to `minFactor` at `totalSteps`. */
export function warmupCosineLr({ warmupSteps, totalSteps, minFactor = 0 }: WarmupCosineOptions): LrSchedule {
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0)
    throw new Error(`warmupCosineLr: warmupSteps must be an integer >= 0, got ${warmupSteps}`);
  if (!Number.isInteger(totalSteps) || totalSteps <= warmupSteps) {
    throw new Error(`warmupCosineLr: totalSteps (${totalSteps}) must be an integer > warmupSteps (${warmupSteps})`);
  }
  if (!(minFactor >= 0 && minFactor <= 1)) throw new Error(`warmupCosineLr: minFactor must be in [0, 1], got ${minFactor}`);
  return (step) => {
    if (step <= warmupSteps) return step / warmupSteps;
    const progress = Math.min(1, (step - warmupSteps) / (totalSteps - warmupSteps));
    return minFactor + (1 - minFactor) * 0.5 * (1 + Math.cos(Math.PI * progress));
  };
}
