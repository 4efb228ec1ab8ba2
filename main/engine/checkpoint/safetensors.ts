import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { endianness } from 'node:os';
import { writeFileAtomic } from './atomic.ts';

/**
 * safetensors (huggingface/safetensors): 8-byte little-endian header length N, N bytes of JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: { string: string } }`
 * (padded with spaces so the data starts 8-byte aligned), then the raw little-endian tensor bytes;
 * offsets are relative to the start of the data section, and tensors tile it without gaps or overlaps.
 */

type ElementArray =
  | Float64Array
  | Float32Array
  | Uint16Array
  | Int16Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int8Array
  | Uint8Array;

interface ElementArrayConstructor {
  readonly BYTES_PER_ELEMENT: number;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): ElementArray;
}

/** dtype → array type. F16/BF16 travel as raw Uint16 bit patterns, BOOL as one byte per value. */
const ARRAY_OF = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  U64: BigUint64Array,
  I32: Int32Array,
  U32: Uint32Array,
  I16: Int16Array,
  U16: Uint16Array,
  I8: Int8Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
} as const satisfies Record<string, ElementArrayConstructor>;

export type SafetensorsDtype = keyof typeof ARRAY_OF;

export interface SafeTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: ElementArray;
}

/** A tensor to write; dtype defaults from the array type (Uint16Array → U16: say F16/BF16 explicitly). */
export interface SafeTensorInput {
  dtype?: SafetensorsDtype;
  shape: readonly number[];
  data: ElementArray;
}

export interface SafetensorsContents {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

const HEADER_ALIGNMENT = 8;
/** The reference implementation refuses headers above 100 MB; so do we (a corrupt length would otherwise allocate GBs). */
const MAX_HEADER_BYTES = 100_000_000;

/** Serialises tensors (in the given order) as chunks: header, then each tensor's bytes (zero-copy views). */
export function encodeSafetensors(
  tensors: Iterable<readonly [string, SafeTensorInput]>,
  metadata: Record<string, string> = {},
): Uint8Array[] {
  assertLittleEndianHost();
  const header: Record<string, unknown> = {};
  const bodies: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of tensors) {
    if (name === '__metadata__') throw new Error(`safetensors: '__metadata__' is reserved and cannot name a tensor`);
    if (Object.hasOwn(header, name)) throw new Error(`safetensors: duplicate tensor '${name}'`);
    const dtype = tensor.dtype ?? dtypeOfArray(tensor.data, name);
    if (!(tensor.data instanceof ARRAY_OF[dtype])) {
      throw new Error(`safetensors: tensor '${name}' is declared ${dtype} but holds a ${tensor.data.constructor.name}`);
    }
    const count = checkedElementCount(tensor.shape, `tensor '${name}'`);
    if (count !== tensor.data.length) {
      throw new Error(`safetensors: tensor '${name}' has ${tensor.data.length} values, shape [${tensor.shape.join(', ')}] needs ${count}`);
    }
    const bytes = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    header[name] = { dtype, shape: [...tensor.shape], data_offsets: [offset, offset + bytes.byteLength] };
    bodies.push(bytes);
    offset += bytes.byteLength;
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new Error(`safetensors: metadata '${key}' must be a string, got ${typeof value}`);
  }
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const json = JSON.stringify(header);
  const jsonLength = new TextEncoder().encode(json).byteLength;
  const padding = (HEADER_ALIGNMENT - ((8 + jsonLength) % HEADER_ALIGNMENT)) % HEADER_ALIGNMENT;
  const headerBytes = new TextEncoder().encode(json + ' '.repeat(padding));
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  return [prefix, headerBytes, ...bodies];
}

/**
 * Parses and validates a safetensors buffer. Every problem (truncation, bad JSON, unknown dtype,
 * offsets that do not match the shape, gaps/overlaps) throws an Error naming `source` and the tensor.
 * Tensor data is copied into fresh, aligned arrays.
 */
export function decodeSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsContents {
  assertLittleEndianHost();
  const fail = failWith(source);
  const dataStart = 8 + headerLengthOf(bytes, bytes.byteLength, fail);
  const { header, metadata } = parseHeader(bytes.subarray(8, dataStart), fail);

  const dataLength = bytes.byteLength - dataStart;
  const spans: { name: string; begin: number; end: number }[] = [];
  const tensors = new Map<string, SafeTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const where = `tensor '${name}'`;
    if (!isPlainObject(entry)) return fail(`${where}: header entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string' || !(dtype in ARRAY_OF)) fail(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape)) return fail(`${where}: shape is not an array`);
    let count: number;
    try {
      count = checkedElementCount(shape, where);
    } catch (error) {
      return fail((error as Error).message);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[1] < offsets[0]
    ) {
      return fail(`${where}: data_offsets ${JSON.stringify(offsets)} are not [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offsets as [number, number];
    const Array_ = ARRAY_OF[dtype as SafetensorsDtype];
    const needed = count * Array_.BYTES_PER_ELEMENT;
    if (end - begin !== needed) {
      fail(`${where}: data_offsets span ${end - begin} bytes, shape [${shape.join(', ')}] of ${dtype} needs ${needed}`);
    }
    if (end > dataLength) fail(`truncated: ${where} ends at data byte ${end}, but the data section has only ${dataLength} bytes`);
    spans.push({ name, begin, end });
    // new Uint8Array(view) copies into a fresh, aligned buffer (Buffer#slice would alias the file buffer).
    const copy = new Uint8Array(bytes.subarray(dataStart + begin, dataStart + end));
    tensors.set(name, { dtype: dtype as SafetensorsDtype, shape: shape as number[], data: new Array_(copy.buffer, 0, count) });
  }

  // Tensors must tile the data section exactly: no overlaps (aliasing), no holes, no trailing bytes.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const span of spans) {
    if (span.begin !== cursor) {
      fail(
        span.begin < cursor
          ? `corrupt: tensor '${span.name}' overlaps the previous tensor`
          : `corrupt: ${span.begin - cursor} unreferenced bytes before tensor '${span.name}'`,
      );
    }
    cursor = span.end;
  }
  if (cursor !== dataLength) fail(`corrupt: ${dataLength - cursor} trailing bytes after the last tensor`);
  return { tensors, metadata };
}

/** Writes a safetensors file atomically (see writeFileAtomic). */
export function writeSafetensors(
  path: string,
  tensors: Iterable<readonly [string, SafeTensorInput]>,
  metadata: Record<string, string> = {},
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Reads and validates a safetensors file; errors name the file. */
export function readSafetensors(path: string): SafetensorsContents {
  mustExist(path);
  return decodeSafetensors(readFileSync(path), path);
}

/** Reads only the header of a safetensors file (never the tensor bytes) and returns its metadata; errors name the file. */
export function readSafetensorsMetadata(path: string): Record<string, string> {
  mustExist(path);
  const fail = failWith(path);
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const prefix = new Uint8Array(Math.min(8, size));
    readFully(fd, prefix, 0, fail);
    const headerBytes = new Uint8Array(headerLengthOf(prefix, size, fail));
    readFully(fd, headerBytes, 8, fail);
    return parseHeader(headerBytes, fail).metadata;
  } finally {
    closeSync(fd);
  }
}

function readFully(fd: number, into: Uint8Array, position: number, fail: Fail): void {
  for (let done = 0; done < into.byteLength; ) {
    const n = readSync(fd, into, done, into.byteLength - done, position + done);
    if (n === 0) fail(`truncated: the file ends at byte ${position + done}`);
    done += n;
  }
}

type Fail = (message: string) => never;

function mustExist(path: string): void {
  const fail: Fail = failWith(path);
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) fail('no such file');
  if (!stat.isFile()) fail('not a file');
}

function failWith(source: string): Fail {
  return (message) => {
    throw new Error(`${source}: ${message}`);
  };
}

/** The header length N from the first 8 bytes, checked against the limit and the `total` bytes available. */
function headerLengthOf(prefix: Uint8Array, total: number, fail: Fail): number {
  if (prefix.byteLength < 8) fail(`truncated: ${total} bytes, too short for the 8-byte header length`);
  const headerLength = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) fail(`corrupt: header length ${headerLength} exceeds ${MAX_HEADER_BYTES} bytes`);
  if (8 + Number(headerLength) > total)
    fail(`truncated: header claims ${headerLength} bytes but the file has ${total - 8} after the length`);
  return Number(headerLength);
}

/** The header JSON object and its string metadata. */
function parseHeader(headerBytes: Uint8Array, fail: Fail): { header: Record<string, unknown>; metadata: Record<string, string> } {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (error) {
    fail(`corrupt header (not UTF-8 JSON): ${(error as Error).message}`);
  }
  if (!isPlainObject(header)) return fail('corrupt header: not a JSON object');
  const metadata: Record<string, string> = {};
  const rawMetadata = header.__metadata__;
  if (rawMetadata !== undefined) {
    if (!isPlainObject(rawMetadata)) fail('corrupt header: __metadata__ is not an object');
    for (const [key, value] of Object.entries(rawMetadata as Record<string, unknown>)) {
      if (typeof value !== 'string') fail(`corrupt header: metadata '${key}' is not a string`);
      metadata[key] = value as string;
    }
  }
  return { header, metadata };
}

function dtypeOfArray(data: ElementArray, name: string): SafetensorsDtype {
  for (const dtype of ['F64', 'F32', 'I64', 'U64', 'I32', 'U32', 'I16', 'U16', 'I8', 'U8'] as const) {
    if (data instanceof ARRAY_OF[dtype]) return dtype;
  }
  throw new Error(`safetensors: cannot infer the dtype of tensor '${name}' from a ${data.constructor.name}`);
}

function checkedElementCount(shape: readonly unknown[], where: string): number {
  let count = 1;
  for (const dim of shape) {
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 0)
      throw new Error(`${where}: invalid shape ${JSON.stringify(shape)}`);
    count *= dim;
  }
  return count;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function assertLittleEndianHost(): void {
  if (endianness() !== 'LE') throw new Error('safetensors: big-endian hosts are not supported');
}
