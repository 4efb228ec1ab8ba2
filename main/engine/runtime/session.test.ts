import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, encodeModel, type ValueInfoProto } from '../onnx/proto.ts';
import { availableProviders } from './providers.ts';
import { cachedSessionCount, createSession } from './session.ts';
import { ParamStore } from './params.ts';

const floatInput = (name: string, shape: (number | string)[]): ValueInfoProto => ({
  name,
  type: { tensorType: { elemType: DataType.FLOAT, shape: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } },
});

/** y[batch, 2] = x[batch, 3] @ w[3, 2] */
const matmulModel = encodeModel({
  irVersion: 10,
  opsetImport: [{ domain: '', version: 21 }],
  graph: {
    name: 'matmul',
    node: [{ name: 'mm', opType: 'MatMul', input: ['x', 'w'], output: ['y'], attribute: [] }],
    initializer: [],
    input: [floatInput('x', ['batch', 3]), floatInput('w', [3, 2])],
    output: [floatInput('y', ['batch', 2])],
    valueInfo: [],
  },
});

test('run feeds typed arrays, params and static-shape inputs zero-copy', async () => {
  const session = await createSession(matmulModel, { threads: 1, cache: false });
  try {
    assert.deepEqual(session.provider, { requested: 'cpu', used: 'cpu' });
    assert.deepEqual(session.inputNames, ['x', 'w']);
    const store = new ParamStore([{ name: 'w', shape: [3, 2], init: { kind: 'ones' } }]);
    const x = new Float32Array([1, 2, 3, 4, 5, 6]);
    const out = await session.run({ x, ...store.feeds() }, { x: [2, 3] });
    assert.deepEqual(out.y!.dims, [2, 2]);
    assert.deepEqual(out.y!.data, new Float32Array([6, 6, 15, 15]));
    // Weights change in place: the next run sees them without rebuilding anything.
    store.get('w').data.fill(2);
    const w = store.get('w').data;
    assert.deepEqual((await session.run({ x, w }, { x: [2, 3] })).y!.data, new Float32Array([12, 12, 30, 30]));
  } finally {
    await session.release();
  }
});

test('run rejects bad feeds with errors naming the input', async () => {
  const session = await createSession(matmulModel, { threads: 1, cache: false });
  try {
    const w = new Float32Array(6);
    const x = new Float32Array(6);
    await assert.rejects(session.run({ x: x }, { x: [2, 3] }), /missing feed for graph input 'w'/);
    await assert.rejects(session.run({ x, w, z: w }, { x: [2, 3] }), /'z' is not an input of the graph/);
    await assert.rejects(session.run({ x, w }), /input 'x' has dynamic shape \[batch, 3\]: pass its dims/);
    await assert.rejects(session.run({ x, w }, { x: [3, 3] }), /input 'x' has 6 values, shape \[3, 3\] needs 9/);
    await assert.rejects(session.run({ x, w }, { x: [3, 2] }), /input 'x' has shape \[3, 2\], the graph expects \[batch, 3\]/);
    await assert.rejects(
      session.run({ x: new Float64Array(6), w }, { x: [2, 3] }),
      /input 'x' is float32 in the graph but was fed a Float64Array/,
    );
  } finally {
    await session.release();
  }
});

test('an unavailable provider falls back to cpu and says why', async () => {
  const session = await createSession(matmulModel, { provider: 'cuda', threads: 1, cache: false });
  try {
    assert.equal(session.provider.requested, 'cuda');
    assert.equal(session.provider.used, 'cpu');
    assert.match(session.provider.reason ?? '', /\S/);
    const out = await session.run({ x: new Float32Array(3).fill(1), w: new Float32Array(6).fill(1) }, { x: [1, 3] });
    assert.deepEqual(out.y!.data, new Float32Array([3, 3]));
  } finally {
    await session.release();
  }
  await assert.rejects(createSession(matmulModel, { provider: 'tpu' as 'cpu' }), /unknown execution provider 'tpu'/);
  assert.ok(availableProviders().some((p) => p.name === 'cpu' && p.bundled));
});

test('the session cache shares one session per model and options, freed by the last holder', async () => {
  const before = cachedSessionCount();
  const a = await createSession(matmulModel, { threads: 1 });
  const b = await createSession(matmulModel, { threads: 1 });
  const c = await createSession(matmulModel, { threads: 1, graphOptimization: 'basic' });
  assert.equal(cachedSessionCount(), before + 2, 'a and b share one native session, c has its own');
  await a.release();
  await a.release(); // a second release of the same handle does not drop b's claim
  await c.release();
  assert.equal(cachedSessionCount(), before + 1, 'b still holds the shared session');
  const out = await b.run({ x: new Float32Array(3), w: new Float32Array(6) }, { x: [1, 3] });
  assert.deepEqual(out.y!.dims, [1, 2]);
  await assert.rejects(a.run({ x: new Float32Array(3), w: new Float32Array(6) }, { x: [1, 3] }), /session was released/);
  await b.release();
  assert.equal(cachedSessionCount(), before);
});
