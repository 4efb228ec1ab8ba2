// The corpus: standard PyTorch modules exported by torch.onnx.export (corpus/export.py, run once by a
// developer), differentiated by grad() and checked against torch's float64 autograd saved beside them.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GraphBuilder } from '../graph/builder.ts';
import { decodeModel, encodeModel } from '../onnx/proto.ts';
import { sharedInitializers } from '../onnx/shared.ts';
import { createSession, type Feed } from '../runtime/session.ts';
import { grad, gradName } from './grad.ts';

const DIR = fileURLToPath(new URL('./corpus/', import.meta.url));

interface Stored {
  dtype?: 'float32' | 'int64' | 'bool';
  shape: number[];
  b64: string;
  params?: string[];
}
interface Reference {
  inputs: Record<string, Stored>;
  weights: Record<string, Stored>;
  loss: number;
  grads: Record<string, Stored>;
}

function decode(s: Stored): Feed {
  const bytes = Buffer.from(s.b64, 'base64');
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const data = s.dtype === 'int64' ? new BigInt64Array(copy) : s.dtype === 'bool' ? new Uint8Array(copy) : new Float32Array(copy);
  return { data, shape: s.shape };
}

const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));

for (const file of readdirSync(DIR)
  .filter((f) => f.endsWith('.onnx'))
  .sort()) {
  const name = file.replace(/\.onnx$/, '');
  test(`${name} (torch export): every initializer's gradient is within 1e-4 of torch's`, async () => {
    const ref = JSON.parse(readFileSync(`${DIR}${name}.json`, 'utf8')) as Reference;
    const g = GraphBuilder.fromModel(decodeModel(readFileSync(`${DIR}${file}`)));
    // loss = Σ_outputs Σ y ⊙ W, the weights torch used.
    const terms = Object.entries(ref.weights).map(([out, w]) => {
      const { data } = decode(w) as { data: Float32Array };
      return g.reduceSum(g.mul(g.get(out), g.constant(data, 'float32', w.shape)), undefined, false);
    });
    g.output(g.sum(terms), 'loss');
    const wrt = Object.keys(ref.grads);
    const model = grad(g.build(), { loss: 'loss', wrt });
    const session = await createSession(encodeModel(model), { threads: 1, cache: false });
    try {
      const out = await session.run(Object.fromEntries(Object.entries(ref.inputs).map(([k, v]) => [k, decode(v)])));
      const loss = Number(out.loss!.data[0]);
      assert.ok(Math.abs(loss - ref.loss) <= 1e-4 * Math.abs(ref.loss), `loss: ours ${loss}, torch ${ref.loss}`);
      for (const w of wrt) {
        const ours = out[gradName(w)]!.data as Float32Array;
        const theirs = (decode(ref.grads[w]!) as { data: Float32Array }).data;
        assert.equal(ours.length, theirs.length, `${w}: size`);
        const scale = norm(theirs);
        assert.ok(scale > 0, `torch's gradient of ${w} is zero: the comparison would be vacuous`);
        const error = norm(Array.from(ours, (v, i) => v - theirs[i]!)) / scale;
        assert.ok(error <= 1e-4, `${w} (torch ${ref.grads[w]!.params!.join(' + ')}): relative error ${error.toExponential(2)}`);
      }
    } finally {
      await session.release();
    }
  });
}

test('merged initializers are reported: two fresh LayerNorms share one weight and one bias', () => {
  const model = decodeModel(readFileSync(`${DIR}embedding_layernorm.onnx`));
  assert.deepEqual(sharedInitializers(model), [
    { initializer: 'ln1.weight', aliases: ['ln2.weight'], scopes: ['/ln1', '/ln2'] },
    { initializer: 'ln1.bias', aliases: ['ln2.bias'], scopes: ['/ln1', '/ln2'] },
  ]);
  // torch's reference for the shared initializer is the sum over both parameters, and grad() matches it (above).
  const ref = JSON.parse(readFileSync(`${DIR}embedding_layernorm.json`, 'utf8')) as Reference;
  assert.deepEqual(ref.grads['ln1.weight']!.params, ['ln1.weight', 'ln2.weight']);
  assert.deepEqual(sharedInitializers(decodeModel(readFileSync(`${DIR}encoder_layer.onnx`))), []);
});
