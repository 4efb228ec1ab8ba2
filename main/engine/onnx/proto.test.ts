import assert from 'node:assert/strict';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { attr } from './attrs.ts';
import { DataType, decodeModel, encodeModel, type ModelProto } from './proto.ts';
import { tensorProto, tensorValues } from './tensor.ts';

function sampleModel(): ModelProto {
  return {
    irVersion: 10,
    opsetImport: [{ domain: '', version: 21 }],
    producerName: 'test',
    graph: {
      name: 'g',
      node: [
        { name: 'mm', opType: 'MatMul', input: ['x', 'w'], output: ['y'], attribute: [] },
        { name: 'add', opType: 'Add', input: ['y', 'b'], output: ['z'], attribute: [] },
        { name: 'sm', opType: 'Softmax', input: ['z'], output: ['p'], attribute: [attr.int('axis', -1)] },
        { name: 'sum', opType: 'ReduceSum', input: ['p', 'axes'], output: ['s'], attribute: [attr.int('keepdims', 0)] },
      ],
      initializer: [
        tensorProto('w', 'float32', [3, 2], new Float32Array([1, 2, 3, 4, 5, -6])),
        { name: 'b', dataType: DataType.FLOAT, dims: [2], floatData: [0.5, -0.25] },
        { name: 'axes', dataType: DataType.INT64, dims: [1], int64Data: [-1n] },
      ],
      input: [{ name: 'x', type: { tensorType: { elemType: DataType.FLOAT, shape: [{ dimParam: 'batch' }, { dimValue: 3 }] } } }],
      output: [
        { name: 'p', type: { tensorType: { elemType: DataType.FLOAT, shape: [{ dimParam: 'batch' }, { dimValue: 2 }] } } },
        { name: 's', type: { tensorType: { elemType: DataType.FLOAT } } },
      ],
      valueInfo: [{ name: 'y', type: { tensorType: { elemType: DataType.FLOAT, shape: [{}, { dimValue: 2 }] } } }],
    },
    metadataProps: [{ key: 'preset', value: 'tiny' }],
  };
}

test('encode → decode round-trips every field the engine uses', () => {
  const m = sampleModel();
  const back = decodeModel(encodeModel(m));
  assert.equal(back.irVersion, 10);
  assert.deepEqual(back.opsetImport, [{ domain: '', version: 21 }]);
  assert.deepEqual(back.metadataProps, [{ key: 'preset', value: 'tiny' }]);
  assert.deepEqual(back.graph.node, m.graph.node);
  assert.deepEqual(back.graph.input, m.graph.input);
  assert.deepEqual(back.graph.output, m.graph.output);
  assert.deepEqual(back.graph.valueInfo, m.graph.valueInfo);
  assert.deepEqual(Array.from(tensorValues(back.graph.initializer[0]!) as Float32Array), [1, 2, 3, 4, 5, -6]);
  assert.deepEqual(back.graph.initializer[1]!.floatData, [0.5, -0.25]);
  assert.deepEqual(back.graph.initializer[2]!.int64Data, [-1n]);
  // Encoding is deterministic: the decoded model re-encodes to the same bytes.
  assert.deepEqual(encodeModel(back), encodeModel(m));
});

test('negative and large int64 attributes survive', () => {
  const m = sampleModel();
  m.graph.node[0]!.attribute.push(attr.ints('big', [-1, 2 ** 40, -(2 ** 40)]), attr.float('f', 0.125), attr.string('s', 'héllo'));
  const back = decodeModel(encodeModel(m));
  assert.deepEqual(back.graph.node[0]!.attribute, m.graph.node[0]!.attribute);
});

test('onnxruntime accepts the encoded model and computes the right values', async () => {
  const session = await ort.InferenceSession.create(encodeModel(sampleModel()), { intraOpNumThreads: 1 });
  const x = new ort.Tensor('float32', new Float32Array([1, 0, 0, 0, 1, 1]), [2, 3]);
  const { p, s } = await session.run({ x });
  // row 0: [1,2] + b = [1.5, 1.75]; row 1: [3+5, 4-6] + b = [8.5, -2.25]
  const softmax = (a: number, b: number) => [Math.exp(a) / (Math.exp(a) + Math.exp(b)), Math.exp(b) / (Math.exp(a) + Math.exp(b))];
  const expected = [...softmax(1.5, 1.75), ...softmax(8.5, -2.25)];
  (p!.data as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-6));
  (s!.data as Float32Array).forEach((v) => assert.ok(Math.abs(v - 1) < 1e-6));
});

test('corrupt input gives a clear error', () => {
  const bytes = encodeModel(sampleModel());
  assert.throws(() => decodeModel(bytes.subarray(0, bytes.length - 7)), /ONNX decode error in ModelProto.*(runs past|truncated)/);
  assert.throws(() => decodeModel(new TextEncoder().encode('definitely not onnx, just text')), /ONNX decode error/);
  assert.throws(() => decodeModel(new Uint8Array(0)), /no graph/);
});

test('initializer values survive decoding from a Node Buffer (as read from disk)', () => {
  const values = new Float32Array([1.5, -2, 3.25]);
  const model: ModelProto = {
    irVersion: 10,
    opsetImport: [{ domain: '', version: 21 }],
    graph: { name: 'g', node: [], initializer: [tensorProto('w', 'float32', [3], values)], input: [], output: [], valueInfo: [] },
  } as unknown as ModelProto;
  const fromDisk = Buffer.from(encodeModel(model)); // readFileSync returns a pooled Buffer like this
  const decoded = decodeModel(fromDisk);
  assert.deepEqual(Array.from(tensorValues(decoded.graph.initializer[0]!) as Float32Array), [1.5, -2, 3.25]);
});
