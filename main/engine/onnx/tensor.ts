// Element types and conversions between typed arrays and TensorProto.
import { DataType, type TensorProto } from './proto.ts';

/** Element types the engine works with. float16 values travel as raw Uint16 bit patterns. */
export type DType = 'float32' | 'float64' | 'float16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

export type TypedArrayOf<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'float16'
      ? Uint16Array
      : D extends 'int64'
        ? BigInt64Array
        : D extends 'int32'
          ? Int32Array
          : D extends 'int8'
            ? Int8Array
            : Uint8Array;

export type AnyTypedArray = Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

const CODES: Record<DType, number> = {
  float32: DataType.FLOAT,
  float64: DataType.DOUBLE,
  float16: DataType.FLOAT16,
  int64: DataType.INT64,
  int32: DataType.INT32,
  int8: DataType.INT8,
  uint8: DataType.UINT8,
  bool: DataType.BOOL,
};

const ARRAYS = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
} as const;

export function dtypeToOnnx(dtype: DType): number {
  return CODES[dtype];
}

export function onnxToDtype(code: number): DType {
  for (const [d, c] of Object.entries(CODES)) if (c === code) return d as DType;
  throw new Error(`unsupported ONNX element type ${code}`);
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16';
}

export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** A TensorProto holding `data` as raw_data (zero-copy view of the array's bytes). */
export function tensorProto(name: string, dtype: DType, dims: readonly number[], data: AnyTypedArray): TensorProto {
  if (data.length !== numel(dims)) {
    throw new Error(`tensor '${name}': ${data.length} values do not fill shape [${dims.join(', ')}]`);
  }
  if (!(data instanceof ARRAYS[dtype]))
    throw new Error(`tensor '${name}': data is ${data.constructor.name}, expected ${ARRAYS[dtype].name} for ${dtype}`);
  return {
    name,
    dataType: CODES[dtype],
    dims: [...dims],
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

/** Makes a typed array of `dtype` from plain numbers (bool: nonzero = true). */
export function typedArray(dtype: DType, values: ArrayLike<number> | readonly number[]): AnyTypedArray {
  if (dtype === 'int64') return BigInt64Array.from(Array.from(values, (v) => BigInt(Math.trunc(v))));
  if (dtype === 'bool') return Uint8Array.from(Array.from(values, (v) => (v ? 1 : 0)));
  if (dtype === 'float16') throw new Error('typedArray: float16 constants are not supported; build float32 and Cast');
  return (ARRAYS[dtype] as unknown as { from(v: ArrayLike<number>): AnyTypedArray }).from(values);
}

/** Reads a TensorProto's values (raw_data or the typed fields) into a fresh typed array. */
export function tensorValues(t: TensorProto): AnyTypedArray {
  const dtype = onnxToDtype(t.dataType);
  const n = numel(t.dims);
  const Ctor = ARRAYS[dtype];
  if (t.rawData) {
    const bytes = Ctor.BYTES_PER_ELEMENT * n;
    if (t.rawData.byteLength !== bytes) {
      throw new Error(
        `tensor '${t.name}': raw_data has ${t.rawData.byteLength} bytes, shape [${t.dims.join(', ')}] of ${dtype} needs ${bytes}`,
      );
    }
    // An aligned copy. (Buffer.prototype.slice shares memory, so never .slice() bytes that may be a Buffer.)
    const copy = new Uint8Array(t.rawData);
    return new Ctor(copy.buffer, 0, n);
  }
  const source: ArrayLike<number | bigint> =
    dtype === 'float32'
      ? (t.floatData ?? [])
      : dtype === 'float64'
        ? (t.doubleData ?? [])
        : dtype === 'int64'
          ? (t.int64Data ?? [])
          : (t.int32Data ?? []);
  if (source.length !== n) throw new Error(`tensor '${t.name}': has ${source.length} values, shape [${t.dims.join(', ')}] needs ${n}`);
  if (dtype === 'int64') return BigInt64Array.from(source as ArrayLike<bigint>);
  return (Ctor as unknown as { from(v: ArrayLike<number>): AnyTypedArray }).from(source as ArrayLike<number>);
}

/** Plain numbers of a (small) tensor, e.g. shapes and axes. */
export function tensorNumbers(t: TensorProto): number[] {
  return Array.from(tensorValues(t) as ArrayLike<number | bigint>, Number);
}
