// `unirl model info`: what a model preset (or checkpoint) is made of and what it costs per sample.
import { getPreset } from '../models/config.ts';
import { shapeWorldTokenizer } from '../models/data.ts';
import { DEFAULT_CHECKPOINT } from '../models/generator.ts';
import { measureSpeed, modelInfo } from '../models/info.ts';
import { PARTS, UnifiedModel } from '../models/unified.ts';
import { MODEL_INFO, MODEL_SPEED, MODEL_WEIGHTS, parseOptions, UsageError } from './args.ts';

const giga = (flops: number) => `${(flops / 1e9).toFixed(3)} GFLOP`;

export async function modelInfoCommand(args: string[]): Promise<number> {
  const flags = parseOptions(MODEL_INFO, args);
  const model = flags.checkpoint
    ? UnifiedModel.load(flags.checkpoint).model
    : UnifiedModel.create(getPreset(flags.preset ?? 'base'), shapeWorldTokenizer());
  const info = modelInfo(model);
  if (flags.json) {
    console.log(JSON.stringify(info, null, 2));
    return 0;
  }
  console.log(
    `preset ${info.preset}: ${(info.parameters.total / 1e6).toFixed(2)} M parameters, ` +
      `${(info.bytes / 2 ** 20).toFixed(1)} MiB float32, vocabulary ${info.vocabSize}`,
  );
  console.log(
    `layout: ${info.layout.imageTokens} image tokens + up to ${model.config.textLength} text + ${model.config.queries} queries; ` +
      `DiT ${info.layout.ditTokens} patch tokens of ${info.layout.ditPatchDim} values`,
  );
  console.log('\nparameters per part');
  for (const part of PARTS)
    console.log(
      `  ${part.padEnd(10)} ${String(info.parameters[part]).padStart(10)}  ` +
        `${((100 * info.parameters[part]) / info.parameters.total).toFixed(1)}%`,
    );
  console.log(`\nFLOPs per sample (prompt of ${info.promptTokens} tokens)`);
  const f = info.flops;
  const rows: [string, number][] = [
    ['condition (vision + LM + connector)', f.condition],
    ['DiT velocity, one step', f.ditStep],
    ['image, 10 SDE steps (RL rollout)', f.image10Steps],
    ['image, 40 ODE steps (evaluation)', f.image40Steps],
    ['LM token (KV cache)', f.lmToken],
    ['train step, DM example (fwd+bwd)', f.trainDm],
    ['train step, LM example (fwd+bwd)', f.trainLm],
  ];
  for (const [name, value] of rows) console.log(`  ${name.padEnd(38)} ${giga(value)}`);
  return 0;
}

export async function modelSpeedCommand(args: string[]): Promise<number> {
  const flags = parseOptions(MODEL_SPEED, args);
  const threads = flags.threads === undefined ? 2 : Number(flags.threads);
  const repeats = flags.repeats === undefined ? 5 : Number(flags.repeats);
  if (!Number.isInteger(threads) || threads < 0) throw new UsageError(`--threads must be an integer >= 0, got "${flags.threads}"`);
  if (!Number.isInteger(repeats) || repeats < 1) throw new UsageError(`--repeats must be a positive integer, got "${flags.repeats}"`);
  const { model } = UnifiedModel.load(flags.checkpoint ?? DEFAULT_CHECKPOINT, { threads });
  try {
    const result = await measureSpeed(model, repeats);
    if (flags.json) console.log(JSON.stringify({ threads, repeats, ...result }, null, 2));
    else {
      console.log(`threads ${threads}, median of ${repeats} runs`);
      console.log(
        `  group of 8 images, 10 SDE steps:  ${result.sdeGroupSeconds.toFixed(3)} s  = ${result.sdeImagesPerSecond.toFixed(1)} images/s`,
      );
      console.log(
        `  group of 8 images, 40 ODE steps:  ${result.odeGroupSeconds.toFixed(3)} s  = ${result.odeImagesPerSecond.toFixed(1)} images/s`,
      );
      console.log(`  LM, 8 rows x ${result.lmTokensPerRow} tokens (KV cache): ${result.lmTokensPerSecond.toFixed(0)} tokens/s`);
    }
  } finally {
    await model.dispose();
  }
  return 0;
}

/** `model weights` flags that record how the model generator should sample the file, and their metadata keys. */
const RECOMMENDATION_FLAGS = [
  ['cfg-scale', 'cfg_scale'],
  ['time-shift', 'time_shift'],
] as const;

export async function modelWeightsCommand(args: string[]): Promise<number> {
  const flags = parseOptions(MODEL_WEIGHTS, args);
  if (!flags.checkpoint || !flags.out) throw new UsageError('--checkpoint and --out are required');
  const recommended: Record<string, string> = {};
  for (const [flag, key] of RECOMMENDATION_FLAGS) {
    const value = flags[flag];
    if (value === undefined) continue;
    if (!(Number(value) > 0)) throw new UsageError(`--${flag} must be a number > 0, got "${value}"`);
    recommended[key] = value;
  }
  const { model, metadata } = UnifiedModel.load(flags.checkpoint);
  const { optimizer_step: _dropped, ...kept } = metadata;
  model.save(flags.out, { metadata: { ...kept, ...recommended } });
  const notes = Object.entries(recommended)
    .map(([k, v]) => `, ${k} ${v}`)
    .join('');
  console.log(`wrote ${flags.out} (${model.store.size} parameters${notes})`);
  return 0;
}
