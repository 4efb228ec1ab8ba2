// The main-process side of the compute worker: start jobs, follow their progress, cancel them.
import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { EventName } from '../../contract/api.ts';
import type { CancelMode, JobProgress } from './job-context.ts';
import { CANCEL, type FromWorker, type JobKind, type JobParams, type JobResult } from './protocol.ts';

export interface JobHandle<K extends JobKind> {
  id: string;
  kind: K;
  result: Promise<JobResult<K>>;
  cancel(mode?: CancelMode): void;
}

export interface ComputeEvents {
  onProgress?(jobId: string, kind: JobKind, progress: JobProgress): void;
  /** An app event a job emitted (e.g. metrics of a training step). */
  onEvent?(name: EventName, payload: unknown): void;
}

interface PendingJob {
  kind: JobKind;
  cancelFlag: Int32Array;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export class JobFailed extends Error {
  constructor(
    message: string,
    readonly cancelled: boolean,
  ) {
    super(message);
    this.name = cancelled ? 'JobCancelled' : 'JobFailed';
  }
}

/** Where the worker's entry lives: the bundled worker.js beside a built main, or the TS source via tsx. */
function spawnWorker(): Worker {
  const here = import.meta.url;
  if (here.endsWith('.js')) return new Worker(new URL('./worker.js', here));
  return new Worker(new URL('./boot.mjs', here), {
    workerData: { entry: new URL('./worker.ts', here).href },
  });
}

export class ComputeClient {
  private worker: Worker | null = null;
  private readonly jobs = new Map<string, PendingJob>();

  constructor(private readonly events: ComputeEvents = {}) {}

  start<K extends JobKind>(kind: K, params: JobParams<K>): JobHandle<K> {
    const worker = this.ensureWorker();
    worker.ref(); // keep the process alive while a job runs
    const id = randomUUID();
    const shared = new SharedArrayBuffer(4);
    const cancelFlag = new Int32Array(shared);
    const result = new Promise<JobResult<K>>((resolve, reject) => {
      this.jobs.set(id, { kind, cancelFlag, resolve: resolve as (v: unknown) => void, reject });
    });
    worker.postMessage({ type: 'start', jobId: id, kind, params, cancelFlag: shared });
    return { id, kind, result, cancel: (mode) => this.cancel(id, mode) };
  }

  cancel(jobId: string, mode: CancelMode = 'stop'): boolean {
    const job = this.jobs.get(jobId);
    if (!job) return false;
    Atomics.store(job.cancelFlag, 0, CANCEL[mode]);
    return true;
  }

  get activeJobs(): string[] {
    return [...this.jobs.keys()];
  }

  async close(): Promise<void> {
    for (const id of this.jobs.keys()) this.cancel(id);
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = spawnWorker();
    worker.unref();
    worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    worker.on('error', (err) => this.failAll(`compute worker crashed: ${err.message}`));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = null;
      if (code !== 0) this.failAll(`compute worker exited with code ${code}`);
    });
    this.worker = worker;
    return worker;
  }

  private onMessage(msg: FromWorker): void {
    const job = this.jobs.get(msg.jobId);
    if (!job) return;
    if (msg.type === 'progress') {
      this.events.onProgress?.(msg.jobId, job.kind, msg.progress);
      return;
    }
    if (msg.type === 'event') {
      this.events.onEvent?.(msg.name, msg.payload);
      return;
    }
    this.jobs.delete(msg.jobId);
    if (this.jobs.size === 0) this.worker?.unref();
    if (msg.type === 'done') job.resolve(msg.result);
    else job.reject(new JobFailed(msg.error, msg.cancelled));
  }

  private failAll(message: string): void {
    for (const [id, job] of this.jobs) {
      job.reject(new JobFailed(message, false));
      this.jobs.delete(id);
    }
  }
}
