import assert from 'node:assert/strict';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { decodeModel, encodeModel } from '../onnx/proto.ts';
import { GraphBuilder } from './builder.ts';

function tinyMlp(): GraphBuilder {
  const g = new GraphBuilder('mlp');
  const x = g.input('x', 'float32', ['batch', 4]);
  const y = g.scope('block0', () =>
    g.scope('fc', () => {
      const w = g.param('weight', [4, 3], { kind: 'normal', std: 0.02 });
      const b = g.param('bias', [3]);
      return g.relu(g.add(g.matmul(x, w), b));
    }),
  );
  g.output(g.reduceSum(y, [1], false), 'out');
  return g;
}

test('scopes name nodes and parameters readably; shapes follow broadcasting with symbolic dims', () => {
  const g = tinyMlp();
  assert.deepEqual(
    g.params.map((p) => p.name),
    ['block0/fc/weight', 'block0/fc/bias'],
  );
  assert.deepEqual(
    g.nodeList.map((n) => n.name),
    ['block0/fc/MatMul', 'block0/fc/Add', 'block0/fc/Relu', 'ReduceSum', 'out/Identity'],
  );
  assert.deepEqual(g.get('block0/fc/Add').shape, ['batch', 3]);
  assert.deepEqual(g.get('out').shape, ['batch']);
  const m = g.build();
  const relu = m.graph.valueInfo.find((v) => v.name === 'block0/fc/Relu');
  assert.deepEqual(relu?.type?.tensorType?.shape, [{ dimParam: 'batch' }, { dimValue: 3 }]);
  assert.deepEqual(
    m.graph.input.map((i) => i.name),
    ['x', 'block0/fc/weight', 'block0/fc/bias'],
  );
});

test('parameters are inputs by default and initializers when baked; ORT agrees with a hand computation', async () => {
  const g = tinyMlp();
  const w = new Float32Array([1, -1, 0, 0, 1, 0, 2, 0, 1, 0, 0, 1]);
  const b = new Float32Array([0, 0.5, -10]);
  const x = new ort.Tensor('float32', new Float32Array([1, 1, 1, 1, 0, 0, 1, 0]), [2, 4]);
  // row0: [1-0+2+0, -1+1+0+0, 0+0+1+1] + b = [3, 0.5, -8] -> relu sum 3.5; row1 = W[2] + b = [2, 0.5, -9] -> 2.5
  const fed = await ort.InferenceSession.create(encodeModel(g.build()), { intraOpNumThreads: 1 });
  const r1 = await fed.run({
    x,
    'block0/fc/weight': new ort.Tensor('float32', w, [4, 3]),
    'block0/fc/bias': new ort.Tensor('float32', b, [3]),
  });
  assert.deepEqual(Array.from(r1.out!.data as Float32Array), [3.5, 2.5]);
  const baked = g.build({ bake: { 'block0/fc/weight': w, 'block0/fc/bias': b } });
  assert.deepEqual(
    baked.graph.input.map((i) => i.name),
    ['x'],
  );
  const exported = await ort.InferenceSession.create(encodeModel(baked), { intraOpNumThreads: 1 });
  const r2 = await exported.run({ x });
  assert.deepEqual(Array.from(r2.out!.data as Float32Array), [3.5, 2.5]);
});

test('fromModel re-imports a built model with its types', () => {
  const m = tinyMlp().build();
  const g = GraphBuilder.fromModel(decodeModel(encodeModel(m)));
  assert.deepEqual(g.get('block0/fc/Relu').shape, ['batch', 3]);
  assert.deepEqual(g.outputNames, ['out']);
  assert.equal(encodeModel(g.build()).length > 0, true);
});

test('fromModel sorts nodes that are out of topological order, and names the missing input otherwise', () => {
  const m = tinyMlp().build();
  m.graph.node.reverse();
  const g = GraphBuilder.fromModel(m);
  assert.deepEqual(
    g.nodeList.map((n) => n.opType),
    ['MatMul', 'Add', 'Relu', 'ReduceSum', 'Identity'],
  );
  m.graph.node = m.graph.node.filter((n) => n.opType !== 'Add');
  assert.throws(() => GraphBuilder.fromModel(m), /Relu node 'block0\/fc\/Relu': inputs \[block0\/fc\/Add\] are never produced/);
});

test('bad graphs fail with the name of what is wrong', () => {
  const g = new GraphBuilder();
  const a = g.input('a', 'float32', [2, 3]);
  const b = g.input('b', 'float32', [4, 5]);
  assert.throws(() => g.matmul(a, b), /MatMul node 'MatMul': inner dimensions differ/);
  assert.throws(() => g.add(a, b), /cannot broadcast dimensions 2 and 4/);
  assert.throws(() => g.input('a', 'float32', [1]), /input 'a': name already used/);
  assert.throws(() => g.build({ bake: { nope: new Float32Array(1) } }), /cannot bake 'nope'/);
});

test(
  "torch's pad chain of constants folds to the pads " +
    '(ConstantOfShape → Concat → Reshape → ' +
    'Slice step −1 → Transpose → Reshape → Cast)',
  () => {
    const g = new GraphBuilder();
    const pads = g.concat([g.ints([1, 1, 2, 0]), g.constantOfShape(g.ints([4]), 0, 'int64')], 0); // torch's F.pad(x, (1, 1, 2, 0)) order
    const rows = g.reshape(pads, [-1, 2]);
    const reversed = g.slice(rows, [-1], [Number.MIN_SAFE_INTEGER], [0], [-1]);
    const onnxOrder = g.cast(g.reshape(g.transpose(reversed, [1, 0]), [-1]), 'int64');
    assert.deepEqual(g.constantValue(onnxOrder), [0, 0, 2, 1, 0, 0, 0, 1]);
    const x = g.input('x', 'float32', [2, 3, 4, 5]);
    assert.deepEqual(g.pad(x, onnxOrder).shape, [2, 3, 6, 7], 'shape inference reads the folded pads');
    // Only integer results are folded: a float scalar squeezed out of [0.5] is not recorded (as 0, or at all).
    assert.equal(g.constantValue(g.squeeze(g.constant([0.5], 'float32', [1]), [0])), undefined);
  },
);
