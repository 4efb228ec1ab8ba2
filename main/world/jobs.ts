// The compute worker's `eval` job: a ShapeEval suite run with progress and cancellation.
import { runSuite, type SuiteReport } from './benchmark.ts';
import { createGenerator } from './generators.ts';
import { buildSuite } from './suites.ts';

/** Structural copy of main/compute/protocol.ts's JobContext (kept structural so world/ stays free of it). */
export interface SuiteJobContext {
  progress(p: { done: number; total: number; message?: string }): void;
  checkCancelled(): void;
}

export async function runSuiteJob(
  params: { suite: string; generator: string; limit?: number },
  ctx: SuiteJobContext,
): Promise<SuiteReport> {
  const suite = buildSuite(params.suite, params.limit !== undefined ? { limit: params.limit } : {});
  const generator = await createGenerator(params.generator);
  try {
    return await runSuite(suite, generator, {
      onProgress(done, total, task) {
        ctx.checkCancelled();
        ctx.progress({ done, total, message: task });
      },
    });
  } finally {
    await generator.dispose?.();
  }
}
