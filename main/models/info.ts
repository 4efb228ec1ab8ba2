// `unirl model info`: parameter counts per part and FLOPs per sample, counted from the model's own ONNX
// graphs built with static shapes (2·M·K·N per MatMul/Gemm; elementwise ops are left out: they are a few
// percent at these sizes).
import type { ModelProto } from '../engine/onnx/proto.ts';
import { layoutOf } from './config.ts';
import { formats } from './formats.ts';
import { sampleImages, sampleText } from './sample.ts';
import { PARTS, type GraphKind, type Part, type UnifiedModel } from './unified.ts';

/** Multiply-add FLOPs of every MatMul and Gemm in a graph whose shapes are all static. */
export function matmulFlops(model: ModelProto): number {
  const dims = new Map<string, number[]>();
  for (const v of [...model.graph.input, ...model.graph.valueInfo, ...model.graph.output]) {
    const shape = v.type?.tensorType?.shape;
    if (shape)
      dims.set(
        v.name,
        shape.map((d) => d.dimValue ?? NaN),
      );
  }
  for (const init of model.graph.initializer) dims.set(init.name, [...init.dims]);
  let flops = 0;
  for (const node of model.graph.node) {
    if (node.opType !== 'MatMul' && node.opType !== 'Gemm') continue;
    const a = dims.get(node.input[0]!);
    const y = dims.get(node.output[0]!);
    if (!a || !y || [...a, ...y].some((d) => !Number.isFinite(d))) throw new Error(`matmulFlops: node '${node.name}' has no static shape`);
    const transA = node.attribute.find((at) => at.name === 'transA')?.i === 1;
    const k = transA ? a[a.length - 2]! : a[a.length - 1]!;
    flops += 2 * k * y.reduce((p, d) => p * d, 1);
  }
  return flops;
}

export interface ModelInfo {
  preset: string;
  parameters: Record<Part, number> & { total: number };
  /** Bytes of the float32 weights. */
  bytes: number;
  vocabSize: number;
  layout: ReturnType<typeof layoutOf>;
  /** FLOPs per sample (one image, one token, one training example). */
  flops: {
    /** Prompt of `promptTokens` tokens → condition. */
    condition: number;
    /** One DiT velocity evaluation. */
    ditStep: number;
    /** Condition + 10 SDE steps (an RL rollout image). */
    image10Steps: number;
    /** Condition + 40 ODE steps (evaluation). */
    image40Steps: number;
    /** One KV-cached LM token after `promptTokens` tokens. */
    lmToken: number;
    /** Forward + backward of the flow loss (DM, connector, queries, LM, vision). */
    trainDm: number;
    /** Forward + backward of the LM next-token loss. */
    trainLm: number;
  };
  promptTokens: number;
}

export function modelInfo(model: UnifiedModel, promptTokens = 16): ModelInfo {
  const counts = model.parameterCounts();
  const one = (kind: GraphKind) => matmulFlops(model.graph(kind, { batch: 1, text: promptTokens }));
  const condition = one('condition');
  const ditStep = one('velocity');
  return {
    preset: model.config.name,
    parameters: { ...counts, total: PARTS.reduce((s, p) => s + counts[p], 0) },
    bytes: model.store.size * 4,
    vocabSize: model.tokenizer.vocabSize,
    layout: layoutOf(model.config),
    flops: {
      condition,
      ditStep,
      image10Steps: condition + 10 * ditStep,
      image40Steps: condition + 40 * ditStep,
      lmToken: one('step'),
      trainDm: one('dmLoss'),
      trainLm: one('lmLoss'),
    },
    promptTokens,
  };
}

export interface SpeedReport {
  sdeGroupSeconds: number;
  sdeImagesPerSecond: number;
  odeGroupSeconds: number;
  odeImagesPerSecond: number;
  lmTokensPerRow: number;
  lmTokensPerSecond: number;
}

/**
 * Wall-clock sampling speed (median of `repeats`, after one warm-up run that builds the sessions):
 * a GRPO group (8 images, 10 SDE steps, condition included), 8 evaluation images (40 ODE steps), and
 * KV-cached decoding of 8 reasoning rows at temperature 1 (up to 32 tokens; tokens/s counts the tokens written).
 */
export async function measureSpeed(model: UnifiedModel, repeats = 5): Promise<SpeedReport> {
  const group = Array.from({ length: 8 }, () => ({
    text: formats.generate('a red circle left of a blue square'),
    querySet: 'generate' as const,
  }));
  const median = async (run: (i: number) => Promise<unknown>): Promise<number> => {
    await run(-1);
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const start = performance.now();
      await run(i);
      times.push((performance.now() - start) / 1000);
    }
    return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  };
  const sde = await median((i) => sampleImages(model, group, { sampler: 'sde', steps: 10, seed: i }));
  const ode = await median((i) => sampleImages(model, group, { sampler: 'ode', steps: 40, seed: i }));
  const rows = Array.from({ length: 8 }, () => ({ text: formats.think('a shape with three corners the colour of grass') }));
  let tokens = 0;
  const lm = await median(async (i) => {
    const out = await sampleText(model, rows, { maxTokens: 32, temperature: 1, seed: i });
    tokens = out.tokens.reduce((s, t) => s + t.length, 0);
  });
  return {
    sdeGroupSeconds: sde,
    sdeImagesPerSecond: 8 / sde,
    odeGroupSeconds: ode,
    odeImagesPerSecond: 8 / ode,
    lmTokensPerRow: tokens / 8,
    lmTokensPerSecond: tokens / lm,
  };
}
