// The job bodies the compute worker runs. Each is an async function of (params, context);
// later issues add pretraining and GRPO training here.
import type { JobContext, JobKind, JobParams, JobResult } from './protocol.ts';

type JobBody<K extends JobKind> = (params: JobParams<K>, ctx: JobContext) => Promise<JobResult<K>>;

export const jobBodies: { [K in JobKind]: JobBody<K> } = {
  async eval(params, ctx) {
    const { runSuiteJob } = await import('../world/jobs.ts');
    return runSuiteJob(params, ctx);
  },

  async spin({ ms }, ctx) {
    // Deliberately synchronous work in slices, like a session.run that blocks its thread.
    const end = performance.now() + ms;
    let iterations = 0;
    let acc = 0;
    while (performance.now() < end) {
      for (let i = 0; i < 100_000; i++) acc += Math.sqrt(i + acc) % 7;
      iterations++;
      ctx.checkCancelled();
      if (iterations % 10 === 0) ctx.progress({ done: Math.min(ms, ms - (end - performance.now())), total: ms });
    }
    return { iterations: acc >= 0 ? iterations : -1 };
  },
};
