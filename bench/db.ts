// The store at scale (issue 21): a synthetic t2i run of --samples samples (default one million, about a week of
// 2-core training) written the way the trainer writes at the default storage policy, then the reads the
// screens make, timed. Usage: npm run bench:db -- [--samples N] [--json out.json] [--dir DIR (kept)]
//   per sample: a 32x32 ShapeWorld PNG, one reward component, an advantage, a DM trajectory with log-probs,
//   times, steps and seeds; 2% of groups also keep q8 latents [11, 64, 48] (config.storage's default)
//   per step: 4 groups of 8 (the t2i preset), 30 metrics; 10% of groups wait in the ranking queue
// Reports insert throughput (one transaction per group, as the trainer), size on disk, and p50/p99 of: a page
// of groups (Rollouts: by keyset as the screen reads them, and by offset for comparison), the step list, a
// group's details, the ranking queue, the dashboard's metric series (thinned as the screen asks, and whole),
// an export (of a 2,000-sample run in the same file), and reclaiming a deleted run's space.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor } from '../contract/domain.ts';
import { openStore } from '../db/store.ts';
import type { SampleInput } from '../db/repos/samples.ts';
import { reclaimSpace } from '../db/usage.ts';
import { exportRun } from '../main/export/export.ts';
import { latentStorageOf } from '../main/rl/records.ts';
import { resolveTrainConfig } from '../main/rl/config.ts';
import { toUint8 } from '../main/world/image.ts';
import { renderScene } from '../main/world/render.ts';
import { Rng } from '../main/world/rng.ts';
import { describeObject, sampleScene } from '../main/world/scene.ts';
import { percentiles } from './stats.ts';

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const SAMPLES = Number(option('--samples') ?? 1_000_000);
const jsonPath = option('--json');
if (!Number.isSafeInteger(SAMPLES) || SAMPLES < 1000) throw new Error('--samples must be a whole number >= 1000');
const dir = option('--dir') ?? mkdtempSync(join(tmpdir(), 'unirl-bench-db-'));
const dbPath = join(dir, 'unirl.sqlite');

const G = 8,
  PROMPTS_PER_STEP = 4,
  S = 10,
  METRICS = 30;
const config = resolveTrainConfig('t2i');
const rng = new Rng(7);
const images = Array.from({ length: 97 }, () => {
  const image = toUint8(renderScene(sampleScene(rng)));
  return { width: image.width, height: image.height, rgb: image.data };
});
const prompts = Array.from({ length: 500 }, () => `a ${describeObject(sampleScene(rng, 1).objects[0]!)}`);
const times = Float32Array.from({ length: S + 1 }, (_, k) => 1 - k / S);
const steps = Int32Array.from({ length: S }, (_, k) => k);
// Pools, so the time measured is the store's, not the making of the inputs.
const logProbs = Array.from({ length: 101 }, () => Float32Array.from({ length: S }, () => -rng.next()));
const latentPool = Array.from({ length: 13 }, () => Float32Array.from({ length: (S + 1) * 3072 }, () => rng.next() * 4 - 2));

function sampleInput(i: number, keepLatents: boolean): SampleInput {
  const tensors: Record<string, Tensor> = {
    logProbs: { dtype: 'float32', shape: [S], data: logProbs[i % logProbs.length]! },
    times: { dtype: 'float32', shape: [S + 1], data: times },
    steps: { dtype: 'int32', shape: [S], data: steps },
  };
  if (keepLatents) tensors.latents = { dtype: 'float32', shape: [S + 1, 64, 48], data: latentPool[i % latentPool.length]! };
  return {
    seed: i,
    text: null,
    image: images[i % images.length]!,
    advantage: (i % 17) / 8 - 1,
    rewards: [{ name: 'shapeEval', value: (i % 5) / 4, weight: 1 }],
    trajectories: [
      {
        kind: 'dm',
        seeds: { noise: i, sde: i + 1 },
        ...(keepLatents ? { compact: 'q8' as const } : {}),
        tensors,
      },
    ],
  };
}

/** Writes `samples` samples of a run the way the trainer does; returns the run id and the insert rate. */
function writeRun(
  store: ReturnType<typeof openStore>,
  name: string,
  samples: number,
  progress: boolean,
): { runId: number; samplesPerSecond: number } {
  const run = store.runs.create({ name, scenario: 't2i', config: config as never });
  const promptIds = prompts.map((text) => store.prompts.ensure(run.id, { text, task: 'single_object' }).id);
  const stepCount = Math.ceil(samples / (G * PROMPTS_PER_STEP));
  const t0 = performance.now();
  let written = 0;
  for (let step = 1; step <= stepCount && written < samples; step++) {
    for (let index = 0; index < PROMPTS_PER_STEP && written < samples; index++) {
      const queued = rng.next() < 0.1;
      const keep = latentStorageOf(config, { step, index, ranked: queued }).latents;
      store.transaction(() =>
        store.groups.insert({
          runId: run.id,
          step,
          promptId: promptIds[(step * PROMPTS_PER_STEP + index) % promptIds.length]!,
          ranking: queued ? 'pending' : 'none',
          samples: Array.from({ length: G }, (_, k) => sampleInput(written + k, keep)),
        }),
      );
      written += G;
    }
    store.metrics.log(run.id, step, Object.fromEntries(Array.from({ length: METRICS }, (_, m) => [`metric/${m}`, rng.next()])));
    if (progress && step % 2000 === 0)
      process.stderr.write(`  ${written} samples, ${(written / ((performance.now() - t0) / 1000)).toFixed(0)}/s\n`);
  }
  return { runId: run.id, samplesPerSecond: written / ((performance.now() - t0) / 1000) };
}

function timed(n: number, fn: (i: number) => unknown): { p50: number; p99: number } {
  fn(0);
  const ms = Array.from({ length: n }, (_, i) => {
    const t = performance.now();
    fn(i + 1);
    return performance.now() - t;
  });
  const [p50, p99] = percentiles(ms, [0.5, 0.99]);
  return { p50: p50!, p99: p99! };
}

const store = openStore(dbPath);
try {
  process.stderr.write(`bench:db: writing ${SAMPLES} samples to ${dbPath}\n`);
  const big = writeRun(store, 'bench', SAMPLES, true);
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  const sizeBytes = statSync(dbPath).size;
  const groups = store.groups.list({ runId: big.runId, limit: 1 }).total;
  const groupIds = (store.db.prepare('SELECT id FROM rollout_groups WHERE run_id = ?').all(big.runId) as { id: number }[]).map((r) => r.id);
  const pages = Math.floor(groups / 100);
  const names = store.metrics.names(big.runId);
  // The Rollouts screen's pages of 100, newest first: a row index becomes (step, place in it) from the step
  // counts (renderer/src/lib/group-pages.svelte.ts), read by keyset from that step.
  const counts = store.groups.stepCounts(big.runId).reverse();
  let rows = 0;
  const firstRow = counts.map((s) => (rows += s.groups) - s.groups);
  const locate = (row: number) => {
    const next = firstRow.findIndex((start) => start > row);
    const k = (next < 0 ? counts.length : next) - 1;
    return { runId: big.runId, order: 'desc' as const, fromStep: counts[k]!.step, offset: row - firstRow[k]!, limit: 100 };
  };
  const deepPages = Array.from({ length: 201 }, (_, i) => locate(((i * 7919) % pages) * 100));
  const reads = {
    groupsPage: timed(200, (i) => store.groups.page(deepPages[i]!)),
    groupsFirstPage: timed(200, () => store.groups.page(deepPages[0]!)),
    groupsPageByOffset: timed(50, (i) =>
      store.groups.list({ runId: big.runId, order: 'desc', offset: ((i * 7919) % pages) * 100, limit: 100 }),
    ),
    stepCounts: timed(20, () => store.groups.stepCounts(big.runId)),
    groupDetail: timed(200, (i) => store.groups.detail(groupIds[(i * 104729) % groupIds.length]!)),
    rankingQueue: timed(200, () => store.rankings.queue({ annotator: 'bench', runId: big.runId })),
    rankingQueueAllRuns: timed(200, () => store.rankings.queue({ annotator: 'bench' })),
    // The dashboard asks for every metric the run logged, thinned to 1,000 points each (the default).
    dashboardMetrics8: timed(20, () => store.metrics.series({ runId: big.runId, names: names.slice(0, 8) })),
    dashboardMetricsAll: timed(20, () => store.metrics.series({ runId: big.runId, names })),
    dashboardMetrics8Whole: timed(5, () => store.metrics.series({ runId: big.runId, names: names.slice(0, 8), maxPoints: 1_000_000 })),
  };

  const small = writeRun(store, 'export', 2000, false);
  const out = mkdtempSync(join(tmpdir(), 'unirl-bench-export-'));
  const exportRollouts2k = timed(5, (i) => exportRun(store, { runId: small.runId, format: 'rollouts', outDir: join(out, String(i)) }));
  rmSync(out, { recursive: true, force: true });
  store.runs.delete(small.runId);
  const reclaim = reclaimSpace(store);

  const result = {
    samples: SAMPLES,
    groups,
    steps: Math.ceil(SAMPLES / (G * PROMPTS_PER_STEP)),
    metricsPerStep: METRICS,
    insertSamplesPerSecond: Math.round(big.samplesPerSecond),
    sizeBytes,
    bytesPerSample: Math.round(sizeBytes / SAMPLES),
    readsMs: reads,
    exportRollouts2kMs: exportRollouts2k,
    deleteRun2kReclaim: reclaim,
  };
  const text = JSON.stringify(result, null, 2);
  process.stdout.write(`${text}\n`);
  if (jsonPath) writeFileSync(jsonPath, `${text}\n`);
} finally {
  store.close();
  if (!option('--dir')) rmSync(dir, { recursive: true, force: true });
}
