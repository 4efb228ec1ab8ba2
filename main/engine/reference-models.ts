/**
 * The benchmark's reference models, built with the engine's graph builder: a pre-LN transformer decoder
 * and a diffusion transformer (adaLN), twins of the PyTorch modules in bench/engine_torch.py (same
 * parameter names, with Linear weights stored [in, out]). Shared by bench/engine.ts and the PyTorch
 * parity test (main/engine/runtime/torch_parity.test.ts), which checks that both compute the same loss
 * and gradients, so the benchmark compares equal work.
 */
import { grad, type GradOptions } from './autodiff/grad.ts';
import { GraphBuilder, type Tensor } from './graph/builder.ts';
import type { ModelProto } from './onnx/proto.ts';
import { paramSpecsFromGraph } from './runtime/fromGraph.ts';
import { ParamStore } from './runtime/params.ts';
import { Rng } from './runtime/rng.ts';

export interface BenchConfig {
  name: string;
  kind: 'decoder' | 'dit';
  width: number;
  layers: number;
  heads: number;
  /** Sequence length (decoder) or patch tokens per image (dit). */
  tokens: number;
  batch: number;
  /** Decoder vocabulary. */
  vocab: number;
  /** DiT values per patch (e.g. 4×4 pixels × 1 channel). */
  patch: number;
}

export const CONFIGS: BenchConfig[] = [
  { name: 'decoder-w192-l6-t64-b32', kind: 'decoder', width: 192, layers: 6, heads: 6, tokens: 64, batch: 32, vocab: 64, patch: 0 },
  { name: 'dit-w192-l6-t64-b32', kind: 'dit', width: 192, layers: 6, heads: 6, tokens: 64, batch: 32, vocab: 0, patch: 16 },
];

/** The same two models at toy size: a smoke run of a benchmark's pipeline (not of its speed). */
export const QUICK_CONFIGS: BenchConfig[] = CONFIGS.map((c) => ({
  ...c,
  name: `${c.name}-quick`,
  width: 48,
  layers: 2,
  heads: 3,
  tokens: 16,
  batch: 4,
}));

// ----- models (twins of bench/engine_torch.py; activations kept 2-D [N = batch·tokens, width] so every
// linear layer is one large GEMM forward and backward) -------------------------------------------------

function linear(g: GraphBuilder, name: string, x: Tensor, inDim: number, outDim: number, bias = true): Tensor {
  return g.scope(name, () => {
    const y = g.matmul(x, g.param('weight', [inDim, outDim], { kind: 'normal', std: 0.02 }));
    return bias ? g.add(y, g.param('bias', [outDim])) : y;
  });
}

function layerNorm(g: GraphBuilder, name: string, x: Tensor, width: number, affine: boolean, epsilon: number): Tensor {
  return g.scope(name, () =>
    affine
      ? g.layerNorm(x, g.param('scale', [width], { kind: 'ones' }), g.param('bias', [width]), { epsilon })
      : g.layerNorm(x, g.constant(new Float32Array(width).fill(1)), undefined, { epsilon }),
  );
}

/** Multi-head self-attention over x [N, D] laid out as [B, T, D]; optional causal mask. */
function attention(g: GraphBuilder, x: Tensor, c: BenchConfig, causal: boolean): Tensor {
  const { batch: B, tokens: T, width: D, heads: H } = c;
  const dh = D / H;
  return g.scope('attn', () => {
    const [q, k, v] = g.split(linear(g, 'qkv', x, D, 3 * D), 3, 1); // 3 × [N, D]
    const heads = (t: Tensor, perm: number[]) => g.transpose(g.reshape(t, [B, T, H, dh]), perm);
    const qh = g.mul(heads(q!, [0, 2, 1, 3]), 1 / Math.sqrt(dh)); // [B, H, T, dh], pre-scaled
    const kT = heads(k!, [0, 2, 3, 1]); // [B, H, dh, T]
    const vh = heads(v!, [0, 2, 1, 3]); // [B, H, T, dh]
    let scores = g.matmul(qh, kT); // [B, H, T, T]
    if (causal) {
      const mask = new Float32Array(T * T);
      for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) mask[i * T + j] = -1e9;
      scores = g.add(scores, g.constant(mask, 'float32', [T, T]));
    }
    const y = g.matmul(g.softmax(scores, -1), vh); // [B, H, T, dh]
    return linear(g, 'proj', g.reshape(g.transpose(y, [0, 2, 1, 3]), [B * T, D]), D, D);
  });
}

function mlp(g: GraphBuilder, x: Tensor, width: number): Tensor {
  return g.scope('mlp', () => linear(g, 'proj', g.gelu(linear(g, 'fc', x, width, 4 * width)), 4 * width, width));
}

/** Adds a [T, D] table to x [N, D] viewed as [B, T, D]. */
function addPositions(g: GraphBuilder, x: Tensor, c: BenchConfig): Tensor {
  const pos = g.param('pos', [c.tokens, c.width], { kind: 'normal', std: 0.02 });
  return g.reshape(g.add(g.reshape(x, [c.batch, c.tokens, c.width]), pos), [c.batch * c.tokens, c.width]);
}

/** Pre-LN GPT decoder; loss = mean cross-entropy of next-token targets (given one-hot [N, V]). */
export function buildModel(c: BenchConfig): GraphBuilder {
  return c.kind === 'decoder' ? buildDecoder(c) : buildDit(c);
}

/**
 * A reference model ready to run: its parameters (seeded init), the forward graph (loss only) and the
 * training graph (loss + `grad/<param>` for every parameter, autodiff's naming).
 */
export function benchGraphs(
  c: BenchConfig,
  seed = 0,
  options: Pick<GradOptions, 'recompute'> = {},
): { store: ParamStore; forward: ModelProto; train: ModelProto } {
  const g = buildModel(c);
  const store = new ParamStore(paramSpecsFromGraph(g.params), { seed });
  const forward = g.build();
  return { store, forward, train: grad(forward, { loss: 'loss', wrt: store.list().map((p) => p.name), ...options }) };
}

export function buildDecoder(c: BenchConfig): GraphBuilder {
  const g = new GraphBuilder('bench_decoder');
  const N = c.batch * c.tokens;
  const ids = g.input('ids', 'int64', [N]);
  const targets = g.input('targets_onehot', 'float32', [N, c.vocab]);
  let x = addPositions(g, g.gather(g.param('tok_embed', [c.vocab, c.width], { kind: 'normal', std: 0.02 }), ids), c);
  for (let l = 0; l < c.layers; l++) {
    x = g.scope(`block${l}`, () => {
      const h = g.add(x, attention(g, layerNorm(g, 'ln1', x, c.width, true, 1e-5), c, true));
      return g.add(h, mlp(g, layerNorm(g, 'ln2', h, c.width, true, 1e-5), c.width));
    });
  }
  const logits = linear(g, 'head', layerNorm(g, 'ln_f', x, c.width, true, 1e-5), c.width, c.vocab, false); // [N, V]
  const nll = g.neg(g.reduceSum(g.mul(targets, g.logSoftmax(logits, -1)), undefined, false));
  g.output(g.mul(nll, 1 / N), 'loss');
  return g;
}

/** x [N, D] viewed as [B, T, D], times (1 + scale) plus shift, both [B, D]. */
function modulate(g: GraphBuilder, x: Tensor, shift: Tensor, scale: Tensor, c: BenchConfig): Tensor {
  const x3 = g.reshape(x, [c.batch, c.tokens, c.width]);
  const y = g.add(g.mul(x3, g.add(g.unsqueeze(scale, [1]), 1)), g.unsqueeze(shift, [1]));
  return g.reshape(y, [c.batch * c.tokens, c.width]);
}

function gated(g: GraphBuilder, x: Tensor, gate: Tensor, c: BenchConfig): Tensor {
  return g.reshape(g.mul(g.reshape(x, [c.batch, c.tokens, c.width]), g.unsqueeze(gate, [1])), [c.batch * c.tokens, c.width]);
}

/** DiT with adaLN conditioning on a (precomputed sinusoidal) timestep embedding; loss = MSE to the target. */
export function buildDit(c: BenchConfig): GraphBuilder {
  const g = new GraphBuilder('bench_dit');
  const N = c.batch * c.tokens;
  const D = c.width;
  const patches = g.input('patches', 'float32', [N, c.patch]);
  const tEmb = g.input('t_emb', 'float32', [c.batch, D]);
  const target = g.input('target', 'float32', [N, c.patch]);
  const cond = g.scope('t_mlp', () => linear(g, 'fc2', g.silu(linear(g, 'fc1', tEmb, D, D)), D, D)); // [B, D]
  const condAct = g.silu(cond);
  let x = addPositions(g, linear(g, 'patch_in', patches, c.patch, D), c);
  for (let l = 0; l < c.layers; l++) {
    x = g.scope(`block${l}`, () => {
      const [shift1, scale1, gate1, shift2, scale2, gate2] = g.split(linear(g, 'ada', condAct, D, 6 * D), 6, 1); // 6 × [B, D]
      const a = attention(g, modulate(g, layerNorm(g, 'ln1', x, D, false, 1e-6), shift1!, scale1!, c), c, false);
      const h = g.add(x, gated(g, a, gate1!, c));
      const m = mlp(g, modulate(g, layerNorm(g, 'ln2', h, D, false, 1e-6), shift2!, scale2!, c), D);
      return g.add(h, gated(g, m, gate2!, c));
    });
  }
  const [shift, scale] = g.split(linear(g, 'ada_f', condAct, D, 2 * D), 2, 1);
  const pred = linear(g, 'patch_out', modulate(g, layerNorm(g, 'ln_f', x, D, false, 1e-6), shift!, scale!, c), D, c.patch);
  const err = g.sub(pred, target);
  g.output(g.reduceMean(g.mul(err, err), undefined, false), 'loss');
  return g;
}

/** Forward matmul FLOPs (2·M·N·K per matmul), the same for both engines. */
export function forwardFlops(c: BenchConfig): number {
  const { batch: B, tokens: T, width: D } = c;
  const N = B * T;
  const block = 2 * N * D * 3 * D + 2 * N * D * D + 2 * N * D * 4 * D * 2 + 2 * (2 * B * T * T * D); // qkv, proj, mlp, QKᵀ and AV
  if (c.kind === 'decoder') return c.layers * block + 2 * N * D * c.vocab;
  const conditioning = 2 * (2 * B * D * D) + c.layers * 2 * B * D * 6 * D + 2 * B * D * 2 * D;
  return c.layers * block + conditioning + 2 * N * c.patch * D * 2;
}

type Batch = Record<string, BigInt64Array | Float32Array>;

/**
 * A fixed, seeded batch: `feeds` for the ONNX graph, `torch` for the PyTorch twin (the decoder takes
 * int64 targets there and one-hot targets here; the DiT takes the same tensors).
 */
export function batchFor(c: BenchConfig): { feeds: Batch; torch: Batch } {
  const rng = new Rng(0);
  const N = c.batch * c.tokens;
  if (c.kind === 'decoder') {
    const ids = new BigInt64Array(N);
    for (let i = 0; i < N; i++) ids[i] = BigInt(Math.floor(rng.uniform() * c.vocab));
    const targets = BigInt64Array.from({ length: N }, (_, i) => ids[(i + 1) % N]!);
    const onehot = new Float32Array(N * c.vocab);
    targets.forEach((t, i) => (onehot[i * c.vocab + Number(t)] = 1));
    return { feeds: { ids, targets_onehot: onehot }, torch: { ids, targets } };
  }
  const feeds = {
    patches: rng.fillNormal(new Float32Array(N * c.patch)),
    t_emb: rng.fillNormal(new Float32Array(c.batch * c.width)),
    target: rng.fillNormal(new Float32Array(N * c.patch)),
  };
  return { feeds, torch: feeds };
}
