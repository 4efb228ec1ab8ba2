// A small hand-written protobuf codec for the subset of onnx.proto the engine uses.
// Field numbers follow onnx/onnx.proto (proto2). Unknown fields are skipped on decode, so models made
// elsewhere (with training_info, functions, sparse initializers...) still decode; those parts are dropped.

/** TensorProto.DataType values. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;

/** AttributeProto.AttributeType values. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
} as const;

export interface TensorProto {
  name: string;
  dataType: number;
  dims: number[];
  /** Little-endian bytes; preferred over the typed fields below when present. */
  rawData?: Uint8Array;
  floatData?: number[];
  /** Also carries int8/int16/uint8/uint16/bool/float16 (as bit patterns), as onnx.proto says. */
  int32Data?: number[];
  int64Data?: bigint[];
  doubleData?: number[];
  docString?: string;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: string;
  t?: TensorProto;
  g?: GraphProto;
  floats?: number[];
  ints?: number[];
  strings?: string[];
  tensors?: TensorProto[];
  docString?: string;
}

export interface NodeProto {
  name: string;
  opType: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
  docString?: string;
}

/** One dimension: a fixed size, a named symbolic size, or unknown (neither set). */
export interface DimensionProto {
  dimValue?: number;
  dimParam?: string;
}

export interface TypeProto {
  tensorType?: { elemType: number; shape?: DimensionProto[] };
}

export interface ValueInfoProto {
  name: string;
  type?: TypeProto;
  docString?: string;
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
  docString?: string;
}

export interface OperatorSetIdProto {
  domain: string;
  version: number;
}

export interface StringStringEntryProto {
  key: string;
  value: string;
}

export interface ModelProto {
  irVersion: number;
  opsetImport: OperatorSetIdProto[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph: GraphProto;
  metadataProps?: StringStringEntryProto[];
}

export const DEFAULT_IR_VERSION = 10;
export const DEFAULT_OPSET = 21;

// ---------------------------------------------------------------------------------------------------------
// Writer

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

class Writer {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private pos = 0;

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** Varint of an int64 value; negatives take 10 bytes (two's complement), as protobuf requires. */
  varint(value: number | bigint): void {
    this.reserve(10);
    if (typeof value === 'number' && value >= 0 && value < 2 ** 31) {
      let v = value;
      while (v > 0x7f) {
        this.buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buf[this.pos++] = v;
      return;
    }
    if (typeof value === 'number' && !Number.isInteger(value)) throw new Error(`protobuf: varint of non-integer ${value}`);
    let v = BigInt.asUintN(64, BigInt(value));
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(data.length);
    this.reserve(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  string(field: number, s: string | undefined): void {
    if (s === undefined || s === '') return;
    this.bytes(field, textEncoder.encode(s));
  }

  int(field: number, v: number | undefined): void {
    if (v === undefined) return;
    this.tag(field, WIRE_VARINT);
    this.varint(v);
  }

  float(field: number, v: number): void {
    this.tag(field, WIRE_I32);
    this.reserve(4);
    this.view.setFloat32(this.pos, v, true);
    this.pos += 4;
  }

  message<T>(field: number, value: T, encode: (w: Writer, value: T) => void): void {
    const inner = new Writer();
    encode(inner, value);
    this.bytes(field, inner.finish());
  }

  packed(field: number, values: readonly (number | bigint)[], kind: 'varint' | 'float' | 'double'): void {
    const inner = new Writer();
    for (const v of values) {
      if (kind === 'varint') inner.varint(v);
      else {
        inner.reserve(8);
        if (kind === 'float') {
          inner.view.setFloat32(inner.pos, Number(v), true);
          inner.pos += 4;
        } else {
          inner.view.setFloat64(inner.pos, Number(v), true);
          inner.pos += 8;
        }
      }
    }
    this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

function writeTensor(w: Writer, t: TensorProto): void {
  for (const d of t.dims) w.int(1, d); // proto2 `repeated int64 dims` is unpacked
  w.int(2, t.dataType);
  if (t.floatData?.length) w.packed(4, t.floatData, 'float');
  if (t.int32Data?.length) w.packed(5, t.int32Data, 'varint');
  if (t.int64Data?.length) w.packed(7, t.int64Data, 'varint');
  w.string(8, t.name);
  if (t.rawData) w.bytes(9, t.rawData);
  if (t.doubleData?.length) w.packed(10, t.doubleData, 'double');
  w.string(12, t.docString);
}

function writeAttribute(w: Writer, a: AttributeProto): void {
  w.string(1, a.name);
  if (a.f !== undefined) w.float(2, a.f);
  w.int(3, a.i);
  if (a.s !== undefined) w.bytes(4, textEncoder.encode(a.s));
  if (a.t) w.message(5, a.t, writeTensor);
  if (a.g) w.message(6, a.g, writeGraph);
  for (const f of a.floats ?? []) w.float(7, f);
  for (const i of a.ints ?? []) w.int(8, i);
  for (const s of a.strings ?? []) w.bytes(9, textEncoder.encode(s));
  for (const t of a.tensors ?? []) w.message(10, t, writeTensor);
  w.string(13, a.docString);
  w.int(20, a.type);
}

function writeNode(w: Writer, n: NodeProto): void {
  for (const i of n.input) w.bytes(1, textEncoder.encode(i)); // empty string = omitted optional input
  for (const o of n.output) w.bytes(2, textEncoder.encode(o));
  w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attribute) w.message(5, a, writeAttribute);
  w.string(6, n.docString);
  w.string(7, n.domain);
}

function writeValueInfo(w: Writer, v: ValueInfoProto): void {
  w.string(1, v.name);
  if (v.type) w.message(2, v.type, writeType);
  w.string(3, v.docString);
}

function writeType(w: Writer, t: TypeProto): void {
  if (!t.tensorType) return;
  w.message(1, t.tensorType, (tw, tt) => {
    tw.int(1, tt.elemType);
    if (tt.shape) {
      tw.message(2, tt.shape, (sw, dims) => {
        for (const d of dims) {
          sw.message(1, d, (dw, dim) => {
            dw.int(1, dim.dimValue);
            dw.string(2, dim.dimParam);
          });
        }
      });
    }
  });
}

function writeGraph(w: Writer, g: GraphProto): void {
  for (const n of g.node) w.message(1, n, writeNode);
  w.string(2, g.name);
  for (const t of g.initializer) w.message(5, t, writeTensor);
  w.string(10, g.docString);
  for (const v of g.input) w.message(11, v, writeValueInfo);
  for (const v of g.output) w.message(12, v, writeValueInfo);
  for (const v of g.valueInfo) w.message(13, v, writeValueInfo);
}

/** Serialises a model to ONNX protobuf bytes. */
export function encodeModel(m: ModelProto): Uint8Array {
  const w = new Writer();
  w.int(1, m.irVersion);
  w.string(2, m.producerName);
  w.string(3, m.producerVersion);
  w.string(4, m.domain);
  w.int(5, m.modelVersion);
  w.string(6, m.docString);
  w.message(7, m.graph, writeGraph);
  for (const o of m.opsetImport) {
    w.message(8, o, (ow, op) => {
      if (op.domain) ow.string(1, op.domain);
      ow.int(2, op.version);
    });
  }
  for (const p of m.metadataProps ?? []) {
    w.message(14, p, (pw, e) => {
      pw.string(1, e.key);
      pw.string(2, e.value);
    });
  }
  return w.finish();
}

// ---------------------------------------------------------------------------------------------------------
// Reader

class Reader {
  private readonly view: DataView;
  pos: number;

  constructor(
    readonly buf: Uint8Array,
    readonly end: number,
    readonly path: string,
    start = 0,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
  }

  fail(what: string): never {
    throw new Error(`ONNX decode error in ${this.path} at byte ${this.pos}: ${what} (corrupt or not an ONNX file?)`);
  }

  bigVarint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asIntN(64, result);
    }
    this.fail('varint longer than 10 bytes');
  }

  /** A varint as a JS number (int64 values beyond 2^53 lose precision). */
  varint(): number {
    // Fast path for the common small non-negative values.
    let result = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.buf[this.pos++]!;
      result |= (b & 0x7f) << shift;
      if (b < 0x80) return result >>> 0;
    }
    this.pos -= 4;
    return Number(this.bigVarint());
  }

  length(): number {
    const n = this.varint();
    if (n < 0 || this.pos + n > this.end) this.fail(`length ${n} runs past the end of the message`);
    return n;
  }

  bytes(): Uint8Array {
    const n = this.length();
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    const n = this.length();
    try {
      return textDecoder.decode(this.buf.subarray(this.pos, this.pos + n));
    } catch {
      this.fail('string is not valid UTF-8');
    } finally {
      this.pos += n;
    }
  }

  float(): number {
    if (this.pos + 4 > this.end) this.fail('truncated float');
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    if (this.pos + 8 > this.end) this.fail('truncated double');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  sub(path: string): Reader {
    const n = this.length();
    const r = new Reader(this.buf, this.pos + n, `${this.path}.${path}`, this.pos);
    this.pos += n;
    return r;
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.bigVarint();
    else if (wire === WIRE_I64) this.pos += 8;
    else if (wire === WIRE_LEN) this.pos += this.length();
    else if (wire === WIRE_I32) this.pos += 4;
    else this.fail(`unsupported wire type ${wire}`);
    if (this.pos > this.end) this.fail('field runs past the end of the message');
  }

  /** Calls `field` for each (number, wire type); the callback returns false for fields it does not know. */
  fields(field: (num: number, wire: number) => boolean): void {
    while (this.pos < this.end) {
      const key = this.varint();
      const num = key >>> 3;
      const wire = key & 7;
      if (num === 0) this.fail('field number 0');
      if (!field(num, wire)) this.skip(wire);
    }
  }

  expect(wire: number, got: number, name: string): void {
    if (wire !== got) this.fail(`field '${name}' has wire type ${got}, expected ${wire}`);
  }

  /** A repeated scalar field, packed or not (decoders must accept both). */
  repeated(wire: number, scalarWire: number, read: () => void, name: string): void {
    if (wire === WIRE_LEN && scalarWire !== WIRE_LEN) {
      const n = this.length();
      const end = this.pos + n;
      while (this.pos < end) read();
      if (this.pos !== end) this.fail(`packed field '${name}' misaligned`);
    } else {
      this.expect(scalarWire, wire, name);
      read();
    }
  }
}

function readTensor(r: Reader): TensorProto {
  const t: TensorProto = { name: '', dataType: 0, dims: [] };
  r.fields((num, wire) => {
    switch (num) {
      case 1:
        r.repeated(wire, WIRE_VARINT, () => t.dims.push(r.varint()), 'dims');
        return true;
      case 2:
        r.expect(WIRE_VARINT, wire, 'data_type');
        t.dataType = r.varint();
        return true;
      case 4:
        r.repeated(wire, WIRE_I32, () => (t.floatData ??= []).push(r.float()), 'float_data');
        return true;
      case 5:
        r.repeated(wire, WIRE_VARINT, () => (t.int32Data ??= []).push(r.varint() | 0), 'int32_data');
        return true;
      case 7:
        r.repeated(wire, WIRE_VARINT, () => (t.int64Data ??= []).push(r.bigVarint()), 'int64_data');
        return true;
      case 8:
        r.expect(WIRE_LEN, wire, 'name');
        t.name = r.string();
        return true;
      case 9:
        r.expect(WIRE_LEN, wire, 'raw_data');
        t.rawData = r.bytes();
        return true;
      case 10:
        r.repeated(wire, WIRE_I64, () => (t.doubleData ??= []).push(r.double()), 'double_data');
        return true;
      case 12:
        r.expect(WIRE_LEN, wire, 'doc_string');
        t.docString = r.string();
        return true;
      case 13:
        return r.fail(`tensor '${t.name}' uses external data, which is not supported`);
      default:
        return false;
    }
  });
  return t;
}

function readAttribute(r: Reader): AttributeProto {
  const a: AttributeProto = { name: '', type: 0 };
  r.fields((num, wire) => {
    switch (num) {
      case 1:
        r.expect(WIRE_LEN, wire, 'name');
        a.name = r.string();
        return true;
      case 2:
        r.expect(WIRE_I32, wire, 'f');
        a.f = r.float();
        return true;
      case 3:
        r.expect(WIRE_VARINT, wire, 'i');
        a.i = Number(r.bigVarint());
        return true;
      case 4:
        r.expect(WIRE_LEN, wire, 's');
        a.s = r.string();
        return true;
      case 5:
        r.expect(WIRE_LEN, wire, 't');
        a.t = readTensor(r.sub(`attribute(${a.name}).t`));
        return true;
      case 6:
        r.expect(WIRE_LEN, wire, 'g');
        a.g = readGraph(r.sub(`attribute(${a.name}).g`));
        return true;
      case 7:
        r.repeated(wire, WIRE_I32, () => (a.floats ??= []).push(r.float()), 'floats');
        return true;
      case 8:
        r.repeated(wire, WIRE_VARINT, () => (a.ints ??= []).push(Number(r.bigVarint())), 'ints');
        return true;
      case 9:
        r.expect(WIRE_LEN, wire, 'strings');
        (a.strings ??= []).push(r.string());
        return true;
      case 10:
        r.expect(WIRE_LEN, wire, 'tensors');
        (a.tensors ??= []).push(readTensor(r.sub('tensors')));
        return true;
      case 13:
        r.expect(WIRE_LEN, wire, 'doc_string');
        a.docString = r.string();
        return true;
      case 20:
        r.expect(WIRE_VARINT, wire, 'type');
        a.type = r.varint();
        return true;
      default:
        return false;
    }
  });
  return a;
}

function readNode(r: Reader): NodeProto {
  const n: NodeProto = { name: '', opType: '', input: [], output: [], attribute: [] };
  r.fields((num, wire) => {
    switch (num) {
      case 1:
        r.expect(WIRE_LEN, wire, 'input');
        n.input.push(r.string());
        return true;
      case 2:
        r.expect(WIRE_LEN, wire, 'output');
        n.output.push(r.string());
        return true;
      case 3:
        r.expect(WIRE_LEN, wire, 'name');
        n.name = r.string();
        return true;
      case 4:
        r.expect(WIRE_LEN, wire, 'op_type');
        n.opType = r.string();
        return true;
      case 5:
        r.expect(WIRE_LEN, wire, 'attribute');
        n.attribute.push(readAttribute(r.sub(`node(${n.name}).attribute`)));
        return true;
      case 6:
        r.expect(WIRE_LEN, wire, 'doc_string');
        n.docString = r.string();
        return true;
      case 7:
        r.expect(WIRE_LEN, wire, 'domain');
        n.domain = r.string();
        return true;
      default:
        return false;
    }
  });
  return n;
}

function readDimension(r: Reader): DimensionProto {
  const d: DimensionProto = {};
  r.fields((num, wire) => {
    if (num === 1) {
      r.expect(WIRE_VARINT, wire, 'dim_value');
      d.dimValue = Number(r.bigVarint());
      return true;
    }
    if (num === 2) {
      r.expect(WIRE_LEN, wire, 'dim_param');
      d.dimParam = r.string();
      return true;
    }
    return false;
  });
  return d;
}

function readType(r: Reader): TypeProto {
  const t: TypeProto = {};
  r.fields((num, wire) => {
    if (num !== 1) return false; // sequence/map/optional types are not used by the engine
    r.expect(WIRE_LEN, wire, 'tensor_type');
    const tr = r.sub('tensor_type');
    const tensorType: { elemType: number; shape?: DimensionProto[] } = { elemType: 0 };
    tr.fields((tn, tw) => {
      if (tn === 1) {
        tr.expect(WIRE_VARINT, tw, 'elem_type');
        tensorType.elemType = tr.varint();
        return true;
      }
      if (tn !== 2) return false;
      tr.expect(WIRE_LEN, tw, 'shape');
      const sr = tr.sub('shape');
      const shape: DimensionProto[] = [];
      sr.fields((sn, sw) => {
        if (sn !== 1) return false;
        sr.expect(WIRE_LEN, sw, 'dim');
        shape.push(readDimension(sr.sub('dim')));
        return true;
      });
      tensorType.shape = shape;
      return true;
    });
    t.tensorType = tensorType;
    return true;
  });
  return t;
}

function readValueInfo(r: Reader): ValueInfoProto {
  const v: ValueInfoProto = { name: '' };
  r.fields((num, wire) => {
    if (num === 1) {
      r.expect(WIRE_LEN, wire, 'name');
      v.name = r.string();
      return true;
    }
    if (num === 2) {
      r.expect(WIRE_LEN, wire, 'type');
      v.type = readType(r.sub(`value_info(${v.name}).type`));
      return true;
    }
    if (num === 3) {
      r.expect(WIRE_LEN, wire, 'doc_string');
      v.docString = r.string();
      return true;
    }
    return false;
  });
  return v;
}

function readGraph(r: Reader): GraphProto {
  const g: GraphProto = { name: '', node: [], initializer: [], input: [], output: [], valueInfo: [] };
  r.fields((num, wire) => {
    switch (num) {
      case 1:
        r.expect(WIRE_LEN, wire, 'node');
        g.node.push(readNode(r.sub(`node[${g.node.length}]`)));
        return true;
      case 2:
        r.expect(WIRE_LEN, wire, 'name');
        g.name = r.string();
        return true;
      case 5:
        r.expect(WIRE_LEN, wire, 'initializer');
        g.initializer.push(readTensor(r.sub(`initializer[${g.initializer.length}]`)));
        return true;
      case 10:
        r.expect(WIRE_LEN, wire, 'doc_string');
        g.docString = r.string();
        return true;
      case 11:
        r.expect(WIRE_LEN, wire, 'input');
        g.input.push(readValueInfo(r.sub('input')));
        return true;
      case 12:
        r.expect(WIRE_LEN, wire, 'output');
        g.output.push(readValueInfo(r.sub('output')));
        return true;
      case 13:
        r.expect(WIRE_LEN, wire, 'value_info');
        g.valueInfo.push(readValueInfo(r.sub('value_info')));
        return true;
      default:
        return false;
    }
  });
  return g;
}

/** Parses ONNX protobuf bytes. Throws an Error naming the message path and byte offset on corrupt input. */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const r = new Reader(bytes, bytes.length, 'ModelProto');
  let graph: GraphProto | undefined;
  const m: Omit<ModelProto, 'graph'> & { graph?: GraphProto } = { irVersion: 0, opsetImport: [] };
  r.fields((num, wire) => {
    switch (num) {
      case 1:
        r.expect(WIRE_VARINT, wire, 'ir_version');
        m.irVersion = r.varint();
        return true;
      case 2:
        r.expect(WIRE_LEN, wire, 'producer_name');
        m.producerName = r.string();
        return true;
      case 3:
        r.expect(WIRE_LEN, wire, 'producer_version');
        m.producerVersion = r.string();
        return true;
      case 4:
        r.expect(WIRE_LEN, wire, 'domain');
        m.domain = r.string();
        return true;
      case 5:
        r.expect(WIRE_VARINT, wire, 'model_version');
        m.modelVersion = r.varint();
        return true;
      case 6:
        r.expect(WIRE_LEN, wire, 'doc_string');
        m.docString = r.string();
        return true;
      case 7:
        r.expect(WIRE_LEN, wire, 'graph');
        graph = readGraph(r.sub('graph'));
        return true;
      case 8: {
        r.expect(WIRE_LEN, wire, 'opset_import');
        const or = r.sub('opset_import');
        const op: OperatorSetIdProto = { domain: '', version: 0 };
        or.fields((on, ow) => {
          if (on === 1) {
            or.expect(WIRE_LEN, ow, 'domain');
            op.domain = or.string();
            return true;
          }
          if (on === 2) {
            or.expect(WIRE_VARINT, ow, 'version');
            op.version = or.varint();
            return true;
          }
          return false;
        });
        m.opsetImport.push(op);
        return true;
      }
      case 14: {
        r.expect(WIRE_LEN, wire, 'metadata_props');
        const pr = r.sub('metadata_props');
        const e: StringStringEntryProto = { key: '', value: '' };
        pr.fields((pn, pw) => {
          if (pn === 1) {
            pr.expect(WIRE_LEN, pw, 'key');
            e.key = pr.string();
            return true;
          }
          if (pn === 2) {
            pr.expect(WIRE_LEN, pw, 'value');
            e.value = pr.string();
            return true;
          }
          return false;
        });
        (m.metadataProps ??= []).push(e);
        return true;
      }
      default:
        return false;
    }
  });
  if (!graph) throw new Error('ONNX decode error: ModelProto has no graph (corrupt or not an ONNX file?)');
  if (m.irVersion === 0) throw new Error('ONNX decode error: ModelProto has no ir_version (corrupt or not an ONNX file?)');
  return { ...m, graph };
}
