// Composite layers built from builder ops. Each layer opens a name scope, so its nodes and parameters read
// as `block0/attn/q_proj/MatMul` and `block0/attn/q_proj/weight`. Shapes: B batch, T query tokens,
// S key tokens, C width, H heads, D = C / H head width, V vocabulary.
import type { DType } from '../onnx/tensor.ts';
import type { GraphBuilder, ParamInit, Tensor } from './builder.ts';

/** Large negative logit used to mask attention scores (finite, so fully masked rows stay NaN-free). */
const MASKED = -1e9;

export interface LinearOptions {
  name?: string;
  bias?: boolean;
  /** Weight init (default normal, std 0.02). */
  init?: ParamInit;
}

/** x [..., in] → [..., out]: x · W + b with W [in, out] (MatMul-ready, no transpose needed). */
export function linear(g: GraphBuilder, x: Tensor, out: number, o: LinearOptions = {}): Tensor {
  return g.scope(o.name ?? 'linear', () => {
    const w = g.param('weight', [x.dim(-1), out], o.init ?? { kind: 'normal', std: 0.02 }, x.dtype);
    const y = g.matmul(x, w);
    return o.bias === false ? y : g.add(y, g.param('bias', [out], { kind: 'zeros' }, x.dtype));
  });
}

/** LayerNorm over the last axis as one fused LayerNormalization op; scale 1, bias 0. */
export function layerNorm(g: GraphBuilder, x: Tensor, o: { name?: string; eps?: number; bias?: boolean } = {}): Tensor {
  return g.scope(o.name ?? 'ln', () => {
    const c = x.dim(-1);
    const scale = g.param('scale', [c], { kind: 'ones' }, x.dtype);
    const bias = o.bias === false ? undefined : g.param('bias', [c], { kind: 'zeros' }, x.dtype);
    return g.layerNorm(x, scale, bias, { epsilon: o.eps ?? 1e-5 });
  });
}

/** RMSNorm over the last axis: x / √(mean(x²) + ε) ⊙ w. */
export function rmsNorm(g: GraphBuilder, x: Tensor, o: { name?: string; eps?: number } = {}): Tensor {
  return g.scope(o.name ?? 'rms', () => {
    const scale = g.param('scale', [x.dim(-1)], { kind: 'ones' }, x.dtype);
    const meanSquare = g.reduceMean(g.mul(x, x), [-1], true);
    return g.mul(g.mul(x, g.reciprocal(g.sqrt(g.add(meanSquare, o.eps ?? 1e-6)))), scale);
  });
}

export interface AttentionOptions {
  heads: number;
  name?: string;
  /** Mask future positions (query i sees keys ≤ i); needs T = S static. */
  causal?: boolean;
  /** [B, S]: 1 (or true) for real tokens, 0 (false) for padding keys. */
  keyPaddingMask?: Tensor;
  /** [B, S, C_ctx]: attend to this sequence (cross-attention) instead of x. */
  context?: Tensor;
  /** Rotary position embedding on queries and keys (base 10000 unless given); needs static T and S. */
  rotary?: boolean | { base: number };
  bias?: boolean;
}

/** Multi-head attention. x [B, T, C] → [B, T, C]. */
export function attention(g: GraphBuilder, x: Tensor, o: AttentionOptions): Tensor {
  return g.scope(o.name ?? 'attn', () => {
    const c = x.dim(-1);
    const h = o.heads;
    if (c % h !== 0) throw new Error(`attention: width ${c} is not divisible by ${h} heads`);
    const d = c / h;
    const source = o.context ?? x;
    const lin = (t: Tensor, name: string) => linear(g, t, c, { name, ...(o.bias === false ? { bias: false } : {}) });
    // [B, T, C] → [B, T, H, D]
    const split = (t: Tensor) => g.reshape(t, [0, 0, h, d]);
    let q = split(lin(x, 'q_proj'));
    let k = split(lin(source, 'k_proj'));
    const v = split(lin(source, 'v_proj'));
    if (o.rotary) {
      const base = typeof o.rotary === 'object' ? o.rotary.base : 10000;
      q = g.scope('rope_q', () => rotary(g, q, base));
      k = g.scope('rope_k', () => rotary(g, k, base));
    }
    const qh = g.mul(g.transpose(q, [0, 2, 1, 3]), 1 / Math.sqrt(d)); // [B, H, T, D], pre-scaled
    const kT = g.transpose(k, [0, 2, 3, 1]); // [B, H, D, S]
    const vh = g.transpose(v, [0, 2, 1, 3]); // [B, H, S, D]
    let scores = g.matmul(qh, kT); // [B, H, T, S]
    if (o.causal) scores = g.add(scores, causalMask(g, x.dim(1), source.dim(1), x.dtype));
    if (o.keyPaddingMask) {
      const keep = o.keyPaddingMask.dtype === x.dtype ? o.keyPaddingMask : g.cast(o.keyPaddingMask, x.dtype);
      // (keep − 1) · 1e9: 0 for real keys, −1e9 for padding; [B, S] → [B, 1, 1, S]
      scores = g.add(scores, g.unsqueeze(g.mul(g.sub(keep, 1), -MASKED), [1, 2]));
    }
    const probs = g.softmax(scores, -1);
    const heads = g.matmul(probs, vh); // [B, H, T, D]
    const merged = g.reshape(g.transpose(heads, [0, 2, 1, 3]), [0, 0, c]); // [B, T, C]
    return lin(merged, 'o_proj');
  });
}

/** Additive causal mask [T, S]: 0 where key ≤ query (aligned to the end when S > T), −1e9 elsewhere. */
function causalMask(g: GraphBuilder, t: number, s: number, dtype: Tensor['dtype']): Tensor {
  const data = new (dtype === 'float64' ? Float64Array : Float32Array)(t * s);
  for (let i = 0; i < t; i++) for (let j = 0; j < s; j++) data[i * s + j] = j <= i + (s - t) ? 0 : MASKED;
  return g.constant(data, dtype, [t, s]);
}

/** Rotary embedding of x [B, T, H, D]: x ⊙ cos + rotate_half(x) ⊙ sin, angles from position · base^(−2i/D). */
function rotary(g: GraphBuilder, x: Tensor, base: number): Tensor {
  const t = x.dim(1);
  const d = x.dim(3);
  if (d % 2 !== 0) throw new Error(`rotary: head width ${d} must be even`);
  const Arr = x.dtype === 'float64' ? Float64Array : Float32Array;
  const cos = new Arr(t * d);
  const sin = new Arr(t * d);
  for (let p = 0; p < t; p++) {
    for (let i = 0; i < d; i++) {
      const angle = p * base ** (-(2 * (i % (d / 2))) / d);
      cos[p * d + i] = Math.cos(angle);
      sin[p * d + i] = Math.sin(angle);
    }
  }
  const [x1, x2] = g.split(x, 2, 3);
  const rotated = g.concat([g.neg(x2!), x1!], 3); // rotate_half
  return g.add(g.mul(x, g.constant(cos, x.dtype, [t, 1, d])), g.mul(rotated, g.constant(sin, x.dtype, [t, 1, d])));
}

export type Activation = 'gelu' | 'gelu_tanh' | 'relu' | 'silu';

export function activate(g: GraphBuilder, x: Tensor, a: Activation): Tensor {
  switch (a) {
    case 'gelu':
      return g.gelu(x);
    case 'gelu_tanh':
      return g.gelu(x, 'tanh');
    case 'relu':
      return g.relu(x);
    case 'silu':
      return g.silu(x);
  }
}

/** Two-layer MLP: [..., C] → fc1 → activation (GELU) → fc2 → [..., C]. */
export function mlp(g: GraphBuilder, x: Tensor, o: { hidden: number; name?: string; activation?: Activation; out?: number }): Tensor {
  return g.scope(o.name ?? 'mlp', () => {
    const hidden = activate(g, linear(g, x, o.hidden, { name: 'fc1' }), o.activation ?? 'gelu');
    return linear(g, hidden, o.out ?? x.dim(-1), { name: 'fc2' });
  });
}

/** SwiGLU feed-forward: down(silu(gate(x)) ⊙ up(x)). */
export function swiglu(g: GraphBuilder, x: Tensor, o: { hidden: number; name?: string }): Tensor {
  return g.scope(o.name ?? 'swiglu', () => {
    const gate = g.silu(linear(g, x, o.hidden, { name: 'gate', bias: false }));
    const up = linear(g, x, o.hidden, { name: 'up', bias: false });
    return linear(g, g.mul(gate, up), x.dim(-1), { name: 'down', bias: false });
  });
}

/** Token embedding: ids [B, T] (int64) → [B, T, C] rows of a [V, C] table. */
export function embedding(
  g: GraphBuilder,
  ids: Tensor,
  vocab: number,
  dim: number,
  o: { name?: string; std?: number; dtype?: DType } = {},
): Tensor {
  return g.scope(o.name ?? 'embed', () =>
    g.gather(g.param('weight', [vocab, dim], { kind: 'normal', std: o.std ?? 0.02 }, o.dtype), ids, 0),
  );
}

/** Learned absolute positions: x [B, T, C] + P[T, C]. */
export function learnedPositions(g: GraphBuilder, x: Tensor, o: { name?: string } = {}): Tensor {
  return g.scope(o.name ?? 'pos', () => g.add(x, g.param('weight', [x.dim(1), x.dim(2)], { kind: 'normal', std: 0.02 }, x.dtype)));
}

/** Sinusoidal features of scalar times t [B] → [B, dim]: [cos(t·f_i), sin(t·f_i)], f_i = maxPeriod^(−i/half). */
export function sinusoidalEmbedding(g: GraphBuilder, t: Tensor, dim: number, o: { maxPeriod?: number } = {}): Tensor {
  if (dim % 2 !== 0) throw new Error(`sinusoidalEmbedding: dim ${dim} must be even`);
  const half = dim / 2;
  const freqs = new (t.dtype === 'float64' ? Float64Array : Float32Array)(half);
  for (let i = 0; i < half; i++) freqs[i] = Math.exp((-Math.log(o.maxPeriod ?? 10000) * i) / half);
  const args = g.mul(g.unsqueeze(t, [1]), g.constant(freqs, t.dtype, [1, half])); // [B, half]
  return g.concat([g.cos(args), g.sin(args)], 1);
}

/** DiT's timestep embedder: sinusoidal(freqDim) → linear → SiLU → linear. t [B] → [B, width]. */
export function timestepEmbedding(g: GraphBuilder, t: Tensor, width: number, o: { name?: string; freqDim?: number } = {}): Tensor {
  return g.scope(o.name ?? 't_embed', () => {
    const features = sinusoidalEmbedding(g, t, o.freqDim ?? 256);
    return linear(g, g.silu(linear(g, features, width, { name: 'fc1' })), width, { name: 'fc2' });
  });
}

/** adaLN-Zero: linear(SiLU(c)) with zero init, split into `chunks` vectors [B, width] (shift, scale, gate...). */
export function adaLNModulation(g: GraphBuilder, c: Tensor, width: number, chunks: number, o: { name?: string } = {}): Tensor[] {
  return g.scope(o.name ?? 'adaLN', () => {
    const all = linear(g, g.silu(c), width * chunks, { name: 'proj', init: { kind: 'zeros' } });
    return g.split(all, chunks, -1);
  });
}

/** x [B, T, C] ⊙ (1 + scale[B, C]) + shift[B, C], broadcast over tokens. */
export function modulate(g: GraphBuilder, x: Tensor, shift: Tensor, scale: Tensor): Tensor {
  return g.add(g.mul(x, g.add(g.unsqueeze(scale, [1]), 1)), g.unsqueeze(shift, [1]));
}

/** log p(target) per position: logits [..., V], targets [...] int64 → [...]. */
export function tokenLogProbs(g: GraphBuilder, logits: Tensor, targets: Tensor): Tensor {
  return g.scope('token_logprobs', () => {
    const logp = g.logSoftmax(logits, -1);
    return g.squeeze(g.gatherElements(logp, g.unsqueeze(targets, [-1]), -1), [-1]);
  });
}

/** Mean cross-entropy over positions; with `mask` [...] (1 = counted) the mean is over counted positions. */
export function crossEntropy(g: GraphBuilder, logits: Tensor, targets: Tensor, mask?: Tensor): Tensor {
  return g.scope('cross_entropy', () => {
    const nll = g.neg(tokenLogProbs(g, logits, targets));
    if (!mask) return g.reduceMean(nll, undefined, false);
    const m = mask.dtype === nll.dtype ? mask : g.cast(mask, nll.dtype);
    return g.div(g.reduceSum(g.mul(nll, m), undefined, false), g.max(g.reduceSum(m, undefined, false), 1));
  });
}
