// The LM expert: a decoder-only transformer (RMSNorm, learned positions, SwiGLU) over the sequence
//   [ image tokens (P) | text tokens (L) | meta-queries (Q, optional) ]
// with an additive attention bias built on the host (causal + padding; see sequence.ts). Position ids are
// an input, so padded rows and the KV-cache step use the same table. Parameters live under `lm/`.
import type { GraphBuilder, Tensor } from '../engine/graph/builder.ts';
import { INIT_STD, linear, rmsNorm, transformerBlock } from './blocks.ts';
import type { LmConfig } from './config.ts';

export interface LmShape {
  config: LmConfig;
  vocabSize: number;
  /** Rows of the learned position table (P + max L + Q). */
  maxPositions: number;
}

/** Keys and values of every layer, each [B, H, S, dh]. */
export type KvCache = { k: Tensor; v: Tensor }[];

export interface LmInputs {
  /** [B, P, D] from the vision encoder. */
  imageTokens: Tensor;
  /** [B, L] int64 token ids (padding is <pad>, masked by `bias`). */
  textIds: Tensor;
  /** [B, Q, D] meta-query embeddings, appended after the text (omit for pure text). */
  queries?: Tensor;
  /** [B, T] int64 position ids, T = P + L (+ Q). */
  positions: Tensor;
  /** [B, 1, T, T] additive attention bias (0 = attend, -1e9 = masked). */
  bias: Tensor;
}

/** Token embedding. [B, L] int64 → [B, L, D] */
export function embedTokens(g: GraphBuilder, shape: LmShape, ids: Tensor): Tensor {
  return g.gather(
    g.scope('lm', () => g.param('embed', [shape.vocabSize, shape.config.width], { kind: 'normal', std: INIT_STD })),
    ids,
  );
}

function positionTable(g: GraphBuilder, shape: LmShape): Tensor {
  return g.scope('lm', () => g.param('positions', [shape.maxPositions, shape.config.width], { kind: 'normal', std: INIT_STD }));
}

/**
 * Full forward pass. Returns the final-normed hidden states [B, T, D] and each layer's keys/values
 * [B, H, T, dh] (the KV cache after a prefill).
 */
export function lmForward(g: GraphBuilder, shape: LmShape, inputs: LmInputs): { hidden: Tensor; cache: KvCache } {
  const parts = [inputs.imageTokens, embedTokens(g, shape, inputs.textIds)];
  if (inputs.queries) parts.push(inputs.queries);
  const x = g.add(g.concat(parts, 1), g.gather(positionTable(g, shape), inputs.positions));
  return runBlocks(g, shape, x, inputs.bias);
}

/**
 * One incremental decoding step: embeds `tokenIds` [B, 1] at `positions` [B, 1], attends to `past`
 * ([B, H, S, dh] per layer) plus itself under `bias` [B, 1, 1, S+1]. Returns logits [B, V] and the
 * updated cache ([B, H, S+1, dh] per layer).
 */
export function lmStep(
  g: GraphBuilder,
  shape: LmShape,
  inputs: { tokenIds: Tensor; positions: Tensor; bias: Tensor; past: KvCache },
): { logits: Tensor; cache: KvCache } {
  const x = g.add(embedTokens(g, shape, inputs.tokenIds), g.gather(positionTable(g, shape), inputs.positions));
  const { hidden, cache } = runBlocks(g, shape, x, inputs.bias, inputs.past);
  return { logits: g.squeeze(lmLogits(g, shape, hidden), [1]), cache };
}

function runBlocks(g: GraphBuilder, shape: LmShape, x: Tensor, bias: Tensor, past?: KvCache): { hidden: Tensor; cache: KvCache } {
  const c = shape.config;
  return g.scope('lm', () => {
    let h = x;
    const cache: KvCache = [];
    for (let i = 0; i < c.layers; i++) {
      const layerPast = past?.[i];
      const block = transformerBlock(g, h, c, `block${i}`, layerPast ? { bias, past: layerPast } : { bias });
      h = block.out;
      cache.push({ k: block.k, v: block.v });
    }
    return { hidden: rmsNorm(g, h, c.width, 'final_norm'), cache };
  });
}

/** Next-token logits from final hidden states. [B, T, D] → [B, T, V] */
export function lmLogits(g: GraphBuilder, shape: LmShape, hidden: Tensor): Tensor {
  return g.scope('lm', () => linear(g, hidden, shape.config.width, shape.vocabSize, 'head'));
}

/**
 * Log-prob of given next tokens: `targets` [B, L, V] is the one-hot of the token that follows each text
 * position (all-zero rows where nothing is scored). `invTemperature` (scalar or [1]) divides the logits
 * first, matching a sampler run at that temperature. [B, L, V] logits of the text positions → [B, L]
 */
export function tokenLogProbs(g: GraphBuilder, logits: Tensor, targets: Tensor, invTemperature?: Tensor): Tensor {
  const logProbs = g.logSoftmax(invTemperature ? g.mul(logits, invTemperature) : logits, -1);
  return g.reduceSum(g.mul(logProbs, targets), [-1], false);
}
