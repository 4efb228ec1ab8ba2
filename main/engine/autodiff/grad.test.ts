// The driver's behaviour, one story per test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../graph/builder.ts';
import { attr } from '../onnx/attrs.ts';
import { DataType, decodeModel, encodeModel, type ModelProto } from '../onnx/proto.ts';
import { tensorProto } from '../onnx/tensor.ts';
import { linear } from '../graph/layers.ts';
import { batchFor, benchGraphs, QUICK_CONFIGS } from '../reference-models.ts';
import { diffStats } from '../runtime/arrays.ts';
import { createSession } from '../runtime/session.ts';
import { blockSegments, grad, gradName } from './grad.ts';
import { checkGradients, rng, session } from './gradcheck.ts';

const f64 = (shape: number[], values: number[]) => new ort.Tensor('float64', Float64Array.from(values), shape);

test('broadcast: a bias [3] added to [2,3] gets its gradient summed over the batch', async () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float64', [2, 3]);
  const b = g.input('b', 'float64', [3]);
  g.output(g.reduceSum(g.mul(g.add(x, b), x), undefined, false), 'loss');
  const model = grad(g.build(), { loss: 'loss', wrt: ['b'] });
  const out = await (await session(model)).run({ x: f64([2, 3], [1, 2, 3, 4, 5, 6]), b: f64([3], [0, 0, 0]) });
  // d/db Σ (x + b)·x = Σ_rows x
  assert.deepEqual(Array.from(out['grad/b']!.data as Float64Array), [5, 7, 9]);
  assert.deepEqual(out['grad/b']!.dims, [3]);
});

test('broadcast with a symbolic batch dim sums back at run time', async () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float64', ['batch', 3]);
  const s = g.input('s', 'float64', ['batch', 1]);
  g.output(g.reduceSum(g.mul(x, s), undefined, false), 'loss');
  const model = grad(g.build(), { loss: 'loss', wrt: ['s', 'x'] });
  const run = await session(model);
  for (const rows of [1, 3]) {
    const xs = Array.from({ length: rows * 3 }, (_, i) => i);
    const out = await run.run({ x: f64([rows, 3], xs), s: f64([rows, 1], Array(rows).fill(2)) });
    assert.deepEqual(out['grad/s']!.dims, [rows, 1]);
    assert.deepEqual(
      Array.from(out['grad/s']!.data as Float64Array),
      Array.from({ length: rows }, (_, r) => 3 * r * 3 + 3),
    );
    assert.deepEqual(Array.from(out['grad/x']!.data as Float64Array), Array(rows * 3).fill(2));
  }
});

test('broadcast between two different symbolic dims finds the summed axes at run time', async () => {
  const g = new GraphBuilder();
  const a = g.input('a', 'float64', ['n', 3]);
  const b = g.input('b', 'float64', ['m', 3]);
  g.output(g.reduceSum(g.mul(g.add(a, b), g.add(a, b)), undefined, false), 'loss');
  const model = grad(g.build(), { loss: 'loss', wrt: ['a', 'b'] });
  assert.ok(
    model.graph.node.some((n) => n.opType === 'NonZero'),
    'the dynamic path is taken',
  );
  const run = await session(model);
  // n = 1 broadcasts against m = 2: dL/da = Σ_rows 2(a + b), dL/db = 2(a + b)
  const out = await run.run({ a: f64([1, 3], [1, 2, 3]), b: f64([2, 3], [0, 1, 0, 1, 0, 1]) });
  assert.deepEqual(out['grad/a']!.dims, [1, 3]);
  assert.deepEqual(Array.from(out['grad/a']!.data as Float64Array), [6, 10, 14]);
  assert.deepEqual(Array.from(out['grad/b']!.data as Float64Array), [2, 6, 6, 4, 4, 8]);
  // Same graph, no broadcasting at run time (n = m = 2): nothing is summed.
  const same = await run.run({ a: f64([2, 3], [1, 2, 3, 1, 2, 3]), b: f64([2, 3], [0, 1, 0, 1, 0, 1]) });
  assert.deepEqual(Array.from(same['grad/a']!.data as Float64Array), [2, 6, 6, 4, 4, 8]);
});

test('fan-in: a value used three times accumulates all three gradients', async () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float64', [2]);
  // L = Σ (x·x + 3x) → dL/dx = 2x + 3
  g.output(g.reduceSum(g.add(g.mul(x, x), g.mul(x, 3)), undefined, false), 'loss');
  const model = grad(g.build(), { loss: 'loss', wrt: ['x'] });
  const out = await (await session(model)).run({ x: f64([2], [1, -2]) });
  assert.deepEqual(Array.from(out['grad/x']!.data as Float64Array), [5, -1]);
  assert.ok(
    model.graph.node.some((n) => n.name.startsWith('x_Grad/') && n.opType === 'Sum'),
    'one Sum node accumulates the fan-in',
  );
});

test('an input the loss does not use gets a zero gradient of its shape', async () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float64', [2]);
  g.input('unused', 'float64', [3, 2]);
  g.output(g.reduceSum(x, undefined, false), 'loss');
  const model = grad(g.build(), { loss: 'loss', wrt: ['x', 'unused'] });
  const out = await (await session(model)).run({ x: f64([2], [1, 2]), unused: f64([3, 2], [1, 2, 3, 4, 5, 6]) });
  assert.deepEqual(out['grad/unused']!.dims, [3, 2]);
  assert.deepEqual(Array.from(out['grad/unused']!.data as Float64Array), [0, 0, 0, 0, 0, 0]);
});

test('stop-gradient: a value treated as constant blocks the path through it', async () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float64', [2]);
  const doubled = g.identity(g.mul(x, 2), 'doubled');
  // L = Σ doubled·x; stopping `doubled` leaves dL/dx = doubled = 2x (not 4x)
  g.output(g.reduceSum(g.mul(doubled, x), undefined, false), 'loss');
  const forward = g.build();
  const stopped = await (await session(grad(forward, { loss: 'loss', wrt: ['x'], stopGradient: ['doubled'] }))).run({
    x: f64([2], [1, 3]),
  });
  assert.deepEqual(Array.from(stopped['grad/x']!.data as Float64Array), [2, 6]);
  const full = await (await session(grad(forward, { loss: 'loss', wrt: ['x'] }))).run({ x: f64([2], [1, 3]) });
  assert.deepEqual(Array.from(full['grad/x']!.data as Float64Array), [4, 12]);
});

test('a missing rule fails naming the op type and the node', () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float64', [2]);
  const y = g.scope('block0', () => g.op('Softsign', [x])[0]!);
  g.output(g.reduceSum(y, undefined, false), 'loss');
  assert.throws(() => grad(g.build(), { loss: 'loss', wrt: ['x'] }), /no gradient rule for op type 'Softsign' \(node 'block0\/Softsign'\)/);
});

test('bad requests name what is wrong', () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float64', [2]);
  const ids = g.input('ids', 'int64', [2]);
  g.output(g.mul(x, 2), 'y');
  g.output(g.reduceSum(x, undefined, false), 'loss');
  const m = g.build();
  assert.throws(() => grad(m, { loss: 'nope', wrt: ['x'] }), /loss 'nope' is not a value/);
  assert.throws(() => grad(m, { loss: 'y', wrt: ['x'] }), /loss 'y' must be a scalar/);
  assert.throws(() => grad(m, { loss: 'loss', wrt: ['y'] }), /wrt 'y' is not a graph input or initializer/);
  assert.throws(() => grad(m, { loss: 'loss', wrt: [ids.name] }), /only float values have gradients/);
});

test('a hand-written ModelProto (not from the builder) with an initializer and no value_info is differentiated', async () => {
  // y = Gemm(x, W, b, transB=1); loss = ReduceMean(Tanh(y)²)  (opset 17, no shapes recorded for intermediates)
  const W = Float32Array.from([0.1, -0.2, 0.3, 0.4, 0.5, -0.6]);
  const model: ModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'foreign',
      node: [
        { name: '', opType: 'Gemm', input: ['x', 'W', 'b'], output: ['y'], attribute: [attr.int('transB', 1)] },
        { name: '', opType: 'Tanh', input: ['y'], output: ['t'], attribute: [] },
        { name: '', opType: 'Mul', input: ['t', 't'], output: ['t2'], attribute: [] },
        { name: '', opType: 'ReduceMean', input: ['t2'], output: ['loss'], attribute: [attr.int('keepdims', 0)] },
      ],
      initializer: [tensorProto('W', 'float32', [2, 3], W), tensorProto('b', 'float32', [2], Float32Array.from([0.05, -0.05]))],
      input: [{ name: 'x', type: { tensorType: { elemType: DataType.FLOAT, shape: [{ dimParam: 'n' }, { dimValue: 3 }] } } }],
      output: [{ name: 'loss', type: { tensorType: { elemType: DataType.FLOAT, shape: [] } } }],
      valueInfo: [],
    },
  };
  const trained = decodeModel(encodeModel(grad(model, { loss: 'loss', wrt: ['W', 'b'] })));
  assert.ok(
    trained.graph.node.some((n) => n.name === 'Gemm_0_Grad/Gemm'),
    'unnamed nodes get readable names',
  );
  const x = Float32Array.from([1, 2, 3, -1, 0, 1]);
  const out = await (await session(trained)).run({ x: new ort.Tensor('float32', x, [2, 3]) });
  // Reference in plain JS.
  const dW = new Float64Array(6);
  const db = new Float64Array(2);
  for (let r = 0; r < 2; r++) {
    for (let j = 0; j < 2; j++) {
      const y = [0, 1, 2].reduce((s, k) => s + x[r * 3 + k]! * W[j * 3 + k]!, j === 0 ? 0.05 : -0.05);
      const t = Math.tanh(y);
      const dy = ((2 * t) / 4) * (1 - t * t);
      db[j]! += dy;
      for (let k = 0; k < 3; k++) dW[j * 3 + k]! += dy * x[r * 3 + k]!;
    }
  }
  (out['grad/W']!.data as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - dW[i]!) < 1e-6, `dW[${i}] ${v} vs ${dW[i]}`));
  (out['grad/b']!.data as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - db[i]!) < 1e-6, `db[${i}] ${v} vs ${db[i]}`));
});

test('an opset-13 model (axes as attributes, Constant nodes) gets opset-13 gradient ops', async () => {
  // loss = ReduceMean_{axes=[0,1]}(Softmax(Reshape(x, const [2, 3])) · w)   (ReduceMean takes `axes` as an attribute before opset 18)
  const model: ModelProto = {
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'old',
      node: [
        {
          name: 'shape',
          opType: 'Constant',
          input: [],
          output: ['s'],
          attribute: [attr.tensor('value', tensorProto('v', 'int64', [2], BigInt64Array.from([2n, 3n])))],
        },
        { name: 'reshape', opType: 'Reshape', input: ['x', 's'], output: ['r'], attribute: [] },
        { name: 'softmax', opType: 'Softmax', input: ['r'], output: ['p'], attribute: [attr.int('axis', 1)] },
        { name: 'weigh', opType: 'Mul', input: ['p', 'w'], output: ['pw'], attribute: [] },
        {
          name: 'mean',
          opType: 'ReduceMean',
          input: ['pw'],
          output: ['loss'],
          attribute: [attr.ints('axes', [0, 1]), attr.int('keepdims', 0)],
        },
      ],
      initializer: [],
      input: [
        { name: 'x', type: { tensorType: { elemType: DataType.DOUBLE, shape: [{ dimValue: 6 }] } } },
        { name: 'w', type: { tensorType: { elemType: DataType.DOUBLE, shape: [{ dimValue: 3 }] } } },
      ],
      output: [{ name: 'loss', type: { tensorType: { elemType: DataType.DOUBLE, shape: [] } } }],
      valueInfo: [],
    },
  };
  const trained = grad(model, { loss: 'loss', wrt: ['x', 'w'] });
  assert.deepEqual(trained.opsetImport, [{ domain: '', version: 13 }]);
  const out = await (await session(trained)).run({ x: f64([6], [0, 0, 0, 1, 2, 3]), w: f64([3], [1, 2, 3]) });
  // Row 0 is uniform (p = 1/3): dL/dw_j = Σ_rows p_rj / 6
  const e = [1, Math.E, Math.E ** 2].map((v) => v / (1 + Math.E + Math.E ** 2));
  const dw = Array.from(out['grad/w']!.data as Float64Array);
  [0, 1, 2].forEach((j) => assert.ok(Math.abs(dw[j]! - (1 / 3 + e[j]!) / 6) < 1e-12, `dw[${j}]`));
  // Row 0: dL/dx_j = p_j (w_j − Σ_k p_k w_k) / 6 with p = 1/3
  const dx = Array.from(out['grad/x']!.data as Float64Array);
  [0, 1, 2].forEach((j) => assert.ok(Math.abs(dx[j]! - (j + 1 - 2) / 3 / 6) < 1e-12, `dx[${j}]`));
});

test('the README example: plain SGD on the gradient graph fits a small regression', async () => {
  const g = new GraphBuilder('regression');
  const x = g.input('x', 'float32', ['batch', 4]);
  const target = g.input('y', 'float32', ['batch', 1]);
  const err = g.sub(linear(g, g.relu(linear(g, x, 16, { name: 'fc1' })), 1, { name: 'fc2' }), target);
  g.output(g.reduceMean(g.mul(err, err), undefined, false), 'loss');
  const train = await session(grad(g.build(), { loss: 'loss', wrt: g.params.map((p) => p.name) }));
  const r = rng(3);
  const params = new Map(
    g.params.map((p) => [p.name, Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () => 0.5 * r.normal())]),
  );
  const xs = Float32Array.from({ length: 64 * 4 }, () => r.normal());
  const ys = Float32Array.from({ length: 64 }, (_, i) => Math.sin(xs[i * 4]!) + xs[i * 4 + 1]! * xs[i * 4 + 2]!);
  const losses: number[] = [];
  for (let step = 0; step < 60; step++) {
    const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', xs, [64, 4]), y: new ort.Tensor('float32', ys, [64, 1]) };
    for (const p of g.params) feeds[p.name] = new ort.Tensor('float32', params.get(p.name)!, p.shape);
    const out = await train.run(feeds);
    losses.push(Number(out.loss!.data[0]));
    for (const p of g.params) {
      const w = params.get(p.name)!;
      const dw = out[gradName(p.name)]!.data as Float32Array;
      for (let i = 0; i < w.length; i++) w[i]! -= 0.05 * dw[i]!;
    }
  }
  assert.ok(losses.at(-1)! < 0.5 * losses[0]!, `loss ${losses[0]} → ${losses.at(-1)}`);
});

test('only what the targets need is differentiated', () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float64', [2, 2]);
  const w = g.input('w', 'float64', [2, 2]);
  const side = g.exp(g.matmul(x, w));
  g.output(side, 'side');
  g.output(g.reduceSum(g.mul(w, w), undefined, false), 'loss');
  const model = grad(g.build(), { loss: 'loss', wrt: ['w'] });
  assert.ok(!model.graph.node.some((n) => n.name.startsWith('MatMul_Grad') || n.name.startsWith('Exp_Grad')));
});

test('a two-layer MLP with a shared weight matches finite differences', async () => {
  const r = await checkGradients({
    inputs: { x: [4, 3], w: [3, 3], b: [3] },
    build: (g, { x, w, b }) => g.tanh(g.matmul(g.tanh(g.add(g.matmul(x!, w!), b!)), w!)),
  });
  assert.ok(r.worst <= 1, r.detail);
});

test(
  'gradient checkpointing: blocks recomputed in their gradient scope ' +
    'give the same gradients, and their backward reads no block activation',
  async () => {
    const config = { ...QUICK_CONFIGS[0]!, layers: 3 };
    const plain = benchGraphs(config, 1);
    const checkpointed = benchGraphs(config, 1, { recompute: blockSegments(/^block\d+\//) });
    const train = checkpointed.train;
    // The backward reads a block's forward values only where they leave the block (its output, the next
    // block's input): everything inside is read from the recomputation.
    const segment = (name: string) => /^block\d+\//.exec(name)?.[0];
    const forward = plain.forward.graph.node;
    const producedIn = new Map(forward.flatMap((n) => n.output.map((o) => [o, segment(n.name)] as const)));
    const leaving = new Set(
      forward.flatMap((n) => n.input.filter((v) => producedIn.get(v) !== undefined && producedIn.get(v) !== segment(n.name))),
    );
    const inside = forward
      .filter((n) => segment(n.name))
      .flatMap((n) => n.output)
      .filter((v) => !leaving.has(v));
    const readByBackward = new Set(train.graph.node.filter((n) => /_Grad\//.test(n.name)).flatMap((n) => n.input));
    assert.deepEqual(
      inside.filter((v) => readByBackward.has(v)),
      [],
    );
    assert.ok(
      benchGraphs(config, 1).train.graph.node.some((n) => /_Grad\//.test(n.name) && n.input.some((v) => inside.includes(v))),
      'without checkpointing the backward does read them',
    );
    assert.ok(
      train.graph.node.some((n) => n.name.startsWith('block0_Recompute/')),
      'block 0 is recomputed',
    );

    const batch = batchFor(config).feeds;
    const run = async (model: ModelProto) => {
      const s = await createSession(encodeModel(model), { threads: 1, cache: false });
      try {
        return await s.run({ ...plain.store.feeds(), ...batch });
      } finally {
        await s.release();
      }
    };
    const [a, b] = [await run(plain.train), await run(train)];
    for (const p of plain.store.list()) {
      const { maxAbs, scale } = diffStats(b[gradName(p.name)]!.data as Float32Array, a[gradName(p.name)]!.data as Float32Array);
      assert.ok(maxAbs <= 1e-6 * Math.max(scale, 1e-3), `${p.name}: ${maxAbs} of ${scale}`);
    }
  },
);
