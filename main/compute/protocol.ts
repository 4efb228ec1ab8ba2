// The typed message protocol between the main process and the compute worker.
// Heavy work (inference, training, evaluation) runs in the worker because onnxruntime-node's
// session.run blocks the event loop of whichever thread calls it.

/** Every kind of job the worker can run, with its parameters and its result. */
export interface JobKinds {
  /** ShapeEval on a suite with a named generator. */
  eval: { params: { suite: string; generator: string; limit?: number }; result: unknown };
  /** Busy CPU work for `ms` milliseconds (used to prove the main thread stays responsive). */
  spin: { params: { ms: number }; result: { iterations: number } };
}
export type JobKind = keyof JobKinds;
export type JobParams<K extends JobKind> = JobKinds[K]['params'];
export type JobResult<K extends JobKind> = JobKinds[K]['result'];

export interface JobProgress {
  done: number;
  total: number;
  message?: string;
}

/** main -> worker */
export type ToWorker =
  | { type: 'start'; jobId: string; kind: JobKind; params: unknown; cancelFlag: SharedArrayBuffer };

/** worker -> main */
export type FromWorker =
  | { type: 'progress'; jobId: string; progress: JobProgress }
  | { type: 'done'; jobId: string; result: unknown }
  | { type: 'failed'; jobId: string; error: string; cancelled: boolean };

/** What a job body receives: progress reporting and a cancellation check it should call often. */
export interface JobContext {
  progress(p: JobProgress): void;
  /** Throws JobCancelled once the main side asked to cancel. */
  checkCancelled(): void;
}

export class JobCancelled extends Error {
  constructor() {
    super('job cancelled');
    this.name = 'JobCancelled';
  }
}
