import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, readSafetensors, readSafetensorsMetadata, writeSafetensors } from './safetensors.ts';
import { writeFileAtomic } from './atomic.ts';

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** A file with a hand-written header, to build corrupt cases the writer would never produce. */
function rawFile(header: unknown, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  return out;
}

const sample = (): [string, { dtype?: 'F16'; shape: number[]; data: Float32Array | BigInt64Array | Uint8Array | Uint16Array }][] => [
  ['w', { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, -6.5]) }],
  ['ids', { shape: [3], data: new BigInt64Array([1n, -2n, 3n]) }],
  ['mask', { shape: [1], data: new Uint8Array([7]) }],
  ['half', { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0xc000]) }],
];

test('safetensors round trip keeps names, dtypes, shapes, values and metadata', () => {
  const bytes = concat(encodeSafetensors(sample(), { preset: 'tiny', step: '12' }));
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLength) % 8, 0, 'data section is 8-byte aligned');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  assert.deepEqual(header.w, { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
  assert.deepEqual(header.__metadata__, { preset: 'tiny', step: '12' });
  const { tensors, metadata } = decodeSafetensors(bytes);
  assert.deepEqual(metadata, { preset: 'tiny', step: '12' });
  assert.deepEqual([...tensors.keys()], ['w', 'ids', 'mask', 'half']);
  assert.deepEqual(tensors.get('w'), { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, -6.5]) });
  assert.deepEqual(tensors.get('ids'), { dtype: 'I64', shape: [3], data: new BigInt64Array([1n, -2n, 3n]) });
  assert.deepEqual(tensors.get('mask'), { dtype: 'U8', shape: [1], data: new Uint8Array([7]) });
  assert.deepEqual(tensors.get('half'), { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0xc000]) });
});

test('safetensors file round trip through disk, reading from an unaligned buffer offset', () => {
  const dir = mkdtempSync(join(tmpdir(), 'st-'));
  try {
    const path = join(dir, 'a.safetensors');
    writeSafetensors(path, sample());
    const file = readFileSync(path);
    const unaligned = new Uint8Array(file.byteLength + 1).subarray(1);
    unaligned.set(file);
    assert.deepEqual(decodeSafetensors(unaligned).tensors.get('w')!.data, new Float32Array([1, 2, 3, 4, 5, -6.5]));
    // readFileSync returns a pooled Buffer: values must still come back intact.
    assert.deepEqual(readSafetensors(path).tensors.get('w')!.data, new Float32Array([1, 2, 3, 4, 5, -6.5]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readSafetensorsMetadata reads the header only: the tensor bytes may be missing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'st-'));
  try {
    const path = join(dir, 'a.safetensors');
    writeSafetensors(path, sample(), { preset: 'tiny', tokenizer: '{"kind":"word"}' });
    const file = readFileSync(path);
    const headerEnd = 8 + Number(file.readBigUInt64LE(0));
    writeFileSync(path, file.subarray(0, headerEnd + 3)); // the tensors cut short
    assert.throws(() => readSafetensors(path), /truncated/);
    assert.deepEqual(readSafetensorsMetadata(path), { preset: 'tiny', tokenizer: '{"kind":"word"}' });
    writeFileSync(path, file.subarray(0, headerEnd - 1));
    assert.throws(
      () => readSafetensorsMetadata(path),
      (e: Error) => e.message.startsWith(path) && /truncated/.test(e.message),
    );
    writeFileSync(path, file.subarray(0, 5));
    assert.throws(() => readSafetensorsMetadata(path), /too short for the 8-byte header length/);
    assert.throws(() => readSafetensorsMetadata(join(dir, 'missing.safetensors')), /missing\.safetensors: no such file/);
    assert.throws(() => readSafetensors(join(dir, 'missing.safetensors')), /missing\.safetensors: no such file/);
    assert.throws(() => readSafetensors(dir), /: not a file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('safetensors writer rejects inconsistent tensors, naming them', () => {
  assert.throws(
    () => encodeSafetensors([['x', { shape: [4], data: new Float32Array(3) }]]),
    /tensor 'x' has 3 values, shape \[4\] needs 4/,
  );
  assert.throws(
    () => encodeSafetensors([['x', { dtype: 'F64', shape: [1], data: new Float32Array(1) }]]),
    /'x' is declared F64 but holds a Float32Array/,
  );
  assert.throws(() => encodeSafetensors([['__metadata__', { shape: [1], data: new Float32Array(1) }]]), /reserved/);
});

test('safetensors reader: every corruption gives an error naming the source and the tensor', () => {
  const good = concat(encodeSafetensors(sample()));
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short for a header length', good.subarray(0, 5), /f\.st: truncated: 5 bytes/],
    ['header cut off', good.subarray(0, 20), /f\.st: truncated: header claims/],
    ['data cut off', good.subarray(0, good.byteLength - 1), /f\.st: truncated: tensor 'half' ends at data byte/],
    ['trailing garbage', concat([good, new Uint8Array(8)]), /f\.st: corrupt: 8 trailing bytes/],
    [
      'huge header length',
      (() => {
        const b = good.slice();
        new DataView(b.buffer).setBigUint64(0, 1n << 40n, true);
        return b;
      })(),
      /exceeds/,
    ],
    [
      'not JSON',
      (() => {
        const b = good.slice();
        b[8] = 0x7b;
        b[9] = 0x7b;
        return b;
      })(),
      /f\.st: corrupt header \(not UTF-8 JSON\)/,
    ],
    ['JSON array', rawFile([1, 2], 0), /corrupt header: not a JSON object/],
    ['unknown dtype', rawFile({ t: { dtype: 'F99', shape: [1], data_offsets: [0, 4] } }, 4), /tensor 't': unknown dtype "F99"/],
    ['bad shape', rawFile({ t: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /tensor 't': invalid shape \[-1\]/],
    [
      'offsets vs shape',
      rawFile({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4),
      /tensor 't': data_offsets span 4 bytes, shape \[2\] of F32 needs 8/,
    ],
    ['bad offsets', rawFile({ t: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, 4), /tensor 't': data_offsets \[4,0\]/],
    [
      'overlap',
      rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8),
      /tensor 'b' overlaps/,
    ],
    ['hole', rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /4 unreferenced bytes before tensor 'a'/],
    ['metadata not strings', rawFile({ __metadata__: { step: 3 } }, 0), /metadata 'step' is not a string/],
  ];
  for (const [what, bytes, expected] of cases) {
    assert.throws(() => decodeSafetensors(bytes, 'f.st'), expected, what);
  }
});

test('atomic write: a failure mid-write leaves the previous file intact and no temp file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
  try {
    const path = join(dir, 'ckpt.safetensors');
    writeFileSync(path, 'old contents');
    function* failingChunks(): Generator<Uint8Array> {
      yield new TextEncoder().encode('new partial');
      throw new Error('disk full (simulated)');
    }
    assert.throws(() => writeFileAtomic(path, failingChunks()), /disk full/);
    assert.equal(readFileSync(path, 'utf8'), 'old contents');
    assert.deepEqual(readdirSync(dir), ['ckpt.safetensors']);
    writeFileAtomic(path, [new TextEncoder().encode('new'), new TextEncoder().encode(' contents')]);
    assert.equal(readFileSync(path, 'utf8'), 'new contents');
    assert.deepEqual(readdirSync(dir), ['ckpt.safetensors']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
