import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../graph/builder.ts';
import { decodeModel, encodeModel } from '../onnx/proto.ts';
import { paramSpecsFromGraph } from '../runtime/fromGraph.ts';
import { ParamStore } from '../runtime/params.ts';
import { createSession } from '../runtime/session.ts';
import { bakeParams, exportOnnx } from './export.ts';

/** y[batch, 3] = tanh(x[batch, 4] @ w + b) */
function tinyModel(): GraphBuilder {
  const g = new GraphBuilder('tiny');
  const x = g.input('x', 'float32', ['batch', 4]);
  g.output(
    g.tanh(g.add(g.matmul(x, g.param('w', [4, 3], { kind: 'normal', std: 1 })), g.param('b', [3], { kind: 'normal', std: 1 }))),
    'y',
  );
  return g;
}

test('an exported model runs standalone and matches the model fed with the store', async () => {
  const g = tinyModel();
  const store = new ParamStore(paramSpecsFromGraph(g.params), { seed: 4 });
  const model = g.build();
  const x = new Float32Array([1, 2, 3, 4, -1, 0.5, 0, 2]);
  const fed = await createSession(encodeModel(model), { threads: 1, cache: false });
  const dir = mkdtempSync(join(tmpdir(), 'export-'));
  try {
    const path = join(dir, 'tiny.onnx');
    exportOnnx(path, model, store);
    const expected = (await fed.run({ x, ...store.feeds() }, { x: [2, 4] })).y!.data;
    store.flat.fill(0); // later training must not change the export
    const exported = decodeModel(readFileSync(path));
    assert.deepEqual(
      exported.graph.input.map((i) => i.name),
      ['x'],
    );
    assert.deepEqual(
      exported.graph.initializer
        .map((t) => t.name)
        .filter((n) => n === 'w' || n === 'b')
        .sort(),
      ['b', 'w'],
    );
    const standalone = await createSession(readFileSync(path), { threads: 1, cache: false });
    try {
      assert.deepEqual((await standalone.run({ x }, { x: [2, 4] })).y!.data, expected);
    } finally {
      await standalone.release();
    }
  } finally {
    await fed.release();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bakeParams rejects a store that does not fit the graph', () => {
  const model = tinyModel().build();
  assert.throws(
    () => bakeParams(model, new ParamStore([{ name: 'w', shape: [3, 4] }])),
    /parameter 'w' has shape \[3, 4\], graph input expects \[4, 3\]/,
  );
  assert.throws(
    () => bakeParams(model, new ParamStore([{ name: 'other', shape: [1] }])),
    /graph 'tiny' has no input named like a parameter/,
  );
});
