// Transformer pieces shared by the LM, the vision encoder, the connector and the DiT, written against the
// engine's graph builder. Parameters are named by the caller's scope (e.g. `lm/block0/attn/qkv`).
// Weights are laid out [in, out] (y = x @ W). Shapes: B batch, T tokens, D width, H heads, dh = D / H.
import type { GraphBuilder, Tensor } from '../engine/graph/builder.ts';

/** Std of embedding tables at init (the LM's tokens, positions and meta-queries: RMSNorm rescales them). */
export const INIT_STD = 0.02;
/** Std of learned positions added to fan-in-scaled activations (order 1): strong enough to be seen from the start. */
export const POSITION_STD = 0.5;

/**
 * Default std of a weight matrix: 1/sqrt(fan_in), so activations keep their scale through each layer.
 * (GPT-2's fixed 0.02 is that rule at width ~2500; at width 128 it shrinks every product of layers, and
 * the chain LM → connector → cross-attention then learns from a plateau.)
 */
export function fanInStd(inFeatures: number): number {
  return 1 / Math.sqrt(inFeatures);
}

export interface LinearOptions {
  bias?: boolean;
  /** Init std of the weight (default fanInStd); 0 gives a zero-initialised layer. */
  std?: number;
}

/** x [..., in] → [..., out]. */
export function linear(g: GraphBuilder, x: Tensor, inFeatures: number, outFeatures: number, name: string, o: LinearOptions = {}): Tensor {
  return g.scope(name, () => {
    const std = o.std ?? fanInStd(inFeatures);
    const w = g.param('weight', [inFeatures, outFeatures], std === 0 ? { kind: 'zeros' } : { kind: 'normal', std });
    const y = g.matmul(x, w);
    return o.bias ? g.add(y, g.param('bias', [outFeatures], { kind: 'zeros' })) : y;
  });
}

/** RMSNorm over the last axis with a learned gain: x / sqrt(mean(x²) + eps) · w. [..., D] → [..., D] */
export function rmsNorm(g: GraphBuilder, x: Tensor, width: number, name: string, eps = 1e-6): Tensor {
  return g.scope(name, () => {
    const meanSquare = g.reduceMean(g.mul(x, x), [-1], true);
    const normed = g.div(x, g.sqrt(g.add(meanSquare, eps)));
    return g.mul(normed, g.param('weight', [width], { kind: 'ones' }));
  });
}

/** LayerNorm without learned affine (DiT modulates it with adaLN instead). [..., D] → [..., D] */
export function plainLayerNorm(g: GraphBuilder, x: Tensor, width: number): Tensor {
  return g.layerNorm(x, g.full([width], 1), g.full([width], 0), { epsilon: 1e-6 });
}

/** SwiGLU MLP: (silu(x·W1) ⊙ x·W3)·W2; `outScale` multiplies the output projection's init std. [..., D] → [..., D] */
export function swiglu(g: GraphBuilder, x: Tensor, width: number, hidden: number, name: string, outScale = 1): Tensor {
  return g.scope(name, () => {
    const gateUp = linear(g, x, width, 2 * hidden, 'gate_up');
    const [gate, up] = g.split(gateUp, [hidden, hidden], -1);
    return linear(g, g.mul(g.silu(gate!), up!), hidden, width, 'down', { std: outScale * fanInStd(hidden) });
  });
}

/** [B, T, D] → [B, H, T, dh]. */
export function splitHeads(g: GraphBuilder, x: Tensor, heads: number, headDim: number): Tensor {
  return g.transpose(g.reshape(x, [0, 0, heads, headDim]), [0, 2, 1, 3]);
}

/** [B, H, T, dh] → [B, T, D]. */
export function mergeHeads(g: GraphBuilder, x: Tensor, width: number): Tensor {
  return g.reshape(g.transpose(x, [0, 2, 1, 3]), [0, 0, width]);
}

/**
 * Scaled dot-product attention on split heads: softmax(q·kᵀ/√dh + bias)·v.
 * q [B, H, Tq, dh], k and v [B, H, Tk, dh], bias broadcastable to [B, H, Tq, Tk] (0 or -1e9) or undefined.
 * Returns [B, H, Tq, dh].
 */
export function attend(g: GraphBuilder, q: Tensor, k: Tensor, v: Tensor, headDim: number, bias?: Tensor): Tensor {
  let scores = g.matmul(g.mul(q, 1 / Math.sqrt(headDim)), g.transpose(k, [0, 1, 3, 2]));
  if (bias) scores = g.add(scores, bias);
  return g.matmul(g.softmax(scores, -1), v);
}

export interface SelfAttentionResult {
  /** [B, T, D] after the output projection. */
  out: Tensor;
  /** [B, H, T, dh]: this call's keys and values (after any past ones were concatenated), for a KV cache. */
  k: Tensor;
  v: Tensor;
}

/**
 * Multi-head self-attention with a fused QKV projection. `past` keys/values [B, H, S, dh] are prepended
 * (incremental decoding); `bias` [B, 1, Tq, S+T] masks keys (causal and padding, built on the host).
 */
export function selfAttention(
  g: GraphBuilder,
  x: Tensor,
  o: { width: number; heads: number; name: string; bias?: Tensor; past?: { k: Tensor; v: Tensor }; outScale?: number },
): SelfAttentionResult {
  return g.scope(o.name, () => {
    const headDim = o.width / o.heads;
    const qkv = linear(g, x, o.width, 3 * o.width, 'qkv');
    const [q, kNew, vNew] = g.split(qkv, [o.width, o.width, o.width], -1).map((t) => splitHeads(g, t, o.heads, headDim));
    const k = o.past ? g.concat([o.past.k, kNew!], 2) : kNew!;
    const v = o.past ? g.concat([o.past.v, vNew!], 2) : vNew!;
    const heads = attend(g, q!, k, v, headDim, o.bias);
    const out = linear(g, mergeHeads(g, heads, o.width), o.width, o.width, 'out', { std: (o.outScale ?? 1) * fanInStd(o.width) });
    return { out, k, v };
  });
}

/** Cross-attention from x [B, T, D] to context [B, S, Dc] (no mask). [B, T, D] */
export function crossAttention(
  g: GraphBuilder,
  x: Tensor,
  context: Tensor,
  o: { width: number; contextWidth: number; heads: number; name: string },
): Tensor {
  return g.scope(o.name, () => {
    const headDim = o.width / o.heads;
    const q = splitHeads(g, linear(g, x, o.width, o.width, 'q'), o.heads, headDim);
    const kv = linear(g, context, o.contextWidth, 2 * o.width, 'kv');
    const [k, v] = g.split(kv, [o.width, o.width], -1).map((t) => splitHeads(g, t, o.heads, headDim));
    return linear(g, mergeHeads(g, attend(g, q, k!, v!, headDim), o.width), o.width, o.width, 'out');
  });
}

/** Residual-branch output projections start smaller, so a deep stack starts near the identity (GPT-2). */
export function residualScale(layers: number): number {
  return 1 / Math.sqrt(2 * layers);
}

export interface BlockConfig {
  width: number;
  heads: number;
  mlpHidden: number;
  /** Number of blocks in the stack (scales the residual projections' init). */
  layers: number;
}

/**
 * Pre-norm transformer block: x + attn(rmsNorm(x)), then + swiglu(rmsNorm(·)).
 * Returns the block output [B, T, D] and its keys/values (for the LM's cache).
 */
export function transformerBlock(
  g: GraphBuilder,
  x: Tensor,
  c: BlockConfig,
  name: string,
  o: { bias?: Tensor; past?: { k: Tensor; v: Tensor } } = {},
): SelfAttentionResult {
  return g.scope(name, () => {
    const outScale = residualScale(c.layers);
    const attn = selfAttention(g, rmsNorm(g, x, c.width, 'attn_norm'), { width: c.width, heads: c.heads, name: 'attn', outScale, ...o });
    const h = g.add(x, attn.out);
    const out = g.add(h, swiglu(g, rmsNorm(g, h, c.width, 'mlp_norm'), c.width, c.mlpHidden, 'mlp', outScale));
    return { out, k: attn.k, v: attn.v };
  });
}

/** A stack of bidirectional blocks (vision encoder, connector). [B, T, D] → [B, T, D] */
export function encoderStack(g: GraphBuilder, x: Tensor, c: BlockConfig): Tensor {
  let h = x;
  for (let i = 0; i < c.layers; i++) h = transformerBlock(g, h, c, `block${i}`).out;
  return h;
}
