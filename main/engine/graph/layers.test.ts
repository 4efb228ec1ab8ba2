// Layers: whole blocks and losses against finite differences, and the masks' behaviour.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { checkGradients, session } from '../autodiff/gradcheck.ts';
import { GraphBuilder, type Tensor } from './builder.ts';
import {
  adaLNModulation,
  attention,
  crossEntropy,
  embedding,
  layerNorm,
  learnedPositions,
  linear,
  mlp,
  modulate,
  rmsNorm,
  swiglu,
  timestepEmbedding,
  type Activation,
} from './layers.ts';

const [B, T, C, H, V] = [2, 4, 8, 2, 5];
const int64 = (shape: number[], values: number[]) => ({ dtype: 'int64' as const, shape, data: BigInt64Array.from(values.map(BigInt)) });
const float = (dtype: 'float32' | 'float64', shape: number[], values: number[]) => ({
  dtype,
  shape,
  data: dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values),
});

/** Pre-norm decoder block + LM head + masked cross-entropy: the whole thing is one scalar loss. */
function decoderLoss(g: GraphBuilder, x: Record<string, Tensor>, activation: Activation): Tensor {
  let h = learnedPositions(g, embedding(g, x.ids!, V, C, { dtype: x.mask!.dtype }));
  h = g.scope('block0', () => {
    const a = g.add(h, attention(g, layerNorm(g, h, { name: 'ln1' }), { heads: H, causal: true, keyPaddingMask: x.mask!, rotary: true }));
    return g.add(a, mlp(g, layerNorm(g, a, { name: 'ln2' }), { hidden: 2 * C, activation }));
  });
  const logits = linear(g, layerNorm(g, h, { name: 'ln_f' }), V, { name: 'head' });
  return crossEntropy(g, logits, x.targets!, x.mask!);
}

const tokens = {
  ids: int64([B, T], [1, 4, 2, 0, 3, 3, 1, 2]),
  targets: int64([B, T], [4, 2, 0, 1, 3, 1, 2, 0]),
};

test('decoder block + cross-entropy: every parameter gradient matches finite differences (float64)', async () => {
  const r = await checkGradients({
    inputs: {},
    fixed: { ...tokens, mask: float('float64', [B, T], [1, 1, 1, 1, 1, 1, 1, 0]) },
    scalar: true,
    samples: 4,
    build: (g, x) => decoderLoss(g, x, 'gelu_tanh'),
  });
  assert.ok(r.worst <= 1, r.detail);
  assert.ok(Object.keys(r.gradients).includes('block0/attn/q_proj/weight'));
});

test('decoder block with exact (erf) GELU matches finite differences in float32', async () => {
  const r = await checkGradients({
    inputs: {},
    dtype: 'float32',
    fixed: { ...tokens, mask: float('float32', [B, T], [1, 1, 1, 1, 1, 1, 0, 0]) },
    scalar: true,
    samples: 3,
    build: (g, x) => decoderLoss(g, x, 'gelu'),
  });
  assert.ok(r.worst <= 1, r.detail);
});

test('diffusion-transformer block (adaLN, cross-attention, SwiGLU, RMSNorm, timestep embedding) matches finite differences', async () => {
  const r = await checkGradients({
    inputs: { x: [B, T, C], ctx: [B, 3, C], t: [B] },
    samples: 3,
    build: (g, { x, ctx, t }) => {
      const cond = timestepEmbedding(g, t!, C, { freqDim: 8 });
      const [shift, scale, gate] = adaLNModulation(g, cond, C, 3);
      const h = modulate(g, layerNorm(g, x!, { name: 'norm', bias: false }), shift!, scale!);
      const attended = g.add(x!, g.mul(attention(g, h, { heads: H, context: ctx! }), g.unsqueeze(gate!, [1])));
      return g.add(attended, swiglu(g, rmsNorm(g, attended), { hidden: 12 }));
    },
  });
  assert.ok(r.worst <= 1, r.detail);
});

async function attend(causal: boolean, x: number[], mask: number[]): Promise<Float64Array> {
  const g = new GraphBuilder();
  const input = g.input('x', 'float64', [1, 3, 4]);
  const keep = g.input('mask', 'float64', [1, 3]);
  g.output(attention(g, input, { heads: 2, causal, keyPaddingMask: keep }), 'y');
  const feeds: Record<string, ort.Tensor> = {
    x: new ort.Tensor('float64', Float64Array.from(x), [1, 3, 4]),
    mask: new ort.Tensor('float64', Float64Array.from(mask), [1, 3]),
  };
  for (const [i, p] of g.params.entries()) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    feeds[p.name] = new ort.Tensor(
      'float64',
      Float64Array.from({ length: n }, (_, k) => Math.sin(7 * i + k)),
      p.shape,
    );
  }
  return (await (await session(g.build())).run(feeds)).y!.data as Float64Array;
}

test('causal mask: changing a later token leaves earlier outputs unchanged', async () => {
  const x = Array.from({ length: 12 }, (_, i) => Math.cos(i));
  const changed = [...x.slice(0, 8), 5, 5, 5, 5];
  const [a, b] = [await attend(true, x, [1, 1, 1]), await attend(true, changed, [1, 1, 1])];
  assert.deepEqual(Array.from(a.slice(0, 8)), Array.from(b.slice(0, 8)));
  assert.notDeepEqual(Array.from(a.slice(8)), Array.from(b.slice(8)));
  const [c, d] = [await attend(false, x, [1, 1, 1]), await attend(false, changed, [1, 1, 1])];
  assert.notDeepEqual(Array.from(c.slice(0, 4)), Array.from(d.slice(0, 4)), 'without the mask, earlier tokens see later ones');
});

test('key-padding mask: a padded token does not influence any output', async () => {
  const x = Array.from({ length: 12 }, (_, i) => Math.cos(i));
  const changed = [...x.slice(0, 4), 9, -9, 9, -9, ...x.slice(8)];
  const [a, b] = [await attend(false, x, [1, 0, 1]), await attend(false, changed, [1, 0, 1])];
  for (const i of [0, 1, 2, 3, 8, 9, 10, 11]) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-12, `output ${i} moved`);
});

test('layers name nodes and parameters by scope', () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', ['batch', 16, 32]);
  g.output(
    g.scope('block0', () => attention(g, x, { heads: 4 })),
    'y',
  );
  const names = g.nodeList.map((n) => n.name);
  assert.ok(names.includes('block0/attn/q_proj/MatMul'));
  assert.ok(names.includes('block0/attn/Softmax'));
  assert.deepEqual(g.get('block0/attn/Softmax').shape, ['batch', 4, 16, 16]);
  assert.deepEqual(g.get('y').shape, ['batch', 16, 32]);
  assert.ok(g.params.some((p) => p.name === 'block0/attn/o_proj/bias'));
});
