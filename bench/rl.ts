/**
 * Learning per CPU-minute (issue 18): text-to-image GRPO from the same weights, seeds and prompts under each
 * objective and advantage normalisation worth comparing, each given the same CPU budget (this process's CPU
 * time while training: onnxruntime's threads included, evaluation excluded, so other jobs on the machine do
 * not change an arm's budget). At each CPU-minute mark the weights are scored on a fixed GenEval-like suite
 * (the first --limit prompts of each task, --samples images each, Euler ODE with the base's sampling
 * settings). Prints a table, writes JSON and a learning-curve SVG (ShapeEval against CPU-minutes, one line per
 * arm), and compares every arm's final evaluation with the first arm's, paired by prompt and seed
 * (main/world/paired.ts: clustered standard errors).
 *
 *   npm run bench:rl -- [--minutes 6] [--marks 3] [--arms flowGrpo,fast,nft] [--limit 12] [--samples 2]
 *                       [--threads 2] [--preset base|nano] [--json out.json] [--svg docs/img/rl-curves.svg]
 *   npm run bench:rl -- --replot out.json --svg plot.svg     (the curves of an earlier run, drawn again)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '../db/index.ts';
import { JobCancelled } from '../main/compute/job-context.ts';
import { saveCheckpoint } from '../main/engine/checkpoint/checkpoint.ts';
import { createModelGenerator } from '../main/models/generator.ts';
import { NANO_OVERRIDES, resolveTrainConfig, type TrainConfigInput } from '../main/rl/config.ts';
import { startingModel } from '../main/rl/job.ts';
import { shapeWorldTasks } from '../main/rl/tasks.ts';
import { train } from '../main/rl/trainer.ts';
import { UnifiedPolicy } from '../main/rl/unified.ts';
import { runSuite } from '../main/world/benchmark.ts';
import { pairedComparison } from '../main/world/paired.ts';
import { buildSuite } from '../main/world/suites.ts';

/** The arms, each spelled out in full (not relative to the t2i preset, which bench:rl's winner became). */
const FLOW_GRPO = { objective: 'flowGrpo', klBeta: 4e-3 } as const;
const NFT = { objective: 'nft', klBeta: 1e-4 } as const;
const WINDOW = { rollout: { sdeWindow: { size: 3, start: 'random' }, timestepFraction: 1 } } as const;
const ARMS: Readonly<Record<string, { label: string; config: TrainConfigInput }>> = {
  flowGrpo: {
    label: 'Flow-GRPO, group std, DM lr 1e-5 (the old preset)',
    config: {
      loss: { dm: FLOW_GRPO, advantage: 'groupStd' },
      optim: { lr: { dm: 1e-5 } },
      rollout: { sdeWindow: null, timestepFraction: 0.6 },
    },
  },
  flowGrpoLr: {
    label: 'Flow-GRPO, group std, DM lr 3e-5',
    config: {
      loss: { dm: FLOW_GRPO, advantage: 'groupStd' },
      optim: { lr: { dm: 3e-5 } },
      rollout: { sdeWindow: null, timestepFraction: 0.6 },
    },
  },
  fast: {
    label: 'Flow-GRPO-Fast: SDE window 3, global std',
    config: { ...WINDOW, loss: { dm: FLOW_GRPO, advantage: 'globalStd' }, optim: { lr: { dm: 1e-5 } } },
  },
  fastLr: {
    label: 'Flow-GRPO-Fast, DM lr 3e-5',
    config: { ...WINDOW, loss: { dm: FLOW_GRPO, advantage: 'globalStd' }, optim: { lr: { dm: 3e-5 } } },
  },
  nft: {
    label: 'DiffusionNFT, global std, DM lr 3e-5 (the preset now)',
    config: { loss: { dm: NFT, advantage: 'globalStd' }, optim: { lr: { dm: 3e-5 } }, rollout: { sdeWindow: null, timestepFraction: 0.6 } },
  },
  nftWinRate: {
    label: 'DiffusionNFT, win rate',
    config: { loss: { dm: NFT, advantage: 'winRate' }, optim: { lr: { dm: 3e-5 } }, rollout: { sdeWindow: null, timestepFraction: 0.6 } },
  },
  winRate: {
    label: 'Flow-GRPO, win rate',
    config: {
      loss: { dm: FLOW_GRPO, advantage: 'winRate' },
      optim: { lr: { dm: 1e-5 } },
      rollout: { sdeWindow: null, timestepFraction: 0.6 },
    },
  },
};

const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '6' },
    marks: { type: 'string', default: '3' },
    arms: { type: 'string', default: 'flowGrpo,flowGrpoLr,fast,nft' },
    limit: { type: 'string', default: '12' },
    samples: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    preset: { type: 'string', default: 'base' },
    seed: { type: 'string', default: '7' },
    json: { type: 'string' },
    svg: { type: 'string' },
    replot: { type: 'string' },
  },
});
const minutes = Number(flags.minutes);
const marks = Number(flags.marks);
const threads = Number(flags.threads);
const limit = Number(flags.limit);
const samplesPerItem = Number(flags.samples);
const seed = Number(flags.seed);
const arms = flags.arms
  .split(',')
  .map((name) => ({ name, ...(ARMS[name] ?? fail(`unknown arm '${name}' (arms: ${Object.keys(ARMS).join(', ')})`)) }));
if (!(minutes > 0) || !Number.isInteger(marks) || marks < 1) fail('--minutes must be > 0 and --marks a positive integer');
if (flags.preset !== 'base' && flags.preset !== 'nano') fail(`--preset must be base or nano, got ${flags.preset}`);
const suite = buildSuite('geneval', { limit, samplesPerItem });

interface Point {
  cpuMinutes: number;
  step: number;
  overall: number;
  tasks: Record<string, number>;
}
interface ArmResult {
  name: string;
  label: string;
  points: Point[];
  /** Per image of the final evaluation: item, sample, correct. */
  final: { item: string; sample: number; correct: boolean }[];
  steps: number;
}

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function evaluate(checkpoint: string): Promise<{ overall: number; tasks: Record<string, number>; records: ArmResult['final'] }> {
  const generator = await createModelGenerator({ threads, checkpoint });
  const records: ArmResult['final'] = [];
  try {
    const report = await runSuite(suite, generator, {
      onRecord: (r) => records.push({ item: r.item, sample: r.sample, correct: r.correct }),
    });
    return { overall: report.overall, tasks: Object.fromEntries(report.tasks.map((t) => [t.task, t.accuracy])), records };
  } finally {
    await generator.model.dispose();
  }
}

async function runArm(
  arm: (typeof arms)[number],
  base: { overall: number; tasks: Record<string, number>; records: ArmResult['final'] },
): Promise<ArmResult> {
  const dataDir = mkdtempSync(join(tmpdir(), `unirl-bench-rl-${arm.name}-`));
  const store = openStore(join(dataDir, 'unirl.sqlite'));
  const config = resolveTrainConfig('t2i', flags.preset === 'nano' ? NANO_OVERRIDES : {}, arm.config, {
    seed,
    steps: 100_000,
    minutes: null,
    eval: { every: 0 },
    checkpointEvery: 100_000,
    runtime: { threads },
    storage: { trajectories: 'none', keepLatest: 1, keepBest: false, snapshotEvery: 0 },
  });
  const start = startingModel(config, dataDir);
  const policy = new UnifiedPolicy(start.model, 't2i', start.metadata, config.runtime.samplesPerPass);
  const tasks = shapeWorldTasks('t2i', { seed: config.seed, heldoutPerTask: 1 });
  const points: Point[] = [{ cpuMinutes: 0, step: 0, overall: base.overall, tasks: base.tasks }];
  let runId: number | undefined;
  let spent = 0;
  let final = base.records;
  let step = 0;
  try {
    for (let mark = 1; mark <= marks; mark++) {
      const budget = (minutes * 60 * mark) / marks;
      const from = cpuSeconds();
      const ctx = {
        progress: () => {},
        checkCancelled: () => {
          if (spent + cpuSeconds() - from >= budget) throw new JobCancelled();
        },
      };
      // Each mark pauses the run (a checkpoint to evaluate) and the next resumes it.
      const result = await train(
        {
          config,
          store,
          dataDir,
          policy,
          tasks,
          cancelledStatus: () => 'paused',
          ...(runId !== undefined ? { runId } : { runName: arm.name }),
        },
        ctx,
      );
      spent += cpuSeconds() - from;
      runId = result.runId;
      step = result.step;
      const scored = await evaluate(result.checkpoint ?? fail(`${arm.name}: no checkpoint after ${step} steps`));
      final = scored.records;
      points.push({ cpuMinutes: spent / 60, step, overall: scored.overall, tasks: scored.tasks });
      console.log(`${arm.name}: ${(spent / 60).toFixed(1)} CPU-min, step ${step}: ShapeEval ${scored.overall.toFixed(3)}`);
    }
  } finally {
    await start.model.dispose();
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { name: arm.name, label: arm.label, points, final, steps: step };
}

/** ShapeEval against CPU-minutes, one polyline per arm, the legend beside it. */
function svgPlot(results: readonly Pick<ArmResult, 'label' | 'points'>[], threadCount: number): string {
  const [W, H, left, bottom, top, right] = [820, 360, 56, 44, 16, 300];
  const all = results.flatMap((r) => r.points);
  const xMax = Math.max(...all.map((p) => p.cpuMinutes));
  const yMin = Math.floor(Math.min(...all.map((p) => p.overall)) * 20) / 20;
  const yMax = Math.ceil(Math.max(...all.map((p) => p.overall)) * 20) / 20;
  const x = (v: number) => left + ((W - left - right) * v) / xMax;
  const y = (v: number) => H - bottom - ((H - bottom - top) * (v - yMin)) / Math.max(1e-9, yMax - yMin);
  const colours = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];
  const yTicks = Array.from({ length: Math.round((yMax - yMin) / 0.05) + 1 }, (_, i) => yMin + 0.05 * i);
  const xTicks = [...new Set(all.map((p) => Math.round(p.cpuMinutes)))];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>ShapeEval against CPU-minutes of GRPO training, one line per objective</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    ...yTicks.map(
      (t) =>
        `<line x1="${left}" x2="${W - right}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/>` +
        `<text x="${left - 6}" y="${y(t) + 4}" text-anchor="end">${t.toFixed(2)}</text>`,
    ),
    ...xTicks.map((t) => `<text x="${x(t)}" y="${H - bottom + 16}" text-anchor="middle">${t}</text>`),
    `<line x1="${left}" x2="${W - right}" y1="${H - bottom}" y2="${H - bottom}" stroke="black"/>`,
    `<text x="${(left + W - right) / 2}" y="${H - 6}" text-anchor="middle">CPU-minutes of training (${threadCount} threads)</text>`,
    `<text x="14" y="${(H - bottom) / 2}" transform="rotate(-90 14 ${(H - bottom) / 2})" text-anchor="middle">ShapeEval (GenEval-like)</text>`,
    ...results.map((r, i) => {
      const colour = colours[i % colours.length]!;
      const points = r.points.map((p) => `${x(p.cpuMinutes).toFixed(1)},${y(p.overall).toFixed(1)}`).join(' ');
      return (
        `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points}"/>` +
        r.points
          .map((p) => `<circle cx="${x(p.cpuMinutes).toFixed(1)}" cy="${y(p.overall).toFixed(1)}" r="3" fill="${colour}"/>`)
          .join('') +
        `<text x="${W - right + 12}" y="${top + 18 * i + 8}" fill="${colour}">${escapeXml(r.label)}</text>`
      );
    }),
    '</svg>',
  ].join('\n');
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function fail(message: string): never {
  throw new Error(`bench:rl: ${message}`);
}

// --replot out.json --svg plot.svg: draw the curves of an earlier run again (no training).
if (flags.replot) {
  const earlier = JSON.parse(readFileSync(flags.replot, 'utf8')) as { threads: number; arms: Pick<ArmResult, 'label' | 'points'>[] };
  writeFileSync(flags.svg ?? fail('--replot needs --svg'), svgPlot(earlier.arms, earlier.threads));
  process.exit(0);
}

const started = Date.now();
console.log(
  `bench:rl: ${arms.length} arms x ${minutes} CPU-minutes, marks every ${(minutes / marks).toFixed(1)}; ` +
    `suite geneval, ${limit} prompts per task x ${samplesPerItem} images`,
);
// The weights every arm starts from, as a file the evaluation loads (nano without pretraining: its seeded random weights).
const scratch = mkdtempSync(join(tmpdir(), 'unirl-bench-rl-'));
const starting = startingModel(resolveTrainConfig('t2i', flags.preset === 'nano' ? NANO_OVERRIDES : {}, { seed }), scratch);
const startingPath = starting.path ?? join(scratch, 'start.safetensors');
if (!starting.path) saveCheckpoint(startingPath, starting.model.store, { metadata: starting.model.checkpointMetadata() });
await starting.model.dispose();
const base = await evaluate(startingPath);
console.log(`starting weights (${starting.source}): ShapeEval ${base.overall.toFixed(3)}`);
const results: ArmResult[] = [];
for (const arm of arms) results.push(await runArm(arm, base));

/** Paired by prompt and image: the same suite and seeds give the same images' noise. */
const paired = (before: ArmResult['final'], after: ArmResult['final'], what: string) => {
  const key = (p: { item: string; sample: number }) => `${p.item}#${p.sample}`;
  const was = new Map(before.map((p) => [key(p), p.correct ? 1 : 0]));
  return pairedComparison(
    after.map((p) => ({ item: p.item, before: was.get(key(p)) ?? fail(`no ${key(p)} in ${what}`), after: p.correct ? 1 : 0 })),
  );
};
const [reference] = results;
const comparisons = results
  .slice(1)
  .map((r) => ({ arm: r.name, against: reference!.name, ...paired(reference!.final, r.final, reference!.name) }));
const fromBase = results.map((r) => ({ arm: r.name, ...paired(base.records, r.final, 'the starting evaluation') }));

console.log(
  '\n| arm | steps | ' + results[0]!.points.map((_, i) => (i === 0 ? 'start' : `mark ${i}`)).join(' | ') + ' | vs start (paired SE) |',
);
console.log('|' + ' --- |'.repeat(results[0]!.points.length + 3));
for (const [i, r] of results.entries()) {
  const d = fromBase[i]!;
  console.log(
    `| ${r.label} | ${r.steps} | ${r.points.map((p) => `${p.overall.toFixed(3)} (${p.cpuMinutes.toFixed(1)} min)`).join(' | ')} | ` +
      `${d.difference >= 0 ? '+' : ''}${d.difference.toFixed(3)} ± ${d.standardError.toFixed(3)} |`,
  );
}
for (const c of comparisons)
  console.log(
    `${c.arm} - ${c.against}: ${c.difference >= 0 ? '+' : ''}${c.difference.toFixed(3)} ± ${c.standardError.toFixed(3)} ` +
      `(${c.samples} images, ${c.items} prompts)`,
  );

const out = {
  bench: 'rl',
  preset: flags.preset,
  threads,
  minutes,
  marks,
  seed,
  suite: { name: 'geneval', limit, samplesPerItem, images: base.records.length },
  base: { overall: base.overall, tasks: base.tasks },
  arms: results.map(({ final: _final, ...r }) => r),
  fromBase,
  comparisons,
  wallSeconds: (Date.now() - started) / 1000,
};
if (flags.json) writeFileSync(flags.json, JSON.stringify(out, null, 2));
if (flags.svg) {
  mkdirSync(dirname(flags.svg), { recursive: true });
  writeFileSync(flags.svg, svgPlot(results, threads));
}
