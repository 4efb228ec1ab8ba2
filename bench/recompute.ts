/**
 * Gradient checkpointing (grad's `recompute`): peak memory and step time of the bench decoder's train step
 * (loss + every gradient, one ORT run) with its activations kept vs each block recomputed in its gradient
 * scope. Each mode runs in its own process, so its peak resident memory (maxRSS) is its own.
 *
 *   node --import tsx bench/recompute.ts [--width 192] [--layers 6] [--tokens 64] [--batch 32] [--steps 3] [--threads 2] [--json out.json]
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseFlags } from '../main/cli/args.ts';
import { blockSegments } from '../main/engine/autodiff/grad.ts';
import { encodeModel } from '../main/engine/onnx/proto.ts';
import { batchFor, benchGraphs, CONFIGS, type BenchConfig } from '../main/engine/reference-models.ts';
import { createSession } from '../main/engine/runtime/session.ts';

interface ModeResult {
  mode: 'kept' | 'recomputed';
  /** Peak resident memory of the process, MiB. */
  max_rss_mib: number;
  /** Median ms of a train step. */
  step_ms: number;
  graph_nodes: number;
}

async function child(mode: ModeResult['mode'], config: BenchConfig, steps: number, threads: number): Promise<ModeResult> {
  const { store, train } = benchGraphs(config, 0, mode === 'recomputed' ? { recompute: blockSegments(/^block\d+\//) } : {});
  const session = await createSession(encodeModel(train), { threads, cache: false });
  const feeds = { ...store.feeds(), ...batchFor(config).feeds };
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const start = performance.now();
    await session.run(feeds);
    times.push(performance.now() - start);
  }
  await session.release();
  times.sort((a, b) => a - b);
  return {
    mode,
    max_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
    step_ms: Math.round(times[Math.floor(times.length / 2)]!),
    graph_nodes: train.graph.node.length,
  };
}

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), {
    width: 'string',
    layers: 'string',
    tokens: 'string',
    batch: 'string',
    steps: 'string',
    threads: 'string',
    json: 'string',
    child: 'string',
  });
  const base = CONFIGS[0]!;
  const width = Number(flags.width ?? base.width);
  const config: BenchConfig = {
    ...base,
    width,
    heads: width / 32,
    layers: Number(flags.layers ?? base.layers),
    tokens: Number(flags.tokens ?? base.tokens),
    batch: Number(flags.batch ?? base.batch),
  };
  config.name = `decoder-w${config.width}-l${config.layers}-t${config.tokens}-b${config.batch}`;
  const steps = Number(flags.steps ?? 3);
  const threads = Number(flags.threads ?? 2);
  if (flags.child) {
    process.stdout.write(JSON.stringify(await child(flags.child as ModeResult['mode'], config, steps, threads)));
    return;
  }
  const script = fileURLToPath(import.meta.url);
  const results = (['kept', 'recomputed'] as const).map((mode) => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', script, ...process.argv.slice(2).filter((a) => a !== '--json' && a !== flags.json), '--child', mode],
      { encoding: 'utf8' },
    );
    if (run.status !== 0) throw new Error(`${mode}: ${run.stderr}`);
    return JSON.parse(run.stdout) as ModeResult;
  });
  const [kept, recomputed] = results as [ModeResult, ModeResult];
  const report = {
    bench: 'recompute',
    date: new Date().toISOString(),
    config,
    steps,
    threads,
    results,
    saved_mib: kept.max_rss_mib - recomputed.max_rss_mib,
    time_ratio: +(recomputed.step_ms / kept.step_ms).toFixed(2),
  };
  console.log(JSON.stringify(report, null, 2));
  if (flags.json) writeFileSync(flags.json, JSON.stringify(report, null, 2) + '\n');
}

await main();
