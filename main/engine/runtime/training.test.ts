import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad } from '../autodiff/grad.ts';
import { GraphBuilder } from '../graph/builder.ts';
import { encodeModel } from '../onnx/proto.ts';
import { AdamW } from '../optim/adamw.ts';
import { paramSpecsFromGraph } from './fromGraph.ts';
import { ParamStore } from './params.ts';
import { Rng } from './rng.ts';
import { createSession } from './session.ts';
import { TrainingSession } from './training.ts';

/** loss = mean((x[batch, 4] @ w[4, 2] + b[2] - y)²) */
function regressionModel(): GraphBuilder {
  const g = new GraphBuilder('regression');
  const x = g.input('x', 'float32', ['batch', 4]);
  const y = g.input('y', 'float32', ['batch', 2]);
  const pred = g.scope('fc', () => g.add(g.matmul(x, g.param('w', [4, 2], { kind: 'normal', std: 0.1 })), g.param('b', [2])));
  const err = g.sub(pred, y);
  g.output(g.reduceMean(g.mul(err, err), [0, 1], false), 'loss');
  return g;
}

function regressionBatch(): { x: Float32Array; y: Float32Array } {
  const rng = new Rng(11);
  const trueW = [0.5, -1, 2, 0.3, -0.7, 1.5, 0.1, -0.2];
  const x = rng.fillNormal(new Float32Array(16 * 4));
  const y = new Float32Array(16 * 2);
  for (let r = 0; r < 16; r++) {
    for (let c = 0; c < 2; c++) {
      let sum = c === 0 ? 0.25 : -0.5;
      for (let k = 0; k < 4; k++) sum += x[r * 4 + k]! * trueW[k * 2 + c]!;
      y[r * 2 + c] = sum;
    }
  }
  return { x, y };
}

test('a few AdamW steps through builder + grad + ORT decrease a regression loss', async () => {
  const g = regressionModel();
  const store = new ParamStore(paramSpecsFromGraph(g.params), { seed: 1 });
  const model = grad(g.build(), { loss: 'loss', wrt: store.list().map((p) => p.name) });
  const session = await createSession(encodeModel(model), { threads: 1, cache: false });
  try {
    const trainer = new TrainingSession(session, store, new AdamW(store, { lr: 0.05, weightDecay: 0 }), { maxGradNorm: 10 });
    const { x, y } = regressionBatch();
    const losses: number[] = [];
    for (let i = 0; i < 30; i++) losses.push((await trainer.step({ x, y }, { x: [16, 4], y: [16, 2] })).loss);
    assert.ok(losses.every(Number.isFinite));
    assert.ok(losses[29]! < 0.25 * losses[0]!, `loss went ${losses[0]} -> ${losses[29]}`);
    for (let i = 1; i < 10; i++) assert.ok(losses[i]! < losses[i - 1]!, `loss rose at step ${i}: ${losses.slice(0, 10).join(', ')}`);
    assert.ok(
      trainer.gradOf('fc/w').some((v) => v !== 0),
      'gradients land in the persistent buffer',
    );
  } finally {
    await session.release();
  }
});

test('the gradient ORT writes matches the closed form, and frozen parameters neither need nor get updates', async () => {
  const g = regressionModel();
  const store = new ParamStore(paramSpecsFromGraph(g.params), { seed: 2 });
  store.setFrozen('fc/w');
  const model = grad(g.build(), { loss: 'loss', wrt: ['fc/b'] });
  const session = await createSession(encodeModel(model), { threads: 1, cache: false });
  try {
    const frozenBefore = store.get('fc/w').data.slice();
    const trainer = new TrainingSession(session, store, new AdamW(store, { lr: 0.01 }));
    const x = new Float32Array(4); // zero input: pred = b, so dL/db = 2·(b − y)/2 per output column
    const y = new Float32Array([1, -3]);
    const b = store.get('fc/b').data.slice();
    await trainer.step({ x, y }, { x: [1, 4], y: [1, 2] });
    assert.deepEqual(
      Array.from(trainer.gradOf('fc/b'), (v) => Math.round(v * 1e5) / 1e5),
      [b[0]! - 1, b[1]! + 3],
    );
    assert.deepEqual(store.get('fc/w').data, frozenBefore);
    store.setFrozen('fc/w', false);
    await assert.rejects(
      trainer.step({ x, y }, { x: [1, 4], y: [1, 2] }),
      /no gradient output 'grad\/fc\/w' for trainable parameter 'fc\/w'/,
    );
  } finally {
    await session.release();
  }
});

test('computeGradients returns the loss and fills the gradients without touching the parameters or the optimizer', async () => {
  const g = regressionModel();
  const store = new ParamStore(paramSpecsFromGraph(g.params), { seed: 3 });
  const session = await createSession(encodeModel(grad(g.build(), { loss: 'loss', wrt: ['fc/w', 'fc/b'] })), { threads: 1, cache: false });
  try {
    const optimizer = new AdamW(store, { lr: 0.05 });
    const trainer = new TrainingSession(session, store, optimizer);
    const { x, y } = regressionBatch();
    const shapes = { x: [16, 4], y: [16, 2] };
    const before = store.flat.slice();
    const loss = await trainer.computeGradients({ x, y }, shapes);
    const grads = trainer.gradFlat.slice();
    assert.deepEqual(store.flat, before);
    assert.equal(optimizer.steps, 0);
    assert.ok(grads.some((v) => v !== 0));
    // A step from the same parameters sees the same loss and gradients, then moves the parameters.
    const step = await trainer.step({ x, y }, shapes);
    assert.equal(step.loss, loss);
    assert.deepEqual(trainer.gradFlat, grads);
    assert.notDeepEqual(store.flat, before);
  } finally {
    await session.release();
  }
});
