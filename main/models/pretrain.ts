// Supervised pretraining of the unified model on ShapeWorld (the base model RL starts from). Each step
// sums the gradients of one DM batch (flow loss through DiT, connector, queries, LM and vision) and one
// LM batch (next-token loss on completions), clips them, and takes one AdamW step with the learning rate
// on warmup + cosine over the planned run (steps or minutes). Checkpoints (with optimizer state) and a
// loss curve (JSONL) are written beside each other; a run resumes from its checkpoint.
// Runs as a compute-worker job (`pretrain(options, ctx)`) and from `unirl pretrain` (same function).
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { concatFloat32 } from '../engine/runtime/arrays.ts';
import { dirname, join } from 'node:path';
import { AdamW } from '../engine/optim/adamw.ts';
import type { JobContext } from '../compute/job-context.ts';
import { clipGradNorm } from '../engine/optim/clip.ts';
import { Rng as EngineRng } from '../engine/runtime/rng.ts';
import { Rng, mixSeeds } from '../world/rng.ts';
import { getPreset, layoutOf, type ModelConfig } from './config.ts';
import {
  DATA_MIX_NAMES,
  DATA_MIXES,
  LM_KINDS,
  dmExample,
  lmExample,
  shapeWorldTokenizer,
  type DataMix,
  type DataMixName,
  type DmKind,
  type LmKind,
} from './data.ts';
import { flowPair } from './flow.ts';
import { imagesToPatches } from './patches.ts';
import { nextTokenTargets, packSequences } from './sequence.ts';
import { gradName } from '../engine/autodiff/grad.ts';
import { UnifiedModel, sequenceFeeds } from './unified.ts';

export interface PretrainOptions {
  /** Model preset ('nano' | 'base'). */
  preset: string;
  /** Where checkpoints go when `out` is not given: `<dataDir>/models/<preset>/pretrain.safetensors`. */
  dataDir: string;
  /** Checkpoint path (the loss curve is written beside it as `.losses.jsonl`). */
  out?: string;
  /** Stop after this many optimizer steps in total (counting resumed ones). */
  steps?: number;
  /** Stop after this many minutes of training in total (counting resumed time). */
  minutes?: number;
  /** Continue from the checkpoint at the output path (weights, optimizer state, step, minutes, data mix). */
  resume?: boolean;
  /**
   * Start a new stage from these weights (a checkpoint of the same preset, optimizer state not needed) with a
   * fresh optimizer, warmup and schedule: e.g. the shipped base, continued on another data mix.
   */
  from?: string;
  /** What the examples emphasise (data.ts DATA_MIXES; default balanced, or the resumed run's). */
  mix?: DataMixName;
  seed?: number;
  /** ORT threads (default 2). */
  threads?: number;
  /** Examples per DM batch (default: preset dependent). */
  dmBatch?: number;
  /** Examples per LM batch. */
  lmBatch?: number;
  /** Peak learning rate (default 6e-4). */
  lr?: number;
  /** Seconds between checkpoints (default 120). */
  checkpointSeconds?: number;
}

export interface PretrainResult {
  checkpoint: string;
  lossCurve: string;
  steps: number;
  seconds: number;
  /** Mean losses over the last 50 steps. */
  dmLoss: number;
  lmLoss: number;
  parameters: number;
}

/** One line of the loss curve. */
export interface LossRecord {
  step: number;
  seconds: number;
  dmKind: DmKind;
  dmLoss: number;
  lmKind: LmKind;
  lmLoss: number;
  gradNorm: number;
  lr: number;
}

const DM_SCHEDULE: readonly DmKind[] = ['generate', 'generate', 'edit', 'generate', 'generate', 'reason_generate', 'generate', 'edit'];
const DEFAULT_BATCH: Record<string, { dm: number; lm: number }> = { nano: { dm: 8, lm: 8 }, base: { dm: 24, lm: 16 } };
const WARMUP_STEPS = 100;
const MIN_LR_FACTOR = 0.05;

export function defaultCheckpointPath(dataDir: string, preset: string): string {
  return join(dataDir, 'models', preset, 'pretrain.safetensors');
}

export function lossCurvePath(checkpoint: string): string {
  return checkpoint.replace(/\.safetensors$/, '') + '.losses.jsonl';
}

export async function pretrain(options: PretrainOptions, ctx: JobContext): Promise<PretrainResult> {
  if (options.steps === undefined && options.minutes === undefined) throw new Error('pretrain: give steps or minutes (or both)');
  if (options.steps !== undefined && (!Number.isInteger(options.steps) || options.steps < 1))
    throw new Error(`pretrain: steps must be a positive integer, got ${options.steps}`);
  if (options.minutes !== undefined && !(options.minutes > 0)) throw new Error(`pretrain: minutes must be > 0, got ${options.minutes}`);
  const checkpoint = options.out ?? defaultCheckpointPath(options.dataDir, options.preset);
  const curve = lossCurvePath(checkpoint);
  const seed = options.seed ?? 1;
  const runtime = { threads: options.threads ?? 2 };
  const lr = options.lr ?? 6e-4;
  const plannedSteps = options.steps;
  const plannedSeconds = options.minutes !== undefined ? options.minutes * 60 : undefined;
  let progressFraction = 0; // of the planned run, drives the schedule
  const schedule = (step: number): number => {
    if (step <= WARMUP_STEPS) return step / WARMUP_STEPS;
    return MIN_LR_FACTOR + (1 - MIN_LR_FACTOR) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progressFraction)));
  };
  const makeOptimizer = (m: UnifiedModel) => new AdamW(m.store, { lr, weightDecay: 0.01, betas: [0.9, 0.99], schedule });

  if (options.resume && options.from)
    throw new Error('pretrain: --resume continues the output checkpoint; --from starts a new stage (give one)');
  if (options.mix !== undefined && !DATA_MIX_NAMES.includes(options.mix))
    throw new Error(`pretrain: unknown data mix '${options.mix}' (one of ${DATA_MIX_NAMES.join(', ')})`);
  let model: UnifiedModel;
  let optimizer: AdamW;
  let priorSeconds = 0;
  let mixName: DataMixName = options.mix ?? 'balanced';
  let from = options.from;
  if (options.resume) {
    if (!existsSync(checkpoint)) throw new Error(`pretrain --resume: no checkpoint at ${checkpoint}`);
    const loaded = UnifiedModel.load(checkpoint, { ...runtime, optimizer: makeOptimizer });
    model = loaded.model;
    optimizer = loaded.optimizer!;
    if (model.config.name !== options.preset)
      throw new Error(`pretrain --resume: ${checkpoint} holds preset '${model.config.name}', not '${options.preset}'`);
    priorSeconds = Number(loaded.metadata.trained_seconds ?? 0);
    mixName = options.mix ?? (loaded.metadata.data_mix as DataMixName | undefined) ?? 'balanced';
    from = loaded.metadata.from;
  } else if (options.from) {
    if (!existsSync(options.from)) throw new Error(`pretrain --from: no checkpoint at ${options.from}`);
    model = UnifiedModel.load(options.from, runtime).model;
    if (model.config.name !== options.preset)
      throw new Error(`pretrain --from: ${options.from} holds preset '${model.config.name}', not '${options.preset}'`);
    optimizer = makeOptimizer(model);
  } else {
    model = UnifiedModel.create(getPreset(options.preset), shapeWorldTokenizer(), { ...runtime, seed });
    optimizer = makeOptimizer(model);
  }
  mkdirSync(dirname(checkpoint), { recursive: true });
  const config = model.config;
  const mix = DATA_MIXES[mixName];
  const batch = { ...(DEFAULT_BATCH[config.name] ?? DEFAULT_BATCH.base!) };
  if (options.dmBatch !== undefined) batch.dm = options.dmBatch;
  if (options.lmBatch !== undefined) batch.lm = options.lmBatch;

  const started = performance.now();
  const elapsed = () => priorSeconds + (performance.now() - started) / 1000;
  const fractionDone = (step: number) => Math.max(plannedSteps ? step / plannedSteps : 0, plannedSeconds ? elapsed() / plannedSeconds : 0);
  const save = (step: number) =>
    model.save(checkpoint, {
      optimizer,
      metadata: {
        step: String(step),
        trained_seconds: elapsed().toFixed(1),
        seed: String(seed),
        data: 'ShapeWorld (generated on the fly)',
        data_mix: mixName,
        ...(from ? { from } : {}),
      },
    });

  const recent: LossRecord[] = [];
  let step = optimizer.steps;
  let lastSave = performance.now();
  const startStep = step;
  const trainStep = async (stepBefore: number): Promise<number> => {
    const dataRng = new Rng(mixSeeds(seed, stepBefore));
    const noiseRng = new EngineRng(mixSeeds(seed, stepBefore, 1));
    const dmKind = DM_SCHEDULE[stepBefore % DM_SCHEDULE.length]!;
    const lmKind = LM_KINDS[stepBefore % LM_KINDS.length]!;
    const dm = await dmGradients(model, dmKind, batch.dm, dataRng, noiseRng, mix);
    const lm = await lmGradients(model, lmKind, batch.lm, dataRng, mix);
    const grads: Record<string, Float32Array> = {};
    for (const p of model.store.list()) {
      const sum = new Float32Array(p.size);
      for (const source of [dm.grads, lm.grads]) {
        const g = source[p.name];
        if (g) for (let i = 0; i < sum.length; i++) sum[i]! += g[i]!;
      }
      grads[p.name] = sum;
    }
    const gradNorm = clipGradNorm(grads, 1);
    progressFraction = fractionDone(stepBefore);
    if (!Number.isFinite(gradNorm))
      throw new Error(`pretrain: non-finite gradient norm at step ${stepBefore + 1} (dm loss ${dm.loss}, lm loss ${lm.loss})`);
    const report = optimizer.step(grads);
    const step = report.step;
    const record: LossRecord = {
      step,
      seconds: Number(elapsed().toFixed(2)),
      dmKind,
      dmLoss: dm.loss,
      lmKind,
      lmLoss: lm.loss,
      gradNorm,
      lr: report.lr.lm ?? lr,
    };
    appendFileSync(curve, JSON.stringify(record) + '\n');
    recent.push(record);
    if (recent.length > 50) recent.shift();
    const rate = (step - startStep) / ((performance.now() - started) / 1000);
    const remaining =
      plannedSteps && (!plannedSeconds || (plannedSteps - step) / rate < plannedSeconds - elapsed())
        ? (plannedSteps - step) / rate
        : plannedSeconds! - elapsed();
    ctx.progress({
      done: Math.round(fractionDone(step) * 1000),
      total: 1000,
      message:
        `step ${step} | dm ${mean(recent, 'dmLoss').toFixed(4)} lm ${mean(recent, 'lmLoss').toFixed(3)} | ` +
        `${(rate * batch.dm).toFixed(1)} img/s ${rate.toFixed(2)} step/s | ETA ${formatSeconds(remaining)}`,
    });
    if ((performance.now() - lastSave) / 1000 >= (options.checkpointSeconds ?? 120)) {
      save(step);
      lastSave = performance.now();
    }
    return step;
  };
  try {
    while (fractionDone(step) < 1) {
      ctx.checkCancelled();
      step = await trainStep(step);
    }
  } catch (error) {
    // Cancelled (or failed): keep what the steps taken so far learnt; --resume continues from it.
    if (step > startStep) save(step);
    throw error;
  }
  save(step);
  const result: PretrainResult = {
    checkpoint,
    lossCurve: curve,
    steps: step,
    seconds: elapsed(),
    dmLoss: mean(recent, 'dmLoss'),
    lmLoss: mean(recent, 'lmLoss'),
    parameters: model.store.size,
  };
  await model.dispose();
  return result;
}

/** Flow-loss gradients of a batch of `kind`. */
export async function dmGradients(
  model: UnifiedModel,
  kind: DmKind,
  batch: number,
  rng: Rng,
  noise: EngineRng,
  mix: DataMix = DATA_MIXES.balanced,
): Promise<{ loss: number; grads: Record<string, Float32Array> }> {
  const config = model.config;
  const examples = Array.from({ length: batch }, () => dmExample(kind, rng, config.imageSize, mix));
  const packed = packSequences(
    config,
    model.tokenizer,
    examples.map((e) => ({ text: model.tokenizer.encode(e.text), querySet: e.querySet, ...(e.image ? { image: e.image } : {}) })),
    { withQueries: true },
  );
  const targets = concatFloat32(examples.map((e) => e.target));
  const refs = concatFloat32(examples.map((e) => e.ref ?? new Float32Array(e.target.length).fill(0.5)));
  const { ditTokens, ditPatchDim } = layoutOf(config);
  const x0 = imagesToPatches(targets, batch, config.imageSize, config.dit.patch);
  const ref = imagesToPatches(refs, batch, config.imageSize, config.dit.patch); // no reference → 0.5 grey → patch value 0
  const pair = flowPair(x0, batch, noise);
  const shape = [batch, ditTokens, ditPatchDim];
  const out = await model.run('dmLoss', {
    ...sequenceFeeds(config, packed),
    x: { data: pair.xt, shape },
    t: { data: pair.t, shape: [batch] },
    ref: { data: ref, shape },
    target: { data: pair.target, shape },
  });
  return { loss: (out.loss!.data as Float32Array)[0]!, grads: gradientsOf(model, out) };
}

/** Next-token-loss gradients of a batch of `kind` (loss on the completions). */
export async function lmGradients(
  model: UnifiedModel,
  kind: LmKind,
  batch: number,
  rng: Rng,
  mix: DataMix = DATA_MIXES.balanced,
): Promise<{ loss: number; grads: Record<string, Float32Array> }> {
  const config: ModelConfig = model.config;
  const tok = model.tokenizer;
  const examples = Array.from({ length: batch }, () => lmExample(kind, rng, config.imageSize, mix));
  const texts = examples.map((e) => tok.encode(`${e.prompt} ${e.completion}`));
  const lossFrom = examples.map((e) => tok.encode(e.prompt).length);
  const packed = packSequences(
    config,
    tok,
    examples.map((e, i) => ({ text: texts[i]!, ...(e.image ? { image: e.image } : {}) })),
    { withQueries: false },
  );
  const { targets } = nextTokenTargets(packed, texts, lossFrom, tok.vocabSize);
  const out = await model.run('lmLoss', {
    ...sequenceFeeds(config, packed),
    targets: { data: targets, shape: [batch, packed.textLength, tok.vocabSize] },
  });
  return { loss: (out.loss!.data as Float32Array)[0]!, grads: gradientsOf(model, out) };
}

function gradientsOf(model: UnifiedModel, outputs: Record<string, { data: unknown }>): Record<string, Float32Array> {
  const grads: Record<string, Float32Array> = {};
  for (const p of model.store.list()) {
    const t = outputs[gradName(p.name)];
    if (t) grads[p.name] = t.data as Float32Array;
  }
  return grads;
}

function mean(records: readonly LossRecord[], key: 'dmLoss' | 'lmLoss'): number {
  return records.length ? records.reduce((s, r) => s + r[key], 0) / records.length : NaN;
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}m${String(s).padStart(2, '0')}s`;
}
