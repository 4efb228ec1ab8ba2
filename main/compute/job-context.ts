// What a long job body (training, pretraining, evaluation) receives from whoever runs it: the compute
// worker or the CLI. A leaf module, so rl/, models/ and world/ depend on it and not on the worker protocol.
import type { EventName, Events } from '../../contract/api.ts';

export interface JobProgress {
  done: number;
  total: number;
  message?: string;
}

/** How a cancelled job should end: `pause` parks it resumably, `stop` ends it for good. */
export type CancelMode = 'stop' | 'pause';

/** Progress reporting and a cancellation check the job calls often. */
export interface JobContext {
  progress(p: JobProgress): void;
  /** Throws JobCancelled once the runner asked to cancel. */
  checkCancelled(): void;
  /** Whether the cancellation (if any) asked to pause rather than stop. */
  cancelMode?(): CancelMode | null;
  /** Forwards an app event (new metrics, a run's status) for the main process to publish. */
  emit?<E extends EventName>(name: E, payload: Events[E]): void;
}

export class JobCancelled extends Error {
  constructor() {
    super('job cancelled');
    this.name = 'JobCancelled';
  }
}
