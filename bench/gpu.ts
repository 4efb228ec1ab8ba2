/**
 * Accelerator check: the engine's training step and the unified model's sampling on each execution
 * provider, and whether a non-CPU provider computes the same loss and gradients as the CPU one.
 *
 *   node --import tsx bench/gpu.ts [--providers cpu,webgpu] [--threads N] [--quick] [--warmup 3] [--repeats 10]
 *     [--weights PATH] [--speed-repeats 3] [--no-model] [--resident] [--no-train] [--rl [--scenarios edit,reflect]]
 *     [--width W --batch B] [--json out.json]
 *
 * Training: bench/engine.ts's decoder and DiT (--quick: toy size), one forward+backward ORT run per step
 * (loss + every gradient, no optimizer), median ms after warm-up. Each provider starts from the same
 * parameters and batch, so its loss and gradients are compared with the CPU ones (max |diff|, and that
 * divided by max |cpu gradient| per tensor). A provider that cannot load falls back to CPU: `provider`
 * in the results says what was asked for, what ran, and why.
 * Model: `unirl model speed`'s measurement (measureSpeed) of the shipped base weights on each provider;
 * --resident adds each provider with the device-resident SDE sampler (one graph per step, latents left on
 * the device between steps: RuntimeOptions.residentSampler), reported as `<provider>/resident`.
 * --rl: the GRPO update of every scenario (main/rl/unified.ts's objective graph: the model, the SDE step,
 * the clipped losses and the KL) on the shipped weights: one CPU rollout of 2 prompts x 2 samples, then
 * loss and gradients of the preset's trained parts on each provider, compared with the CPU.
 * --threads sets ORT's intra-op threads on every provider (default: the CPUs this process may run on).
 * With --json the report is rewritten after every stage, so a crash keeps what finished.
 * WebGPU runs on Vulkan: on Linux it needs a Vulkan loader (Debian's libvulkan1) and the NVIDIA driver's
 * ICD, which loads only with the glvnd libraries present (libglvnd0, libgl1, libglx0, libegl1); without
 * them ORT reports "No supported adapters" and the provider falls back to the CPU.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import * as ort from 'onnxruntime-node';
import { parseFlags } from '../main/cli/args.ts';
import { encodeModel } from '../main/engine/onnx/proto.ts';
import { AdamW } from '../main/engine/optim/adamw.ts';
import { diffStats, type DiffStats } from '../main/engine/runtime/arrays.ts';
import { assertProviderName, availableProviders, type ProviderName, type ProviderReport } from '../main/engine/runtime/providers.ts';
import { createSession } from '../main/engine/runtime/session.ts';
import { TrainingSession } from '../main/engine/runtime/training.ts';
import { batchFor, benchGraphs, CONFIGS, QUICK_CONFIGS, type BenchConfig } from '../main/engine/reference-models.ts';
import { DEFAULT_CHECKPOINT } from '../main/models/generator.ts';
import { measureSpeed, type SpeedReport } from '../main/models/info.ts';
import { UnifiedModel } from '../main/models/unified.ts';
import { resolveTrainConfig } from '../main/rl/config.ts';
import type { UpdateSample } from '../main/rl/policy.ts';
import { shapeWorldTasks } from '../main/rl/tasks.ts';
import { objectiveTerms } from '../main/rl/grpo.ts';
import { rolloutOptionsOf } from '../main/rl/scenarios/scenario.ts';
import { UnifiedPolicy } from '../main/rl/unified.ts';
import { SCENARIOS, type Scenario } from '../contract/domain.ts';
import { round, stats, type Stats } from './stats.ts';

interface TrainRun {
  provider: ProviderReport;
  loss: number;
  /** Gradients of the first step, by parameter. */
  grads: Map<string, Float32Array>;
  step_ms: Stats;
}

/** Loss and gradients (no update) of `c` on one provider, timed. */
async function trainRun(c: BenchConfig, provider: ProviderName, threads: number, warmup: number, repeats: number): Promise<TrainRun> {
  const { store, train } = benchGraphs(c);
  const session = await createSession(encodeModel(train), { provider, threads, cache: false });
  try {
    // The optimizer is never stepped: computeGradients leaves the parameters as initialised.
    const trainer = new TrainingSession(session, store, new AdamW(store, { lr: 0 }));
    const batch = batchFor(c).feeds;
    const loss = await trainer.computeGradients(batch);
    const grads = new Map(store.list().map((p) => [p.name, trainer.gradOf(p.name).slice()]));
    for (let i = 0; i < warmup; i++) await trainer.computeGradients(batch);
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const start = performance.now();
      await trainer.computeGradients(batch);
      times.push(performance.now() - start);
    }
    return { provider: session.provider, loss, grads, step_ms: stats(times) };
  } finally {
    await session.release();
  }
}

interface Comparison {
  loss_abs_diff: number;
  /** Worst tensor by relative error. */
  worst: { tensor: string } & DiffStats;
  max_abs: number;
  max_relative: number;
  tensors: Record<string, DiffStats>;
}

/** Loss and gradients of `run` against the CPU reference. */
function compareRuns(run: Pick<TrainRun, 'loss' | 'grads'>, reference: Pick<TrainRun, 'loss' | 'grads'>): Comparison {
  const tensors: Record<string, DiffStats> = {};
  // NaN ranks above everything, so a broken tensor is the one reported (Math.max already propagates it).
  const rank = (d: DiffStats) => (Number.isNaN(d.relative) ? Infinity : d.relative);
  let worst: Comparison['worst'] | undefined;
  let maxAbs = 0;
  let maxRelative = 0;
  for (const [name, expected] of reference.grads) {
    const actual = run.grads.get(name);
    if (!actual) throw new Error(`compareRuns: no gradient for '${name}'`);
    const d = diffStats(actual, expected);
    tensors[name] = d;
    if (!worst || rank(d) > rank(worst)) worst = { tensor: name, ...d };
    maxAbs = Math.max(maxAbs, d.maxAbs);
    maxRelative = Math.max(maxRelative, d.relative);
  }
  if (!worst) throw new Error('compareRuns: the reference has no gradients');
  return { loss_abs_diff: Math.abs(run.loss - reference.loss), worst, max_abs: maxAbs, max_relative: maxRelative, tensors };
}

/** Sampling speed of the unified model on one provider, and where its sessions actually ran. */
async function modelSpeed(
  weights: string,
  provider: ProviderName,
  threads: number,
  repeats: number,
  residentSampler: boolean,
): Promise<SpeedReport & { providers: Record<string, ProviderReport> }> {
  const { model } = UnifiedModel.load(weights, { threads, provider, residentSampler });
  try {
    const speed = await measureSpeed(model, repeats);
    return { ...speed, providers: await model.providers() };
  } finally {
    await model.dispose();
  }
}

/** A policy for `scenario` on `model` with the preset's parts trainable (as the trainer freezes them). */
function presetPolicy(model: UnifiedModel, scenario: Scenario): UnifiedPolicy {
  const policy = new UnifiedPolicy(model, scenario);
  const trained = new Set(resolveTrainConfig(scenario).train.flatMap((part) => policy.paramsOf(part)));
  for (const p of policy.params.list()) p.frozen = !trained.has(p.name);
  return policy;
}

/**
 * The scenario's GRPO loss and gradients on each provider for one batch rolled out on the CPU (advantages
 * +1 and -0.5, so the loss is not 0, the preset's loss terms), each provider's timed over `repeats`, compared with the CPU's.
 */
async function rlObjective(weights: string, scenario: Scenario, providers: readonly ProviderName[], threads: number, repeats: number) {
  const config = resolveTrainConfig(scenario, { rollout: { groupSize: 2 } });
  const items = shapeWorldTasks(scenario).next(2, 0);
  const terms = objectiveTerms(config);
  const cpu = UnifiedModel.load(weights, { threads, provider: 'cpu' }).model;
  let batch: UpdateSample[];
  try {
    const rolled = await presetPolicy(cpu, scenario).rollout(items, rolloutOptionsOf(config, { seed: 1 }));
    const steps = Array.from({ length: config.rollout.sdeSteps - 1 }, (_, k) => k).filter((k) => k % 2 === 0);
    batch = items.flatMap((item, i) =>
      rolled[i]!.map((sample, k) => ({
        item,
        sample,
        advantage: k % 2 === 0 ? 1 : -0.5,
        dmSteps: sample.turns.some((t) => t.kind === 'image') ? steps : [],
      })),
    );
  } finally {
    await cpu.dispose();
  }
  const results: Record<string, unknown> = {};
  let reference: Pick<TrainRun, 'loss' | 'grads'> | undefined;
  for (const provider of ['cpu', ...providers.filter((p) => p !== 'cpu')] as ProviderName[]) {
    const { model } = UnifiedModel.load(weights, { threads, provider });
    try {
      const policy = presetPolicy(model, scenario);
      const first = await policy.objective(batch, terms);
      const times: number[] = [];
      for (let i = 0; i < repeats; i++) {
        const start = performance.now();
        await policy.objective(batch, terms);
        times.push(performance.now() - start);
      }
      const run = { loss: first.loss, grads: new Map(Object.entries(first.grads)) };
      if (provider === 'cpu') reference = run;
      const vs = provider !== 'cpu' && reference ? compareRuns(run, reference) : undefined;
      const sessions = Object.values(await model.providers());
      const used = [...new Set(sessions.map((p) => p.used))];
      const reasons = [...new Set(sessions.flatMap((p) => (p.reason ? [p.reason] : [])))];
      results[provider] = {
        used,
        ...(reasons.length ? { reasons } : {}),
        loss: run.loss,
        update_ms: stats(times),
        ...(vs ? { vs_cpu: { loss_abs_diff: vs.loss_abs_diff, worst: vs.worst, max_relative: vs.max_relative } } : {}),
      };
    } finally {
      await model.dispose();
    }
  }
  return { scenario, samples: batch.length, trained: config.train, results };
}

function parseArgs(argv: string[]) {
  const { flags, positional } = parseFlags(argv, {
    providers: 'string',
    threads: 'string',
    quick: 'boolean',
    warmup: 'string',
    repeats: 'string',
    weights: 'string',
    'speed-repeats': 'string',
    'no-model': 'boolean',
    rl: 'boolean',
    resident: 'boolean',
    'no-train': 'boolean',
    scenarios: 'string',
    json: 'string',
    width: 'string',
    batch: 'string',
  });
  if (positional.length > 0) throw new Error(`unexpected argument '${positional[0]}'`);
  const count = (flag: string, value: string | undefined, fallback: number, min: number): number => {
    const n = value === undefined ? fallback : Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${flag} must be an integer >= ${min}, got '${value}'`);
    return n;
  };
  const providers = (flags.providers ?? 'cpu,webgpu').split(',').map((p) => p.trim());
  for (const p of providers) assertProviderName(p);
  return {
    providers: providers as ProviderName[],
    threads: count('threads', flags.threads, availableParallelism(), 1),
    quick: flags.quick ?? false,
    warmup: count('warmup', flags.warmup, 3, 0),
    repeats: count('repeats', flags.repeats, flags.quick ? 3 : 10, 1),
    weights: flags.weights ?? DEFAULT_CHECKPOINT,
    speedRepeats: count('speed-repeats', flags['speed-repeats'], flags.quick ? 1 : 3, 1),
    model: !flags['no-model'],
    rl: flags.rl ?? false,
    resident: flags.resident ?? false,
    train: !flags['no-train'],
    scenarios: (flags.scenarios?.split(',') ?? [...SCENARIOS]).map((s) => {
      if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`--scenarios: '${s}' is not one of ${SCENARIOS.join(', ')}`);
      return s as Scenario;
    }),
    json: flags.json,
    // Scale the bench models up to find where a GPU provider overtakes the CPU (heads follow the width: 32 per head).
    width: flags.width === undefined ? undefined : count('width', flags.width, 0, 32),
    batch: flags.batch === undefined ? undefined : count('batch', flags.batch, 0, 1),
  };
}

const errorText = (error: unknown) => (error instanceof Error ? (error.stack ?? error.message) : String(error));

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const configs = (args.quick ? QUICK_CONFIGS : CONFIGS).map((c) => {
    const width = args.width ?? c.width;
    const batch = args.batch ?? c.batch;
    const heads = args.width === undefined ? c.heads : width / 32;
    return width === c.width && batch === c.batch
      ? c
      : { ...c, width, batch, heads, name: `${c.kind}-w${width}-l${c.layers}-t${c.tokens}-b${batch}` };
  });
  const report = {
    bench: 'gpu',
    date: new Date().toISOString(),
    node: process.version,
    onnxruntime: ort.env.versions,
    backends: availableProviders(),
    cpus: cpus().length,
    available_parallelism: availableParallelism(),
    cpu_model: cpus()[0]?.model ?? 'unknown',
    threads: args.threads,
    quick: args.quick,
    warmup: args.warmup,
    repeats: args.repeats,
    providers: args.providers,
    note:
      'train.step_ms: one ORT run of loss + all gradients (no optimizer), median/best of `repeats` after `warmup`; ' +
      'vs_cpu: loss and gradients against the cpu provider on the same parameters and batch, ' +
      'relative = max|diff| / max|cpu grad| per tensor; ' +
      'model: measureSpeed (unirl model speed) on the shipped weights; provider.used says where a session really ran',
    train: [] as unknown[],
    model: { weights: args.weights, repeats: args.speedRepeats, results: {} as Record<string, unknown> },
    rl: [] as unknown[],
    errors: [] as { stage: string; error: string }[],
  };
  const save = () => {
    if (args.json) writeFileSync(args.json, JSON.stringify(report, null, 2) + '\n');
  };
  const log = (line: string) => console.error(`[gpu] ${line}`);
  log(
    `onnxruntime-node ${ort.env.versions.node}, backends ${JSON.stringify(report.backends)}, ` +
      `${report.cpus} CPUs (${report.available_parallelism} available), threads ${args.threads}`,
  );
  save();

  for (const c of args.train ? configs : []) {
    const results: Record<string, unknown> = {};
    report.train.push({ config: c, results });
    let reference: TrainRun | undefined;
    // The CPU reference runs first whether or not it was asked for (other providers are compared with it).
    const order: ProviderName[] = ['cpu', ...args.providers.filter((p) => p !== 'cpu')];
    for (const provider of order) {
      try {
        const run = await trainRun(c, provider, args.threads, args.warmup, args.repeats);
        if (provider === 'cpu') reference = run;
        const vs = provider !== 'cpu' && reference ? compareRuns(run, reference) : undefined;
        if (provider !== 'cpu' || args.providers.includes('cpu')) {
          const params = [...run.grads.values()].reduce((n, g) => n + g.length, 0);
          results[provider] = { provider: run.provider, params, loss: run.loss, step_ms: run.step_ms, ...(vs ? { vs_cpu: vs } : {}) };
        }
        log(
          `train ${c.name} ${provider} (used ${run.provider.used}${run.provider.reason ? `: ${run.provider.reason}` : ''}): ` +
            `${run.step_ms.median} ms median, loss ${run.loss}` +
            (vs
              ? `, vs cpu: loss diff ${vs.loss_abs_diff}, worst grad ${vs.worst.tensor} rel ${vs.worst.relative} abs ${vs.worst.maxAbs}`
              : ''),
        );
      } catch (error) {
        report.errors.push({ stage: `train ${c.name} ${provider}`, error: errorText(error) });
        log(`train ${c.name} ${provider} failed: ${errorText(error)}`);
      }
      save();
    }
  }

  if (args.model) {
    // --resident adds each provider with the device-resident SDE sampler (RuntimeOptions.residentSampler) as `<provider>/resident`.
    const variants = args.providers.flatMap((provider) => [
      { provider, resident: false },
      ...(args.resident ? [{ provider, resident: true }] : []),
    ]);
    for (const { provider, resident } of variants) {
      const name = resident ? `${provider}/resident` : provider;
      try {
        const start = performance.now();
        const speed = await modelSpeed(args.weights, provider, args.threads, args.speedRepeats, resident);
        const used = [...new Set(Object.values(speed.providers).map((p) => p.used))];
        report.model.results[name] = { used, ...speed, seconds: round((performance.now() - start) / 1000) };
        log(
          `model ${name} (used ${used.join(',')}): SDE-10 group of 8 ${speed.sdeImagesPerSecond.toFixed(1)} images/s, ` +
            `ODE-40 ${speed.odeImagesPerSecond.toFixed(1)} images/s, LM ${speed.lmTokensPerSecond.toFixed(0)} tokens/s`,
        );
      } catch (error) {
        report.errors.push({ stage: `model ${name}`, error: errorText(error) });
        log(`model ${name} failed: ${errorText(error)}`);
      }
      save();
    }
  }

  if (args.rl) {
    for (const scenario of args.scenarios) {
      try {
        const result = await rlObjective(args.weights, scenario, args.providers, args.threads, args.repeats);
        report.rl.push(result);
        for (const [provider, r] of Object.entries(result.results) as [
          string,
          {
            used: string[];
            reasons?: string[];
            loss: number;
            update_ms: Stats;
            vs_cpu?: { loss_abs_diff: number; worst: { tensor: string; relative: number } };
          },
        ][]) {
          log(
            `rl ${scenario} ${provider} (used ${r.used.join(',')}${r.reasons ? `: ${r.reasons.join(' | ').slice(0, 400)}` : ''}): ` +
              `${r.update_ms.median} ms median update, loss ${r.loss}` +
              (r.vs_cpu
                ? `, vs cpu: loss diff ${r.vs_cpu.loss_abs_diff}, worst grad ${r.vs_cpu.worst.tensor} rel ${r.vs_cpu.worst.relative}`
                : ''),
          );
        }
      } catch (error) {
        report.errors.push({ stage: `rl ${scenario}`, error: errorText(error) });
        log(`rl ${scenario} failed: ${errorText(error)}`);
      }
      save();
    }
  }

  if (args.json) save();
  else console.log(JSON.stringify(report, null, 2));
  if (report.errors.length > 0) process.exitCode = 1;
}

await main();
