// Evaluation jobs started from this window, with live progress from `job.progress`/`job.finished`.
// Lives for the whole app, so leaving the Evaluation page does not lose a running job.
import type { Events } from '../../../contract/api.ts';
import type { RendererApi } from './api.ts';

export type JobStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface EvalJob {
  jobId: string;
  suite: string;
  generator: string;
  status: JobStatus;
  done: number;
  total: number;
  message: string | null;
  result: unknown;
  error: string | null;
  startedAt: number;
  finishedAt: number | null;
  /** The evaluation row its results are recorded under. */
  evaluationId?: number;
}

export class EvalJobsState {
  /** Newest first. */
  jobs = $state<EvalJob[]>([]);

  constructor(private readonly api: RendererApi) {
    api.on('job.progress', (event) => this.progress(event));
    api.on('job.finished', (event) => this.finished(event));
  }

  /** The two evaluations of the last side-by-side start: the records section shows them paired. */
  pair = $state<{ first: number; second: number } | null>(null);

  /** Two checkpoints on the same suite, prompts and seeds: a paired comparison once both finish. */
  async startPair(suite: string, limit: number | undefined, first: string, second: string): Promise<void> {
    const a = await this.start(suite, 'model', limit, first);
    const b = await this.start(suite, 'model', limit, second);
    if (a.evaluationId !== undefined && b.evaluationId !== undefined) this.pair = { first: a.evaluationId, second: b.evaluationId };
  }

  async start(suite: string, generator: string, limit?: number, checkpoint?: string): Promise<EvalJob> {
    const info = await this.api.call('eval.start', {
      suite,
      generator,
      ...(limit === undefined ? {} : { limit }),
      ...(checkpoint ? { checkpoint } : {}),
    });
    // A fast job may have reported (even finished) before this answer arrived.
    const job = this.ensure(info.jobId);
    job.suite = suite;
    job.generator = generator;
    if (info.evaluationId !== undefined) job.evaluationId = info.evaluationId;
    return job;
  }

  async cancel(jobId: string): Promise<void> {
    await this.api.call('jobs.cancel', { jobId });
  }

  private progress(event: Events['job.progress']): void {
    if (event.kind !== 'eval') return;
    const job = this.ensure(event.jobId);
    job.done = event.done;
    job.total = event.total;
    job.message = event.message ?? null;
  }

  private finished(event: Events['job.finished']): void {
    if (event.kind !== 'eval') return;
    const job = this.ensure(event.jobId);
    job.status = event.cancelled ? 'cancelled' : event.ok ? 'succeeded' : 'failed';
    job.result = event.result ?? null;
    job.error = event.error ?? null;
    job.finishedAt = Date.now();
    if (event.ok) job.done = job.total;
  }

  private ensure(jobId: string): EvalJob {
    const existing = this.jobs.find((job) => job.jobId === jobId);
    if (existing) return existing;
    this.jobs.unshift({
      jobId,
      suite: '?',
      generator: '?',
      status: 'running',
      done: 0,
      total: 0,
      message: null,
      result: null,
      error: null,
      startedAt: Date.now(),
      finishedAt: null,
    });
    return this.jobs[0]!;
  }
}
