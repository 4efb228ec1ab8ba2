// The job bodies the compute worker runs (evaluation, pretraining, GRPO training, a test spin).
// Each is an async function of (params, context), loaded lazily so the worker starts fast.
import type { JobContext } from './job-context.ts';
import type { JobKind, JobParams, JobResult } from './protocol.ts';

type JobBody<K extends JobKind> = (params: JobParams<K>, ctx: JobContext) => Promise<JobResult<K>>;

export const jobBodies: { [K in JobKind]: JobBody<K> } = {
  async eval(params, ctx) {
    const [{ runSuiteJob }] = await Promise.all([import('../world/jobs.ts'), import('../models/generator.ts')]);
    return runSuiteJob(params, ctx);
  },

  async pretrain(params, ctx) {
    const { pretrain } = await import('../models/pretrain.ts');
    return pretrain(params, ctx);
  },

  async train(params, ctx) {
    const [{ trainJob }, { openStore, resolveDataDir }] = await Promise.all([import('../rl/job.ts'), import('../../db/index.ts')]);
    // A read connection to turn step summaries into the events the UI listens to.
    const store = openStore(resolveDataDir({ cliDir: params.dataDir }).dbPath);
    try {
      return await trainJob(params, ctx, {
        cancelledStatus: () => (ctx.cancelMode?.() === 'pause' ? 'paused' : 'stopped'),
        onStep: (summary) => {
          ctx.emit?.('metrics.appended', { runId: summary.runId, step: summary.step, values: summary.metrics });
          ctx.emit?.('run.updated', store.runs.get(summary.runId));
        },
        onStatus: (run) => ctx.emit?.('run.updated', run),
        log: (line) => ctx.progress({ done: 0, total: 1, message: line }),
      });
    } finally {
      store.close();
    }
  },

  async redraw(params) {
    const { redrawSample } = await import('../rl/redraw.ts');
    return redrawSample(params);
  },

  async reward({ dataDir, ...params }, ctx) {
    const [{ scoreRewardBatch, RewardInputError }, { openStore, resolveDataDir }] = await Promise.all([
      import('../rl/reward-batch.ts'),
      import('../../db/index.ts'),
    ]);
    const store = openStore(resolveDataDir({ cliDir: dataDir }).dbPath);
    try {
      return await scoreRewardBatch(store, params, ctx);
    } catch (err) {
      if (err instanceof RewardInputError) return { inputError: { field: err.field, message: err.message } };
      throw err;
    } finally {
      store.close();
    }
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
