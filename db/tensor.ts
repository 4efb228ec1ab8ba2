// Typed blobs: a TypedArray stored as its raw bytes with dtype and shape, restored as the same TypedArray.
// Bytes are in the machine's order (little-endian on every platform Node ships for). A float32 tensor of
// rank >= 2 may be stored compactly (`encoding`), and is restored as float32 within the encoding's error:
//   f16z  IEEE half floats, deflated: relative error <= 2^-11 (values beyond ±65504 become ±Infinity)
//   q8z   per row of the first dim (a frame) its min and step ((max - min) / 255) as float32, then one byte
//         per value, deflated: absolute error <= step / 2
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { AnyTypedArray, Tensor, TensorDType } from '../contract/domain.ts';
import { invalid } from './errors.ts';

export type TensorEncoding = 'raw' | 'f16z' | 'q8z';
/** How a caller asks for compact storage of its large float tensors. */
export type CompactEncoding = 'float16' | 'q8';
const COMPACT: Record<CompactEncoding, TensorEncoding> = { float16: 'f16z', q8: 'q8z' };
// Latents are noise-like: deflate's search for repeated strings finds little in their bytes (q8 of random
// values: 31,146 bytes either way; of a noise-to-image blend 30,716 vs 29,303) and took most of the encode
// time, so only the byte frequencies are coded (2-3x faster). Any inflate reads either.
const HUFFMAN = { strategy: constants.Z_HUFFMAN_ONLY };

type TypedArrayCtor = { new (buffer: ArrayBuffer, byteOffset?: number, length?: number): AnyTypedArray; BYTES_PER_ELEMENT: number };

const CTORS: Record<TensorDType, TypedArrayCtor> = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int64: BigInt64Array,
};

export interface TensorBlob {
  dtype: TensorDType;
  /** JSON array of dims. */
  shape: string;
  data: Buffer;
  encoding: TensorEncoding;
}

export function isTensorDType(value: unknown): value is TensorDType {
  return typeof value === 'string' && Object.hasOwn(CTORS, value);
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** `compact`: store a float32 tensor of rank >= 2 in that encoding (others stay raw). */
export function encodeTensor(field: string, tensor: Tensor, compact?: CompactEncoding): TensorBlob {
  if (!isTensorDType(tensor.dtype)) throw invalid(`${field}.dtype`, `unknown dtype '${String(tensor.dtype)}'`);
  const ctor = CTORS[tensor.dtype];
  if (!(tensor.data instanceof ctor)) {
    throw invalid(`${field}.data`, `must be a ${ctor.name} for dtype ${tensor.dtype}, got ${tensor.data?.constructor?.name}`);
  }
  if (!Array.isArray(tensor.shape) || !tensor.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw invalid(`${field}.shape`, `must be an array of non-negative integers, got ${JSON.stringify(tensor.shape)}`);
  }
  const count = elementCount(tensor.shape);
  if (count !== tensor.data.length) {
    throw invalid(`${field}.shape`, `[${tensor.shape.join(', ')}] holds ${count} elements but data has ${tensor.data.length}`);
  }
  const shape = JSON.stringify(tensor.shape);
  if (compact && tensor.dtype === 'float32' && tensor.shape.length >= 2) {
    const values = tensor.data as Float32Array;
    const encoding = COMPACT[compact];
    // A tensor with non-finite values has no 8-bit range: it goes to half floats.
    const quantised = encoding === 'q8z' ? quantise(values, tensor.shape[0]!) : null;
    return { dtype: 'float32', shape, encoding: quantised ? 'q8z' : 'f16z', data: deflateRawSync(quantised ?? toHalf(values), HUFFMAN) };
  }
  const { buffer, byteOffset, byteLength } = tensor.data;
  // A copy: the caller may reuse its buffer after the insert.
  return { dtype: tensor.dtype, shape, encoding: 'raw', data: Buffer.from(new Uint8Array(buffer, byteOffset, byteLength)) };
}

export function decodeTensor(blob: TensorBlob): Tensor {
  const ctor = CTORS[blob.dtype];
  const shape = JSON.parse(blob.shape) as number[];
  const count = elementCount(shape);
  if (blob.encoding === 'f16z' || blob.encoding === 'q8z') {
    const bytes = inflateRawSync(blob.data);
    const data = blob.encoding === 'f16z' ? fromHalf(bytes, count) : dequantise(bytes, count, shape[0]!);
    if (!data) throw new Error(`stored tensor is corrupt: ${bytes.byteLength} bytes for ${blob.encoding} [${shape.join(', ')}]`);
    return { dtype: 'float32', shape, data };
  }
  if (blob.data.byteLength !== count * ctor.BYTES_PER_ELEMENT) {
    throw new Error(`stored tensor is corrupt: ${blob.data.byteLength} bytes for ${blob.dtype} [${shape.join(', ')}]`);
  }
  // Copy into a fresh, aligned buffer: SQLite's Buffer may start at any byte offset.
  const aligned = new ArrayBuffer(blob.data.byteLength);
  new Uint8Array(aligned).set(blob.data);
  return { dtype: blob.dtype, shape, data: new ctor(aligned, 0, count) } as Tensor;
}

function toHalf(values: Float32Array): Uint8Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = halfBits(values[i]!);
  return new Uint8Array(out.buffer);
}

function fromHalf(bytes: Buffer, count: number): Float32Array | null {
  if (bytes.byteLength !== count * 2) return null;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = halfValue(bytes.readUInt16LE(i * 2));
  return out;
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** float32 -> IEEE 754 half bits, rounded to nearest even (subnormals kept, overflow to Infinity, NaN kept). */
function halfBits(value: number): number {
  F32[0] = value;
  const x = U32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  e = half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0);
  return sign | e;
}

function halfValue(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Per row: float32 min and step, then a byte per value (round((v - min) / step)); null with a non-finite value. */
function quantise(values: Float32Array, rows: number): Uint8Array | null {
  const per = values.length / rows;
  const out = new Uint8Array(rows * 8 + values.length);
  const header = new Float32Array(out.buffer, 0, rows * 2);
  for (let r = 0; r < rows; r++) {
    const start = r * per,
      end = start + per;
    let min = Infinity;
    let max = -Infinity;
    for (let i = start; i < end; i++) {
      const v = values[i]!;
      if (Number.isNaN(v)) return null;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (min === -Infinity || max === Infinity) return null;
    const step = max > min ? (max - min) / 255 : 0;
    header[r * 2] = min;
    header[r * 2 + 1] = step;
    if (step > 0) for (let i = start, o = rows * 8 + start; i < end; i++, o++) out[o] = Math.round((values[i]! - min) / step);
  }
  return out;
}

function dequantise(bytes: Buffer, count: number, rows: number): Float32Array | null {
  if (bytes.byteLength !== rows * 8 + count) return null;
  const aligned = new Uint8Array(bytes);
  const header = new Float32Array(aligned.buffer, 0, rows * 2);
  const per = count / rows;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const r = Math.floor(i / per);
    out[i] = header[r * 2]! + aligned[rows * 8 + i]! * header[r * 2 + 1]!;
  }
  return out;
}
