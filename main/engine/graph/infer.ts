// Shape and dtype inference for the ops the engine emits (and the common ops of imported models).
// Used by the builder to record value_info and by the autodiff to choose static shapes over Shape ops.
import { intAttr, intsAttr, tensorAttr } from '../onnx/attrs.ts';
import type { NodeProto } from '../onnx/proto.ts';
import { onnxToDtype, type DType } from '../onnx/tensor.ts';

/** A dimension: a fixed size, a named symbolic size (e.g. 'batch'), or null when unknown. */
export type Dim = number | string | null;
export type Shape = Dim[];

/** What is known about a value: its element type and (when the rank is known) its shape. */
export interface ValueType {
  dtype: DType;
  shape: Shape | null;
}

/** Inputs to inference: the input types, and the values of inputs that are constants. */
export interface InferContext {
  inputs: (ValueType | undefined)[];
  constant(index: number): number[] | undefined;
  /** An int64 shape-like input as dims: its constant values, or T's shape when it is Shape(T). */
  dims(index: number): Dim[] | undefined;
}

export function normalizeAxis(axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`${what} ${axis} is out of range for rank ${rank}`);
  return a;
}

function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === 1) return b;
  if (b === 1) return a;
  if (a === b) return a;
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`cannot broadcast dimensions ${a} and ${b}`);
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return null;
}

/** Numpy-style broadcast of shapes; null (unknown rank) if any is unknown. */
export function broadcastShapes(...shapes: (Shape | null)[]): Shape | null {
  if (shapes.some((s) => s === null)) return null;
  const known = shapes as Shape[];
  const rank = Math.max(...known.map((s) => s.length));
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of known) {
      const k = i - (rank - s.length);
      if (k >= 0) d = broadcastDim(d, s[k]!);
    }
    out.push(d);
  }
  return out;
}

export function isStatic(shape: Shape | null): shape is number[] {
  return shape?.every((d) => typeof d === 'number') ?? false;
}

export function sameShape(a: Shape | null, b: Shape | null): boolean {
  return a !== null && b !== null && a.length === b.length && a.every((d, i) => d !== null && d === b[i]);
}

function product(dims: Shape): Dim {
  let p = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return null;
    p *= d;
  }
  return p;
}

function reshapeShape(input: Shape | null, target: Dim[], allowZero: boolean): Shape {
  const out: Shape = target.map((d, i) => (d === 0 && !allowZero ? (input?.[i] ?? null) : d === -1 ? null : d));
  const hole = target.indexOf(-1);
  if (hole >= 0 && input) {
    const total = product(input);
    const rest = product(out.filter((_, i) => i !== hole));
    if (typeof total === 'number' && typeof rest === 'number' && rest > 0) out[hole] = total / rest;
    else if (total === null && typeof rest === 'number') {
      // e.g. ['batch', 64, 128] -> [-1, 128]: the hole keeps the single symbolic dim when the rest cancels.
      const symbolic = input.filter((d) => typeof d !== 'number');
      const staticIn = product(input.filter((d) => typeof d === 'number'));
      if (symbolic.length === 1 && typeof symbolic[0] === 'string' && staticIn === rest) out[hole] = symbolic[0];
    }
  }
  return out;
}

function reduceShape(shape: Shape | null, axes: number[] | undefined, keepdims: boolean, noopEmpty: boolean): Shape | null {
  if (!shape) return null;
  if (axes === undefined) return null;
  if (axes.length === 0) {
    if (noopEmpty) return shape;
    return keepdims ? shape.map(() => 1) : [];
  }
  const set = new Set(axes.map((a) => normalizeAxis(a, shape.length)));
  return keepdims ? shape.map((d, i) => (set.has(i) ? 1 : d)) : shape.filter((_, i) => !set.has(i));
}

function sliceDim(dim: Dim, start: number, end: number, step: number): Dim {
  if (typeof dim !== 'number') return null;
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
    return Math.max(0, Math.ceil((e - s) / step));
  }
  s = clamp(s, 0, dim - 1);
  e = clamp(e, -1, dim - 1);
  return Math.max(0, Math.ceil((e - s) / step));
}

const SAME_AS_FIRST = new Set([
  'Neg',
  'Sqrt',
  'Reciprocal',
  'Exp',
  'Log',
  'Tanh',
  'Sigmoid',
  'Erf',
  'Relu',
  'Abs',
  'Identity',
  'Softmax',
  'LogSoftmax',
  'Gelu',
  'Clip',
  'Floor',
  'Ceil',
  'Sin',
  'Cos',
  'Sign',
  'Softplus',
  'LeakyRelu',
  'Elu',
  'ScatterND',
  'ScatterElements',
  'HardSigmoid',
  'Round',
  'InstanceNormalization',
  'GroupNormalization',
]);
const BROADCAST_SAME_TYPE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Mod']);
const BROADCAST_BOOL = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor']);

/** Output types of `node`, or undefined when the op is not known to the engine. */
export function inferNode(node: NodeProto, ctx: InferContext): ValueType[] | undefined {
  const op = node.opType;
  const need = (i: number): ValueType => {
    const t = ctx.inputs[i];
    if (!t) throw new Error(`${op} node '${node.name}': input ${i} has no known type`);
    return t;
  };
  if (node.domain && node.domain !== 'ai.onnx') return undefined;
  if (SAME_AS_FIRST.has(op)) return [need(0)];
  if (BROADCAST_SAME_TYPE.has(op)) {
    return [{ dtype: need(0).dtype, shape: broadcastShapes(...ctx.inputs.map((_, i) => need(i).shape)) }];
  }
  if (BROADCAST_BOOL.has(op)) return [{ dtype: 'bool', shape: broadcastShapes(need(0).shape, need(1).shape) }];
  switch (op) {
    case 'Not':
      return [{ dtype: 'bool', shape: need(0).shape }];
    case 'Where':
      return [{ dtype: need(1).dtype, shape: broadcastShapes(need(0).shape, need(1).shape, need(2).shape) }];
    case 'MatMul': {
      const a = need(0).shape;
      const b = need(1).shape;
      if (!a || !b) return [{ dtype: need(0).dtype, shape: null }];
      if (a.length === 0 || b.length === 0) throw new Error(`MatMul node '${node.name}': scalar operand`);
      const a2 = a.length === 1 ? [1, a[0]!] : a;
      const b2 = b.length === 1 ? [b[0]!, 1] : b;
      const ka = a2[a2.length - 1]!;
      const kb = b2[b2.length - 2]!;
      if (typeof ka === 'number' && typeof kb === 'number' && ka !== kb) {
        throw new Error(`MatMul node '${node.name}': inner dimensions differ ([${a.join(', ')}] @ [${b.join(', ')}])`);
      }
      const batch = broadcastShapes(a2.slice(0, -2), b2.slice(0, -2))!;
      const out = [...batch, a2[a2.length - 2]!, b2[b2.length - 1]!];
      if (a.length === 1) out.splice(out.length - 2, 1);
      if (b.length === 1) out.pop();
      return [{ dtype: need(0).dtype, shape: out }];
    }
    case 'Gemm': {
      const a = need(0).shape;
      const b = need(1).shape;
      const m = a ? a[intAttr(node, 'transA', 0) ? 1 : 0]! : null;
      const n = b ? b[intAttr(node, 'transB', 0) ? 0 : 1]! : null;
      return [{ dtype: need(0).dtype, shape: [m, n] }];
    }
    case 'ReduceSum':
    case 'ReduceMean':
    case 'ReduceMax':
    case 'ReduceMin':
    case 'ReduceProd':
    case 'ReduceSumSquare':
    case 'ReduceL2':
    case 'ReduceLogSumExp': {
      const axes = node.input[1] ? ctx.constant(1) : (intsAttr(node, 'axes') ?? []);
      const keep = intAttr(node, 'keepdims', 1) === 1;
      return [{ dtype: need(0).dtype, shape: reduceShape(need(0).shape, axes, keep, intAttr(node, 'noop_with_empty_axes', 0) === 1) }];
    }
    case 'ArgMax':
    case 'ArgMin': {
      const axis = intAttr(node, 'axis', 0);
      return [{ dtype: 'int64', shape: reduceShape(need(0).shape, [axis], intAttr(node, 'keepdims', 1) === 1, false) }];
    }
    case 'Reshape': {
      const target = ctx.dims(1);
      if (target) return [{ dtype: need(0).dtype, shape: reshapeShape(need(0).shape, target, intAttr(node, 'allowzero', 0) === 1) }];
      const len = need(1).shape?.[0];
      return [{ dtype: need(0).dtype, shape: typeof len === 'number' ? Array<Dim>(len).fill(null) : null }];
    }
    case 'Flatten': {
      const s = need(0).shape;
      if (!s) return [{ dtype: need(0).dtype, shape: [null, null] }];
      const axis = intAttr(node, 'axis', 1);
      const k = axis < 0 ? axis + s.length : axis;
      return [{ dtype: need(0).dtype, shape: [product(s.slice(0, k)), product(s.slice(k))] }];
    }
    case 'Transpose': {
      const s = need(0).shape;
      if (!s) return [{ dtype: need(0).dtype, shape: null }];
      const perm = intsAttr(node, 'perm') ?? s.map((_, i) => s.length - 1 - i);
      return [{ dtype: need(0).dtype, shape: perm.map((p) => s[p]!) }];
    }
    case 'Concat': {
      const shapes = ctx.inputs.map((_, i) => need(i).shape);
      if (shapes.some((s) => !s)) return [{ dtype: need(0).dtype, shape: null }];
      const first = shapes[0]!;
      const axis = normalizeAxis(intAttr(node, 'axis', 0), first.length);
      const out = [...first];
      out[axis] = product(shapes.map((s) => s![axis]!)) === null ? null : shapes.reduce((acc, s) => acc + (s![axis] as number), 0);
      for (let i = 0; i < out.length; i++) {
        if (i !== axis) out[i] = broadcastDim(first[i]!, shapes.find((s) => typeof s![i] === 'number')?.[i] ?? first[i]!);
      }
      return [{ dtype: need(0).dtype, shape: out }];
    }
    case 'Split': {
      const s = need(0).shape;
      const count = node.output.length;
      if (!s) return Array.from({ length: count }, () => ({ dtype: need(0).dtype, shape: null }));
      const axis = normalizeAxis(intAttr(node, 'axis', 0), s.length);
      let sizes: Dim[] | undefined = node.input[1] ? ctx.constant(1) : undefined;
      if (!sizes) {
        const d = s[axis];
        sizes = Array<Dim>(count).fill(typeof d === 'number' && d % count === 0 ? d / count : null);
      }
      return sizes.map((size) => ({ dtype: need(0).dtype, shape: s.map((d, i) => (i === axis ? size : d)) }));
    }
    case 'Slice': {
      const s = need(0).shape;
      const starts = ctx.constant(1);
      const ends = ctx.constant(2);
      const axes = node.input[3] ? ctx.constant(3) : starts?.map((_, i) => i);
      const steps = node.input[4] ? ctx.constant(4) : starts?.map(() => 1);
      if (!s) return [{ dtype: need(0).dtype, shape: null }];
      const out = [...s];
      if (!starts || !ends || !axes || !steps) {
        const sliced = axes ?? s.map((_, i) => i);
        for (const a of sliced) out[normalizeAxis(a, s.length)] = null;
      } else {
        axes.forEach((a, i) => {
          const k = normalizeAxis(a, s.length);
          out[k] = sliceDim(s[k]!, starts[i]!, ends[i]!, steps[i]!);
        });
      }
      return [{ dtype: need(0).dtype, shape: out }];
    }
    case 'Gather': {
      const s = need(0).shape;
      const idx = need(1).shape;
      if (!s || !idx) return [{ dtype: need(0).dtype, shape: null }];
      const axis = normalizeAxis(intAttr(node, 'axis', 0), s.length);
      return [{ dtype: need(0).dtype, shape: [...s.slice(0, axis), ...idx, ...s.slice(axis + 1)] }];
    }
    case 'GatherElements':
      return [{ dtype: need(0).dtype, shape: need(1).shape }];
    case 'Expand': {
      // A shape computed at run time still fixes the rank when its length is known.
      const length = need(1).shape?.[0];
      const target = ctx.dims(1) ?? (typeof length === 'number' ? Array<Dim>(length).fill(null) : undefined);
      if (target) return [{ dtype: need(0).dtype, shape: broadcastShapes(need(0).shape, target) }];
      return [{ dtype: need(0).dtype, shape: null }];
    }
    case 'Unsqueeze': {
      const s = need(0).shape;
      const axes = node.input[1] ? ctx.constant(1) : intsAttr(node, 'axes');
      if (!s || !axes) return [{ dtype: need(0).dtype, shape: null }];
      const rank = s.length + axes.length;
      const set = new Set(axes.map((a) => normalizeAxis(a, rank)));
      const out: Shape = [];
      let k = 0;
      for (let i = 0; i < rank; i++) out.push(set.has(i) ? 1 : s[k++]!);
      return [{ dtype: need(0).dtype, shape: out }];
    }
    case 'Squeeze': {
      const s = need(0).shape;
      const axes = node.input[1] ? ctx.constant(1) : intsAttr(node, 'axes');
      if (!s) return [{ dtype: need(0).dtype, shape: null }];
      if (!axes) return [{ dtype: need(0).dtype, shape: s.some((d) => typeof d !== 'number') ? null : s.filter((d) => d !== 1) }];
      const set = new Set(axes.map((a) => normalizeAxis(a, s.length)));
      return [{ dtype: need(0).dtype, shape: s.filter((_, i) => !set.has(i)) }];
    }
    case 'LayerNormalization': {
      const t = need(0);
      const stats: ValueType = {
        dtype: onnxToDtype(intAttr(node, 'stash_type', 1)),
        shape: t.shape ? t.shape.map((d, i) => (i < normalizeAxis(intAttr(node, 'axis', -1), t.shape!.length) ? d : 1)) : null,
      };
      return [t, stats, stats].slice(0, node.output.length);
    }
    case 'Cast':
      return [{ dtype: onnxToDtype(intAttr(node, 'to', 0)), shape: need(0).shape }];
    case 'Shape': {
      const s = need(0).shape;
      if (!s) return [{ dtype: 'int64', shape: [null] }];
      const start = normalizeAxisClamped(intAttr(node, 'start', 0), s.length);
      const end = normalizeAxisClamped(intAttr(node, 'end', s.length), s.length);
      return [{ dtype: 'int64', shape: [Math.max(0, end - start)] }];
    }
    case 'Size':
      return [{ dtype: 'int64', shape: [] }];
    case 'Range': {
      const [start, limit, delta] = [ctx.constant(0)?.[0], ctx.constant(1)?.[0], ctx.constant(2)?.[0]];
      const n = start !== undefined && limit !== undefined && delta ? Math.max(0, Math.ceil((limit - start) / delta)) : null;
      return [{ dtype: need(0).dtype, shape: [n] }];
    }
    case 'ConstantOfShape': {
      const value = tensorAttr(node, 'value');
      const dims = ctx.dims(0);
      const len = need(0).shape?.[0];
      return [
        {
          dtype: value ? onnxToDtype(value.dataType) : 'float32',
          shape: dims ?? (typeof len === 'number' ? Array<Dim>(len).fill(null) : null),
        },
      ];
    }
    case 'Constant': {
      const value = tensorAttr(node, 'value');
      if (value) return [{ dtype: onnxToDtype(value.dataType), shape: [...value.dims] }];
      if (node.attribute.some((a) => a.name === 'value_float')) return [{ dtype: 'float32', shape: [] }];
      if (node.attribute.some((a) => a.name === 'value_int')) return [{ dtype: 'int64', shape: [] }];
      const ints = intsAttr(node, 'value_ints');
      if (ints) return [{ dtype: 'int64', shape: [ints.length] }];
      return undefined;
    }
    case 'NonZero':
      return [{ dtype: 'int64', shape: [need(0).shape?.length ?? null, null] }];
    case 'Pad': {
      const s = need(0).shape;
      const pads = ctx.constant(1);
      if (!s || !pads || node.input[3]) return [{ dtype: need(0).dtype, shape: s ? s.map(() => null) : null }];
      return [{ dtype: need(0).dtype, shape: s.map((d, i) => (typeof d === 'number' ? d + pads[i]! + pads[i + s.length]! : null)) }];
    }
    case 'Trilu':
      return [need(0)];
    case 'Tile': {
      const s = need(0).shape;
      const repeats = ctx.constant(1);
      if (!s) return [{ dtype: need(0).dtype, shape: null }];
      return [{ dtype: need(0).dtype, shape: s.map((d, i) => (typeof d === 'number' && repeats ? d * repeats[i]! : null)) }];
    }
    case 'Conv':
    case 'ConvTranspose':
      return [{ dtype: need(0).dtype, shape: convShape(node, need(0).shape, need(1).shape) }];
    case 'Resize': {
      const s = need(0).shape;
      if (!s) return [{ dtype: need(0).dtype, shape: null }];
      const sizes = node.input[3] ? ctx.constant(3) : undefined;
      const scales = node.input[2] ? ctx.constant(2) : undefined;
      const resized = (d: Dim, i: number): Dim => {
        if (sizes) return sizes[i]!;
        if (!scales?.length) return null;
        return scales[i] === 1 ? d : typeof d === 'number' ? Math.floor(d * scales[i]!) : null;
      };
      return [{ dtype: need(0).dtype, shape: s.map(resized) }];
    }
    case 'Dropout':
      return [need(0), { dtype: 'bool' as const, shape: need(0).shape }].slice(0, node.output.length);
    default:
      return undefined;
  }
}

/** Output shape of Conv / ConvTranspose with explicit pads (auto_pad NOTSET or VALID). */
function convShape(node: NodeProto, x: Shape | null, w: Shape | null): Shape | null {
  if (!x || !w) return null;
  const spatial = x.length - 2;
  const transposed = node.opType === 'ConvTranspose';
  const ones = Array<number>(spatial).fill(1);
  const strides = intsAttr(node, 'strides') ?? ones;
  const dilations = intsAttr(node, 'dilations') ?? ones;
  const pads = intsAttr(node, 'pads') ?? Array<number>(2 * spatial).fill(0);
  const outputPadding = intsAttr(node, 'output_padding') ?? Array<number>(spatial).fill(0);
  const group = intAttr(node, 'group', 1);
  const channels = transposed ? (typeof w[1] === 'number' ? w[1] * group : null) : w[0]!;
  const explicit = intsAttr(node, 'output_shape');
  const autoPad = node.attribute.find((a) => a.name === 'auto_pad')?.s ?? 'NOTSET';
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') return [x[0]!, channels, ...Array<Dim>(spatial).fill(null)];
  const dims = x.slice(2).map((d, i) => {
    const k = w[2 + i];
    if (explicit) return explicit[i]!;
    if (typeof d !== 'number' || typeof k !== 'number') return null;
    const span = dilations[i]! * (k - 1) + 1;
    const padded = pads[i]! + pads[i + spatial]!;
    return transposed ? strides[i]! * (d - 1) + outputPadding[i]! + span - padded : Math.floor((d + padded - span) / strides[i]!) + 1;
  });
  return [x[0]!, channels, ...dims];
}

function normalizeAxisClamped(axis: number, rank: number): number {
  return Math.min(Math.max(axis < 0 ? axis + rank : axis, 0), rank);
}
