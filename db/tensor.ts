// Typed blobs: a TypedArray stored as its raw bytes with dtype and shape, restored as the same TypedArray.
// Bytes are in the machine's order (little-endian on every platform Node ships for).
import type { AnyTypedArray, Tensor, TensorDType } from '../contract/domain.ts';
import { invalid } from './errors.ts';

type TypedArrayCtor = { new (buffer: ArrayBuffer, byteOffset?: number, length?: number): AnyTypedArray; BYTES_PER_ELEMENT: number };

const CTORS: Record<TensorDType, TypedArrayCtor> = {
  float32: Float32Array, float64: Float64Array, int32: Int32Array, uint32: Uint32Array,
  int16: Int16Array, uint16: Uint16Array, int8: Int8Array, uint8: Uint8Array, int64: BigInt64Array,
};

export interface TensorBlob {
  dtype: TensorDType;
  /** JSON array of dims. */
  shape: string;
  data: Buffer;
}

export function isTensorDType(value: unknown): value is TensorDType {
  return typeof value === 'string' && Object.hasOwn(CTORS, value);
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

export function encodeTensor(field: string, tensor: Tensor): TensorBlob {
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
  const { buffer, byteOffset, byteLength } = tensor.data;
  // A copy: the caller may reuse its buffer after the insert.
  return { dtype: tensor.dtype, shape: JSON.stringify(tensor.shape), data: Buffer.from(new Uint8Array(buffer, byteOffset, byteLength)) };
}

export function decodeTensor(blob: TensorBlob): Tensor {
  const ctor = CTORS[blob.dtype];
  const shape = JSON.parse(blob.shape) as number[];
  const count = elementCount(shape);
  if (blob.data.byteLength !== count * ctor.BYTES_PER_ELEMENT) {
    throw new Error(`stored tensor is corrupt: ${blob.data.byteLength} bytes for ${blob.dtype} [${shape.join(', ')}]`);
  }
  // Copy into a fresh, aligned buffer: SQLite's Buffer may start at any byte offset.
  const aligned = new ArrayBuffer(blob.data.byteLength);
  new Uint8Array(aligned).set(blob.data);
  return { dtype: blob.dtype, shape, data: new ctor(aligned, 0, count) } as Tensor;
}
