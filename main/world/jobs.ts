// The compute worker's `eval` job: a ShapeEval suite run with progress and cancellation.
import type { JobContext } from '../compute/job-context.ts';
import { runSuite, type SampleRecord, type SuiteReport } from './benchmark.ts';
import { createGenerator } from './generators.ts';
import { toUint8 } from './image.ts';
import { buildSuite } from './suites.ts';

/** A scored sample with its image as 8-bit RGB, so the app can store and show it (text rewrites have none). */
export type RecordWithImage = SampleRecord & { image?: { width: number; height: number; rgb: Uint8Array } };

export async function runSuiteJob(
  params: { suite: string; generator: string; limit?: number; checkpoint?: string; threads?: number; provider?: string },
  ctx: JobContext,
): Promise<SuiteReport & { records: RecordWithImage[] }> {
  const records: RecordWithImage[] = [];
  const suite = buildSuite(params.suite, params.limit !== undefined ? { limit: params.limit } : {});
  // Runtime options reach generators that run a model (Settings' threads and provider in the app).
  const { checkpoint, threads, provider } = params;
  const generator = await createGenerator(params.generator, {
    ...(checkpoint ? { checkpoint } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(provider ? { provider } : {}),
  });
  try {
    const report = await runSuite(suite, generator, {
      onRecord(record, image) {
        if (!image) {
          records.push(record);
          return;
        }
        const { width, height, data } = toUint8(image);
        records.push({ ...record, image: { width, height, rgb: data } });
      },
      onProgress(done, total, task) {
        ctx.checkCancelled();
        ctx.progress({ done, total, message: task });
      },
    });
    return { ...report, records };
  } finally {
    await generator.dispose?.();
  }
}
