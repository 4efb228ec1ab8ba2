import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Tensor } from '../contract/domain.ts';
import { decodePng, encodePng } from './png.ts';
import { decodeTensor, encodeTensor } from './tensor.ts';

test('every dtype round-trips as the same TypedArray with its shape', () => {
  const tensors: Tensor[] = [
    { dtype: 'float32', shape: [2, 3], data: Float32Array.of(1.5, -2, 3e-8, Infinity, NaN, 0) },
    { dtype: 'float64', shape: [2], data: Float64Array.of(Math.PI, -1e300) },
    { dtype: 'int32', shape: [3], data: Int32Array.of(-1, 0, 2 ** 31 - 1) },
    { dtype: 'uint32', shape: [1], data: Uint32Array.of(2 ** 32 - 1) },
    { dtype: 'int16', shape: [2], data: Int16Array.of(-32768, 7) },
    { dtype: 'uint16', shape: [1, 1], data: Uint16Array.of(65535) },
    { dtype: 'int8', shape: [2], data: Int8Array.of(-128, 127) },
    { dtype: 'uint8', shape: [0, 4], data: new Uint8Array(0) },
    { dtype: 'int64', shape: [2], data: BigInt64Array.of(-(2n ** 62n), 5n) },
  ];
  for (const t of tensors) {
    const back = decodeTensor(encodeTensor('t', t));
    assert.equal(back.dtype, t.dtype);
    assert.deepEqual(back.shape, t.shape);
    assert.equal(back.data.constructor, t.data.constructor, t.dtype);
    assert.deepEqual(back.data, t.data, t.dtype);
  }
});

test('a view into a larger buffer stores only its own elements, as a copy', () => {
  const big = Float32Array.of(9, 1, 2, 3, 9);
  const blob = encodeTensor('t', { dtype: 'float32', shape: [3], data: big.subarray(1, 4) });
  big.fill(0);
  assert.deepEqual(decodeTensor(blob).data, Float32Array.of(1, 2, 3));
});

test('bad tensors are refused naming the field', () => {
  assert.throws(
    () => encodeTensor('traj.means', { dtype: 'float32', shape: [2, 2], data: new Float32Array(3) }),
    /traj\.means\.shape: \[2, 2\] holds 4 elements but data has 3/,
  );
  assert.throws(
    () => encodeTensor('traj.ids', { dtype: 'int32', shape: [2], data: new Float32Array(2) } as unknown as Tensor),
    /traj\.ids\.data: must be a Int32Array/,
  );
  assert.throws(
    () => encodeTensor('x', { dtype: 'float16', shape: [1], data: new Uint16Array(1) } as unknown as Tensor),
    /x\.dtype: unknown dtype 'float16'/,
  );
  assert.throws(() => encodeTensor('x', { dtype: 'uint8', shape: [-1], data: new Uint8Array(0) }), /x\.shape/);
});

test('a stored blob whose size does not match its shape is reported corrupt', () => {
  const blob = encodeTensor('t', { dtype: 'float32', shape: [2], data: Float32Array.of(1, 2) });
  assert.throws(() => decodeTensor({ ...blob, data: blob.data.subarray(0, 5) }), /corrupt: 5 bytes for float32 \[2\]/);
});

test('PNG round-trips RGB pixels exactly', () => {
  const w = 5,
    h = 3;
  const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256);
  const png = encodePng(rgb, w, h);
  assert.deepEqual([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
  const back = decodePng(png);
  assert.equal(back.width, w);
  assert.equal(back.height, h);
  assert.deepEqual(back.rgb, rgb);
});

test('PNG encoding refuses a buffer of the wrong size', () => {
  assert.throws(() => encodePng(new Uint8Array(10), 2, 2), /image\.rgb: must be a Uint8Array of 2x2x3 = 12 bytes, got 10/);
  assert.throws(() => encodePng(new Uint8Array(0), 0, 2), /image: size must be positive/);
});

test('compact encodings restore float32 within their stated error and take a fraction of the bytes', () => {
  // Latents of 11 frames in [-3, 3], as an SDE writes them.
  const data = Float32Array.from({ length: 11 * 3072 }, (_, i) => 3 * Math.sin(i * 0.37) * Math.cos(i * 0.011));
  const tensor: Tensor = { dtype: 'float32', shape: [11, 64, 48], data };
  const q8 = encodeTensor('t', tensor, 'q8');
  const f16 = encodeTensor('t', tensor, 'float16');
  assert.deepEqual([q8.encoding, f16.encoding], ['q8z', 'f16z']);
  const raw = data.byteLength;
  assert.ok(q8.data.byteLength < raw / 4, `q8: ${q8.data.byteLength} of ${raw} bytes`);
  assert.ok(f16.data.byteLength < raw / 2 + 64, `f16: ${f16.data.byteLength} of ${raw} bytes`);
  const q8Back = decodeTensor(q8).data as Float32Array;
  const f16Back = decodeTensor(f16).data as Float32Array;
  assert.deepEqual(decodeTensor(q8).shape, [11, 64, 48]);
  for (let i = 0; i < data.length; i++) {
    assert.ok(Math.abs(q8Back[i]! - data[i]!) <= 6 / 255 / 2 + 1e-6, `q8 value ${i}`);
    assert.ok(Math.abs(f16Back[i]! - data[i]!) <= Math.abs(data[i]!) * 2 ** -11 + 2 ** -24, `f16 value ${i}`);
  }
});

test('compact storage leaves small and integer tensors raw, and sends non-finite values to half floats', () => {
  assert.equal(encodeTensor('t', { dtype: 'float32', shape: [4], data: new Float32Array(4) }, 'q8').encoding, 'raw');
  assert.equal(encodeTensor('t', { dtype: 'int32', shape: [2, 2], data: new Int32Array(4) }, 'q8').encoding, 'raw');
  const odd = encodeTensor('t', { dtype: 'float32', shape: [2, 2], data: Float32Array.of(1, Infinity, -2, NaN) }, 'q8');
  assert.equal(odd.encoding, 'f16z');
  assert.deepEqual([...(decodeTensor(odd).data as Float32Array)], [1, Infinity, -2, NaN]);
  const flat = decodeTensor(encodeTensor('t', { dtype: 'float32', shape: [2, 2], data: Float32Array.of(5, 5, 1e-6, 70000) }, 'float16'));
  assert.deepEqual(
    [...(flat.data as Float32Array)].map((v) => (Number.isFinite(v) ? Number(v.toPrecision(3)) : v)),
    [5, 5, 1.01e-6, Infinity],
  );
});
