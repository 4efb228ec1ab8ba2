// The typed message protocol between the main process and the compute worker.
import type { EventName } from '../../contract/api.ts';
import type { PretrainOptions, PretrainResult } from '../models/pretrain.ts';
import type { TrainJobParams } from '../rl/job.ts';
import type { RedrawResult } from '../rl/redraw.ts';
import type { RewardBatchParams, RewardBatchResult } from '../rl/reward-batch.ts';
import type { TrainResult } from '../rl/trainer.ts';
import type { JobProgress } from './job-context.ts';

// Heavy work (inference, training, evaluation) runs in the worker because onnxruntime-node's
// session.run blocks the event loop of whichever thread calls it.

/** Every kind of job the worker can run, with its parameters and its result. */
export interface JobKinds {
  /** ShapeEval on a suite with a named generator. */
  eval: {
    params: { suite: string; generator: string; limit?: number; checkpoint?: string; threads?: number; provider?: string };
    result: unknown;
  };
  /** Supervised pretraining of the unified model (the same code path as `unirl pretrain`). */
  pretrain: { params: PretrainOptions; result: PretrainResult };
  /** GRPO training of one run (new, or resumed by runId); ends at its limit or when cancelled. */
  train: { params: TrainJobParams; result: TrainResult };
  /** A stored sample's DM trajectories drawn again from its seeds and the nearest checkpoint. */
  redraw: { params: { dataDir?: string; sampleId: number }; result: RedrawResult };
  /** Scores a batch of images for the reward service; bad input comes back as `inputError`, not a failure. */
  reward: {
    params: RewardBatchParams & { dataDir: string };
    result: RewardBatchResult | { inputError: { field: string; message: string } };
  };
  /** Busy CPU work for `ms` milliseconds (used to prove the main thread stays responsive). */
  spin: { params: { ms: number }; result: { iterations: number } };
}
export type JobKind = keyof JobKinds;
export type JobParams<K extends JobKind> = JobKinds[K]['params'];
export type JobResult<K extends JobKind> = JobKinds[K]['result'];

/** main -> worker */
export type ToWorker = { type: 'start'; jobId: string; kind: JobKind; params: unknown; cancelFlag: SharedArrayBuffer };

/** The shared cancel flag's values: a job stops the same way for both; `pause` tells it to resume-ably park. */
export const CANCEL = { none: 0, stop: 1, pause: 2 } as const;

/** worker -> main */
export type FromWorker =
  | { type: 'progress'; jobId: string; progress: JobProgress }
  | { type: 'event'; jobId: string; name: EventName; payload: unknown }
  | { type: 'done'; jobId: string; result: unknown }
  | { type: 'failed'; jobId: string; error: string; cancelled: boolean };
