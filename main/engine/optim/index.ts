export { AdamW, type AdamWOptions, type AdamWState, type GroupOptions, type Grads, type StepReport } from './adamw.ts';
export { clipGradNorm, globalGradNorm } from './clip.ts';
export { constantLr, warmupCosineLr, type LrSchedule, type WarmupCosineOptions } from './schedule.ts';
