// Every gradient rule against central finite differences (float64 unless ORT lacks a double kernel).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder, type Tensor } from '../graph/builder.ts';
import { attr } from '../onnx/attrs.ts';
import { encodeModel } from '../onnx/proto.ts';
import { createSession } from '../runtime/session.ts';
import { grad } from './grad.ts';
import { checkGradients, type GradCheckCase } from './gradcheck.ts';
import { RULES } from './rules.ts';

const positive = (r: { uniform(): number }) => 0.5 + 2 * r.uniform();
/** Values away from kinks (relu, clip, max) so finite differences do not straddle them. */
const awayFromZero = (r: { uniform(): number }) => (r.uniform() < 0.5 ? -1 : 1) * (0.2 + r.uniform());

const int64 = (shape: number[], values: number[]) => ({ dtype: 'int64' as const, shape, data: BigInt64Array.from(values.map(BigInt)) });
const bool = (shape: number[], values: number[]) => ({ dtype: 'bool' as const, shape, data: Uint8Array.from(values) });

/** Σ y ⊙ sin(y): a scalar loss for outputs whose shape is known only at run time (no fixed weights fit). */
const weightedSum = (g: GraphBuilder, y: Tensor) => g.reduceSum(g.mul(y, g.sin(y)), undefined, false);

const CASES: Record<string, GradCheckCase> = {
  'Add (broadcast [3,1,4] + [2,1])': { inputs: { a: [3, 1, 4], b: [2, 1] }, build: (g, { a, b }) => g.add(a!, b!) },
  'Sub (broadcast [4] - [2,4])': { inputs: { a: [4], b: [2, 4] }, build: (g, { a, b }) => g.sub(a!, b!) },
  'Mul (broadcast [2,3] * [3])': { inputs: { a: [2, 3], b: [3] }, build: (g, { a, b }) => g.mul(a!, b!) },
  'Div (broadcast [2,3] / [2,1])': { inputs: { a: [2, 3], b: [2, 1] }, sample: positive, build: (g, { a, b }) => g.div(a!, b!) },
  'Sum (three inputs, broadcast)': { inputs: { a: [2, 3], b: [3], c: [2, 1] }, build: (g, { a, b, c }) => g.sum([a!, b!, c!]) },
  'Pow (tensor exponent)': { inputs: { a: [2, 3], b: [3] }, sample: positive, build: (g, { a, b }) => g.pow(a!, b!) },
  'Pow (constant exponent 3)': { inputs: { a: [2, 3] }, build: (g, { a }) => g.pow(a!, 3) },
  'Pow (constant exponent 2)': { inputs: { a: [2, 3] }, build: (g, { a }) => g.pow(a!, 2) },
  'Max (broadcast)': { inputs: { a: [2, 3], b: [3] }, build: (g, { a, b }) => g.max(a!, b!) },
  'Min (broadcast)': { inputs: { a: [2, 3], b: [2, 1] }, build: (g, { a, b }) => g.min(a!, b!) },
  'Where (broadcast)': {
    inputs: { a: [2, 3], b: [3] },
    fixed: { c: bool([2, 3], [1, 0, 1, 0, 0, 1]) },
    build: (g, { a, b, c }) => g.where(c!, a!, b!),
  },
  LeakyRelu: { inputs: { x: [3, 4] }, sample: awayFromZero, build: (g, { x }) => g.op('LeakyRelu', [x!], [attr.float('alpha', 0.2)])[0]! },
  Elu: { inputs: { x: [3, 4] }, sample: awayFromZero, build: (g, { x }) => g.op('Elu', [x!], [attr.float('alpha', 0.7)])[0]! },
  Softplus: { inputs: { x: [3, 4] }, build: (g, { x }) => g.op('Softplus', [x!])[0]! },
  'Dropout (inference mode)': { inputs: { x: [3, 4] }, build: (g, { x }) => g.op('Dropout', [x!])[0]! },
  'Trilu (upper, k = 1)': {
    inputs: { x: [2, 3, 4] },
    build: (g, { x }) => g.op('Trilu', [x!, g.constant(1, 'int64')], [attr.int('upper', 1)])[0]!,
  },
  'Mean (three inputs, broadcast)': { inputs: { a: [2, 3], b: [3], c: [2, 1] }, build: (g, { a, b, c }) => g.op('Mean', [a!, b!, c!])[0]! },
  'Pad (constant, both sides)': { inputs: { x: [2, 3] }, build: (g, { x }) => g.pad(x!, [1, 0, 2, 3]) },
  Neg: { inputs: { x: [2, 3] }, build: (g, { x }) => g.neg(x!) },
  Identity: { inputs: { x: [2, 3] }, build: (g, { x }) => g.identity(x!) },
  Sqrt: { inputs: { x: [2, 3] }, sample: positive, build: (g, { x }) => g.sqrt(x!) },
  Reciprocal: { inputs: { x: [2, 3] }, sample: positive, build: (g, { x }) => g.reciprocal(x!) },
  Exp: { inputs: { x: [2, 3] }, build: (g, { x }) => g.exp(x!) },
  Log: { inputs: { x: [2, 3] }, sample: positive, build: (g, { x }) => g.log(x!) },
  Tanh: { inputs: { x: [2, 3] }, build: (g, { x }) => g.tanh(x!) },
  Sigmoid: { inputs: { x: [2, 3] }, build: (g, { x }) => g.sigmoid(x!) },
  Relu: { inputs: { x: [3, 4] }, sample: awayFromZero, build: (g, { x }) => g.relu(x!) },
  Abs: { inputs: { x: [3, 4] }, sample: awayFromZero, build: (g, { x }) => g.abs(x!) },
  Clip: { inputs: { x: [3, 4] }, sample: awayFromZero, build: (g, { x }) => g.clip(x!, -0.5, 0.7) },
  'Clip (upper bound only)': { inputs: { x: [3, 4] }, sample: awayFromZero, build: (g, { x }) => g.clip(x!, undefined, 0.1) },
  'Cast (float64 → float32 → float64, float32 tolerance)': {
    inputs: { x: [2, 3] },
    build: (g, { x }) => g.cast(g.mul(g.cast(x!, 'float32'), 2), 'float64'),
  },
  Softmax: { inputs: { x: [2, 3, 5] }, build: (g, { x }) => g.softmax(x!, 1) },
  LogSoftmax: { inputs: { x: [3, 5] }, build: (g, { x }) => g.logSoftmax(x!, -1) },
  'MatMul (weight [K,N], batched input)': { inputs: { a: [2, 3, 4], b: [4, 5] }, build: (g, { a, b }) => g.matmul(a!, b!) },
  'MatMul (batched, broadcast batch)': { inputs: { a: [2, 3, 3, 4], b: [3, 4, 2] }, build: (g, { a, b }) => g.matmul(a!, b!) },
  'MatMul (vector · matrix)': { inputs: { a: [4], b: [2, 4, 3] }, build: (g, { a, b }) => g.matmul(a!, b!) },
  'MatMul (matrix · vector)': { inputs: { a: [2, 3, 4], b: [4] }, build: (g, { a, b }) => g.matmul(a!, b!) },
  'Gemm (no transpose, bias [N])': {
    inputs: { a: [3, 4], b: [4, 2], c: [2] },
    build: (g, { a, b, c }) => g.gemm(a!, b!, c!, { alpha: 0.5, beta: 2 }),
  },
  'Gemm (transA, transB, bias [M,1])': {
    inputs: { a: [4, 3], b: [2, 4], c: [3, 1] },
    build: (g, { a, b, c }) => g.gemm(a!, b!, c!, { transA: true, transB: true, alpha: 1.5 }),
  },
  'Gemm (transB only)': { inputs: { a: [3, 4], b: [2, 4] }, build: (g, { a, b }) => g.gemm(a!, b!, undefined, { transB: true }) },
  'Gemm (transA only)': { inputs: { a: [4, 3], b: [4, 2] }, build: (g, { a, b }) => g.gemm(a!, b!, undefined, { transA: true }) },
  'ReduceSum (axes [0,2], keepdims 0)': { inputs: { x: [2, 3, 4] }, build: (g, { x }) => g.reduceSum(x!, [0, 2], false) },
  'ReduceSum (all axes)': { inputs: { x: [2, 3] }, build: (g, { x }) => g.reduceSum(x!, undefined, true) },
  'ReduceMean (axis -1, keepdims 1)': { inputs: { x: [2, 3, 4] }, build: (g, { x }) => g.reduceMean(x!, [-1], true) },
  'ReduceMax (axis 1, keepdims 0)': { inputs: { x: [3, 5] }, build: (g, { x }) => g.reduceMax(x!, [1], false) },
  'ReduceMin (axes [0,1], keepdims 1)': { inputs: { x: [2, 3, 2] }, build: (g, { x }) => g.reduceMin(x!, [0, 1], true) },
  Flatten: { inputs: { x: [2, 3, 4] }, build: (g, { x }) => g.op('Flatten', [x!], [attr.int('axis', 2)])[0]! },
  Reshape: { inputs: { x: [2, 3, 4] }, build: (g, { x }) => g.reshape(x!, [4, -1]) },
  Transpose: { inputs: { x: [2, 3, 4] }, build: (g, { x }) => g.transpose(x!, [1, 2, 0]) },
  Concat: { inputs: { a: [2, 3], b: [2, 1], c: [2, 2] }, build: (g, { a, b, c }) => g.concat([a!, b!, c!], 1) },
  'Split (one output unused)': {
    inputs: { x: [5, 2] },
    build: (g, { x }) => {
      const [p, , r] = g.split(x!, [2, 1, 2], 0);
      return [p!, g.mul(r!, 3)];
    },
  },
  'Slice (negative start, two axes)': { inputs: { x: [4, 5, 3] }, build: (g, { x }) => g.slice(x!, [1, -3], [3, 100], [0, 1]) },
  'Gather (axis 0, repeated indices)': {
    inputs: { x: [5, 3] },
    fixed: { i: int64([2, 2], [1, 3, 1, 0]) },
    build: (g, { x, i }) => g.gather(x!, i!, 0),
  },
  'Gather (axis 1)': { inputs: { x: [2, 4, 3] }, fixed: { i: int64([3], [3, 0, 3]) }, build: (g, { x, i }) => g.gather(x!, i!, 1) },
  'GatherElements (axis 1, repeated indices)': {
    inputs: { x: [2, 4] },
    fixed: { i: int64([2, 3], [0, 3, 0, 2, 2, 1]) },
    build: (g, { x, i }) => g.gatherElements(x!, i!, 1),
  },
  Sin: { inputs: { x: [2, 3] }, build: (g, { x }) => g.sin(x!) },
  Cos: { inputs: { x: [2, 3] }, build: (g, { x }) => g.cos(x!) },
  'Expand ([3,1] → [2,3,4])': { inputs: { x: [3, 1] }, build: (g, { x }) => g.expand(x!, [2, 3, 4]) },
  Unsqueeze: { inputs: { x: [2, 3] }, build: (g, { x }) => g.unsqueeze(x!, [0, 3]) },
  Squeeze: { inputs: { x: [2, 1, 3] }, build: (g, { x }) => g.squeeze(x!, [1]) },
  'LayerNormalization (scale and bias)': {
    inputs: { x: [2, 3, 6], s: [6], b: [6] },
    build: (g, { x, s, b }) => g.layerNorm(x!, s!, b!),
  },
  'LayerNormalization (axis 1, no bias)': {
    inputs: { x: [2, 3, 4], s: [3, 4] },
    build: (g, { x, s }) => g.layerNorm(x!, s!, undefined, { axis: 1 }),
  },
  'Slice (step 2 and −1, scattered back)': { inputs: { x: [5, 4] }, build: (g, { x }) => g.slice(x!, [0, 3], [5, 0], [0, 1], [2, -1]) },
  'Slice (end from Shape at run time)': {
    inputs: { x: [3, 6] },
    scalar: true,
    build: (g, { x }) => weightedSum(g, g.slice(x!, g.ints([1]), g.sub(g.slice(g.op('Shape', [x!])[0]!, [1], [2]), g.ints([2])), [1])),
  },
  'Pad (pads from Shape at run time)': {
    inputs: { x: [2, 3] },
    scalar: true,
    build: (g, { x }) => weightedSum(g, g.pad(x!, g.concat([g.ints([0, 1]), g.slice(g.op('Shape', [x!])[0]!, [0], [1]), g.ints([0])], 0))),
  },
  'Pad (reflect)': {
    inputs: { x: [2, 4] },
    build: (g, { x }) => g.op('Pad', [x!, g.ints([0, 2, 1, 1])], [attr.string('mode', 'reflect')])[0]!,
  },
  'Tile (repeats [2, 3])': { inputs: { x: [2, 3] }, build: (g, { x }) => g.op('Tile', [x!, g.ints([2, 3])])[0]! },
  'Expand (to a shape computed at run time)': {
    inputs: { x: [1, 3], y: [4, 1] },
    build: (g, { x, y }) => g.add(g.expand(x!, g.op('Shape', [y!])[0]!), y!),
  },
  'Conv (stride 2, pads, bias)': {
    inputs: { x: [2, 3, 7, 6], w: [4, 3, 3, 3], b: [4] },
    build: (g, { x, w, b }) => g.op('Conv', [x!, w!, b!], [attr.ints('strides', [2, 2]), attr.ints('pads', [1, 0, 1, 1])])[0]!,
  },
  'Conv (stride 1, spatial sizes known only at run time)': {
    inputs: { x: [1, 2, 5, 4], w: [3, 2, 3, 2] },
    scalar: true,
    build: (g, { x, w }) => {
      // The same tensor through a run-time shape: the builder no longer knows its spatial sizes.
      const free = g.reshape(x!, g.concat([g.ints([1, 2]), g.slice(g.op('Shape', [x!])[0]!, [2], [4])], 0));
      assert.deepEqual(free.shape!.slice(2), [null, null]);
      return weightedSum(g, g.op('Conv', [free, w!], [attr.ints('pads', [1, 0, 1, 1])])[0]!);
    },
  },
  'Conv (groups 2, dilation 2, 1-D)': {
    inputs: { x: [2, 4, 9], w: [6, 2, 3] },
    build: (g, { x, w }) => g.op('Conv', [x!, w!], [attr.int('group', 2), attr.ints('dilations', [2]), attr.ints('pads', [2, 1])])[0]!,
  },
  'ConvTranspose (stride 2, pads, output_padding, bias)': {
    inputs: { x: [2, 3, 4, 3], w: [3, 2, 3, 4], b: [2] },
    build: (g, { x, w, b }) =>
      g.op(
        'ConvTranspose',
        [x!, w!, b!],
        [attr.ints('strides', [2, 2]), attr.ints('pads', [1, 1, 0, 1]), attr.ints('output_padding', [1, 0])],
      )[0]!,
  },
  'ConvTranspose (groups 2, stride 3, dilation 2, 1-D)': {
    inputs: { x: [2, 4, 3], w: [4, 1, 2] },
    build: (g, { x, w }) =>
      g.op('ConvTranspose', [x!, w!], [attr.int('group', 2), attr.ints('strides', [3]), attr.ints('dilations', [2])])[0]!,
  },
  'InstanceNormalization (scale and bias)': {
    inputs: { x: [2, 3, 5], s: [3], b: [3] },
    build: (g, { x, s, b }) => g.op('InstanceNormalization', [x!, s!, b!], [attr.float('epsilon', 1e-5)])[0]!,
  },
  'GroupNormalization (opset 21: scale and bias per channel)': {
    inputs: { x: [2, 6, 3, 2], s: [6], b: [6] },
    build: (g, { x, s, b }) => g.op('GroupNormalization', [x!, s!, b!], [attr.int('num_groups', 3), attr.float('epsilon', 1e-5)])[0]!,
  },
  'GroupNormalization (opset 18: scale and bias per group)': {
    inputs: { x: [2, 6, 5], s: [2], b: [2] },
    opset: 18,
    build: (g, { x, s, b }) => g.op('GroupNormalization', [x!, s!, b!], [attr.int('num_groups', 2)])[0]!,
  },
  'Resize (nearest ×2, asymmetric floor)': {
    inputs: { x: [1, 2, 3, 2] },
    build: (g, { x }) =>
      g.op(
        'Resize',
        [x!, undefined, g.constant([1, 1, 2, 3])],
        [attr.string('mode', 'nearest'), attr.string('coordinate_transformation_mode', 'asymmetric'), attr.string('nearest_mode', 'floor')],
      )[0]!,
  },
  'Resize (linear ×0.5 and ×1.5, half_pixel)': {
    inputs: { x: [1, 2, 6, 4] },
    build: (g, { x }) => g.op('Resize', [x!, undefined, g.constant([1, 1, 0.5, 1.5])], [attr.string('mode', 'linear')])[0]!,
  },
  'Resize (linear to sizes, align_corners)': {
    inputs: { x: [1, 1, 3, 4] },
    build: (g, { x }) =>
      g.op(
        'Resize',
        [x!, undefined, undefined, g.ints([1, 1, 5, 7])],
        [attr.string('mode', 'linear'), attr.string('coordinate_transformation_mode', 'align_corners')],
      )[0]!,
  },
  Erf: { inputs: { x: [2, 3] }, build: (g, { x }) => g.erf(x!) },
  Gelu: { inputs: { x: [2, 5] }, build: (g, { x }) => g.gelu(x!) },
  'Gelu (tanh approximation)': { inputs: { x: [2, 5] }, build: (g, { x }) => g.gelu(x!, 'tanh') },
};

/**
 * Checked in float32 with looser tolerances: onnxruntime 1.30 CPU has no float64 kernel for Erf (also used
 * by the Gelu gradient), LeakyRelu, Elu, Softplus, Mean, Conv, ConvTranspose, InstanceNormalization and
 * Resize; the Cast case rounds through float32 on purpose.
 */
const FLOAT32_ONLY = new Set<string>([
  'LeakyRelu',
  'Elu',
  'Softplus',
  'Mean (three inputs, broadcast)',
  'Erf',
  'Gelu',
  'Gelu (tanh approximation)',
  'Cast (float64 → float32 → float64, float32 tolerance)',
  'Conv (stride 2, pads, bias)',
  'Conv (groups 2, dilation 2, 1-D)',
  'Conv (stride 1, spatial sizes known only at run time)',
  'ConvTranspose (stride 2, pads, output_padding, bias)',
  'ConvTranspose (groups 2, stride 3, dilation 2, 1-D)',
  'InstanceNormalization (scale and bias)',
  'GroupNormalization (opset 21: scale and bias per channel)',
  'GroupNormalization (opset 18: scale and bias per group)',
  'Resize (nearest ×2, asymmetric floor)',
  'Resize (linear ×0.5 and ×1.5, half_pixel)',
  'Resize (linear to sizes, align_corners)',
]);

for (const [name, c] of Object.entries(CASES)) {
  test(`gradient of ${name} matches finite differences`, async () => {
    const result = await checkGradients({ ...c, dtype: FLOAT32_ONLY.has(name) ? 'float32' : 'float64' });
    assert.ok(result.worst <= 1, `${name}: ${result.detail} (error ratio ${result.worst.toFixed(2)})`);
  });
}

test('every differentiable op in the table has a finite-difference case', () => {
  const covered = new Set(Object.keys(CASES).map((name) => name.split(' ')[0]));
  const ruleOps = Object.entries(RULES)
    .filter(([, e]) => e.kind === 'rule')
    .map(([op]) => op);
  const missing = ruleOps.filter((op) => !covered.has(op));
  assert.deepEqual(missing, []);
});

// ORT's CPU ScatterND (the first Gather rule) split update rows over threads, so rows with the same index
// raced and lost updates: an LM's embedding gradient came out wrong on 8-16 threads. The rule must give the
// exact sum however many threads ORT uses; a race shows up as a shortfall in some of the repeated runs.
test('the Gather gradient adds repeated indices exactly on many threads', async () => {
  const [vocab, tokens, width] = [151, 4096, 128];
  const g = new GraphBuilder('embedding');
  const table = g.input('table', 'float32', [vocab, width]);
  const ids = g.input('ids', 'int64', [tokens]);
  g.output(g.reduceSum(g.gather(table, ids), [0, 1], false), 'loss');
  const model = encodeModel(grad(g.build(), { loss: 'loss', wrt: ['table'] }));
  // Token t has id t % 7: ids 0..6 each get 586 or 585 rows of ones, the rest of the table none.
  const feeds = { table: new Float32Array(vocab * width), ids: BigInt64Array.from({ length: tokens }, (_, t) => BigInt(t % 7)) };
  const expected = (id: number) => (id < 7 ? Math.ceil((tokens - id) / 7) : 0);
  for (const threads of [8, 16]) {
    const session = await createSession(model, { threads, cache: false });
    try {
      for (let run = 0; run < 5; run++) {
        const dTable = (await session.run(feeds, {}, ['grad/table']))['grad/table']!.data as Float32Array;
        for (const id of [0, 3, 6, 7]) {
          assert.equal(dTable[id * width + width - 1], expected(id), `threads ${threads}, run ${run}: row ${id}`);
        }
        assert.equal(
          dTable.reduce((a, b) => a + b, 0),
          tokens * width,
          `threads ${threads}, run ${run}: total`,
        );
      }
    } finally {
      await session.release();
    }
  }
});
