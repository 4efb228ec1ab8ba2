/**
 * Engine benchmark: forward time, full train step (forward + backward in one ORT run + AdamW in TS),
 * tokens/s and matmul GFLOP/s for a transformer decoder stack and a diffusion-transformer stack, beside
 * the same models in PyTorch (bench/engine_torch.py) on the same number of threads.
 *
 *   node --import tsx bench/engine.ts [--json out.json] [--repeats 9] [--threads 2] [--quick] [--no-torch]
 *     [--opt-level all|extended|basic|disabled] [--spin]
 *
 * The two engines run interleaved (ours, torch, ours, torch...), each step timed inside its own process,
 * so on a shared machine both see the same background load; medians and best-of are reported.
 * GFLOP/s counts matmul FLOPs analytically (2·M·N·K each); a train step counts 3× the forward
 * (forward + two matmuls per matmul in backward), the usual convention, for both engines.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { encodeModel } from '../main/engine/onnx/proto.ts';
import { AdamW } from '../main/engine/optim/adamw.ts';
import { createSession, type SessionOptions } from '../main/engine/runtime/session.ts';
import { TrainingSession } from '../main/engine/runtime/training.ts';
import { batchFor, benchGraphs, CONFIGS, forwardFlops, QUICK_CONFIGS, type BenchConfig } from '../main/engine/reference-models.ts';
import { round, stats, type Stats } from './stats.ts';

type Action = 'forward' | 'train';

/** Something that can run one forward or one train step and say how long it took (ms). */
interface Timer {
  time(action: Action): Promise<number>;
  close(): Promise<void>;
}

interface OursTimer extends Timer {
  params: number;
  graphNodes: { forward: number; train: number };
  /** AdamW over all parameters alone (part of every train step), median of 5. */
  adamwMs(): number;
}

async function oursTimer(c: BenchConfig, options: SessionOptions): Promise<OursTimer> {
  const { store, forward: forwardModel, train: trainModel } = benchGraphs(c);
  const forward = await createSession(encodeModel(forwardModel), { ...options, cache: false });
  const train = await createSession(encodeModel(trainModel), { ...options, cache: false });
  const batch = batchFor(c).feeds;
  const optimizer = new AdamW(store, { lr: 1e-4, weightDecay: 0.01 });
  const trainer = new TrainingSession(train, store, optimizer);
  const run: Record<Action, () => Promise<unknown>> = {
    forward: () => forward.run({ ...store.feeds(), ...batch }, {}, ['loss']),
    train: () => trainer.step(batch),
  };
  return {
    params: store.size,
    graphNodes: { forward: forwardModel.graph.node.length, train: trainModel.graph.node.length },
    async time(action) {
      const start = performance.now();
      await run[action]();
      return performance.now() - start;
    },
    adamwMs() {
      const grads = Object.fromEntries(store.list().map((p) => [p.name, trainer.gradOf(p.name)]));
      const times = Array.from({ length: 5 }, () => {
        const start = performance.now();
        optimizer.step(grads);
        return performance.now() - start;
      });
      return stats(times).median;
    },
    async close() {
      await forward.release();
      await train.release();
    },
  };
}

const TORCH_PYTHON = '/usr/bin/python3';
const TORCH_SCRIPT = fileURLToPath(new URL('./engine_torch.py', import.meta.url));

interface TorchFacts {
  torch: string;
  threads: number;
  blas: { build: string; loaded: string[] };
  params: number;
}

/** bench/engine_torch.py --serve: one line per request, the step's milliseconds measured in Python. */
async function torchTimer(c: BenchConfig, threads: number): Promise<Timer & { facts: TorchFacts }> {
  // OMP_WAIT_POLICY=PASSIVE: torch's idle OpenMP workers otherwise spin and steal the cores its BLAS threads
  // need; on this shared 2-core box that made torch 2-3× slower. We give torch its best setting.
  const env = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
  const child: ChildProcessWithoutNullStreams = spawn(TORCH_PYTHON, [TORCH_SCRIPT, '--serve', JSON.stringify(c), String(threads)], { env });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async (): Promise<string> => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`engine_torch.py exited early: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return value as string;
  };
  const facts = JSON.parse(await nextLine()) as TorchFacts;
  return {
    facts,
    async time(action) {
      child.stdin.write(`${action}\n`);
      return Number(await nextLine());
    },
    async close() {
      child.stdin.end();
      await new Promise((resolve) => child.once('close', resolve));
    },
  };
}

/** Debian's torch (with OpenBLAS; without it torch falls back to reference BLAS, ~40× slower). Returns a problem, if any. */
function ensureTorch(): string | undefined {
  const probe = (): boolean => spawnSync(TORCH_PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  if (probe()) return undefined;
  console.error('bench: torch missing, installing python3-torch and libopenblas0-pthread with apt-get (a few minutes)...');
  const install = spawnSync('sh', ['-c', 'apt-get update && apt-get install -y python3-torch libopenblas0-pthread'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (install.status !== 0 || !probe()) return `could not install python3-torch (apt-get exit ${install.status})`;
  return undefined;
}

/**
 * Pause between timed runs. Both engines' worker threads spin for a while after a run (OpenBLAS up to
 * ~0.1 s, ORT briefly) and would otherwise steal the cores from the other engine's next run.
 */
const SETTLE_MS = 250;

/** Warmup, then `repeats` rounds of the action on each timer in turn. */
async function interleaved(timers: Timer[], action: Action, warmup: number, repeats: number): Promise<Stats[]> {
  const timeSettled = async (t: Timer): Promise<number> => {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    return t.time(action);
  };
  for (let i = 0; i < warmup; i++) for (const t of timers) await timeSettled(t);
  const times = timers.map(() => [] as number[]);
  for (let i = 0; i < repeats; i++) for (const [k, t] of timers.entries()) times[k]!.push(await timeSettled(t));
  return times.map(stats);
}

function parseArgs(argv: string[]) {
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const optLevel = (value('--opt-level') ?? 'all') as NonNullable<SessionOptions['graphOptimization']>;
  if (!['all', 'extended', 'basic', 'disabled'].includes(optLevel)) throw new Error(`--opt-level: unknown level '${optLevel}'`);
  const repeats = Number(value('--repeats') ?? 9);
  const threads = Number(value('--threads') ?? 2);
  if (!(repeats >= 1) || !(threads >= 1)) throw new Error('--repeats and --threads must be >= 1');
  return {
    json: value('--json'),
    repeats,
    threads,
    quick: argv.includes('--quick'),
    torch: !argv.includes('--no-torch'),
    optLevel,
    spinWait: argv.includes('--spin'),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // --quick: a smoke run on tiny shapes (checks the pipeline, not the speed).
  const configs = args.quick ? QUICK_CONFIGS : CONFIGS;
  const warmup = 2;
  const repeats = args.quick ? 2 : args.repeats;
  const torchProblem = args.torch ? ensureTorch() : 'disabled with --no-torch';

  const results = [];
  let torchFacts: Omit<TorchFacts, 'params'> | undefined;
  for (const c of configs) {
    const ours = await oursTimer(c, { threads: args.threads, graphOptimization: args.optLevel, spinWait: args.spinWait });
    const torch = torchProblem ? undefined : await torchTimer(c, args.threads);
    try {
      const timers: Timer[] = torch ? [ours, torch] : [ours];
      const [oursForward, torchForward] = await interleaved(timers, 'forward', warmup, repeats);
      const [oursTrain, torchTrain] = await interleaved(timers, 'train', warmup, repeats);
      const tokens = c.batch * c.tokens;
      const flops = forwardFlops(c);
      const perf = (forward: Stats, train: Stats) => ({
        forward_ms: forward.median,
        train_step_ms: train.median,
        train_step_ms_best: train.best,
        train_tokens_per_s: round((tokens / train.median) * 1000),
        forward_gflops: round(flops / forward.median / 1e6),
        train_gflops: round((3 * flops) / train.median / 1e6),
        train_gflops_best: round((3 * flops) / train.best / 1e6),
        train_step_ms_all: train.all,
      });
      if (torch) torchFacts = { torch: torch.facts.torch, threads: torch.facts.threads, blas: torch.facts.blas };
      results.push({
        config: c,
        forward_gflop: round(flops / 1e9),
        ours: { ...perf(oursForward!, oursTrain!), params: ours.params, adamw_ms: round(ours.adamwMs()), graph_nodes: ours.graphNodes },
        torch: torch ? { ...perf(torchForward!, torchTrain!), params: torch.facts.params } : null,
        ratio: torch ? round(torchTrain!.median / oursTrain!.median) : null,
        ratio_best: torch ? round(torchTrain!.best / oursTrain!.best) : null,
      });
    } finally {
      await ours.close();
      await torch?.close();
    }
  }
  const report = {
    bench: 'engine',
    date: new Date().toISOString(),
    threads: args.threads,
    graph_optimization: args.optLevel,
    spin_wait: args.spinWait,
    repeats,
    note:
      'ratio = ours train tokens/s ÷ torch train tokens/s on medians (> 1: ours faster); ratio_best on best-of; ' +
      'runs interleaved; GFLOP/s counts matmul FLOPs, train = 3× forward',
    torch: torchFacts ?? { unavailable: torchProblem },
    results,
  };
  const json = JSON.stringify(report, null, 2);
  console.log(json);
  if (args.json) writeFileSync(args.json, json + '\n');
}

await main();
