// Constant folding of the small integer subgraphs exporters emit for shapes and pads (torch's F.pad builds
// its pads through ConstantOfShape → Concat → Reshape → Slice(step −1) → Transpose → Reshape → Cast). When
// every input of such a node is a known constant, the builder records the output's values too, so shape
// inference and the gradient rules see constants instead of run-time values. Integer outputs only (the
// builder asks for no other), so division truncates as ONNX's integer Div does.
import { intsAttr, tensorAttr } from '../onnx/attrs.ts';
import type { NodeProto } from '../onnx/proto.ts';
import { tensorNumbers } from '../onnx/tensor.ts';
import { isStatic, normalizeAxis, type ValueType } from './infer.ts';

/** A constant input: its values (row-major) and static shape. */
export interface Known {
  values: number[];
  shape: number[];
}

const ELEMENTWISE: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => Math.trunc(a / b),
  Max: Math.max,
  Min: Math.min,
};

/** The output values of `node`, or undefined when it is not an op folded here. */
export function foldNode(node: NodeProto, inputs: (Known | undefined)[], output: ValueType): number[] | undefined {
  const [a, b] = inputs;
  if (!a) return undefined;
  switch (node.opType) {
    case 'Identity':
    case 'Reshape':
    case 'Unsqueeze':
    case 'Squeeze':
    case 'Cast':
      return a.values.map(Math.trunc);
    case 'Concat':
      return inputs.every((i) => i && i.shape.length <= 1) ? inputs.flatMap((i) => i!.values) : undefined;
    case 'ConstantOfShape': {
      const value = tensorAttr(node, 'value');
      const count = a.values.reduce((p, d) => p * d, 1);
      return count <= 1024 ? Array<number>(count).fill(value ? tensorNumbers(value)[0]! : 0) : undefined;
    }
    case 'Gather': {
      if (!b || a.shape.length !== 1) return undefined;
      return b.values.map((i) => a.values[i < 0 ? i + a.values.length : i]!);
    }
    case 'Transpose': {
      if (a.shape.length !== 2) return undefined;
      const perm = intsAttr(node, 'perm') ?? [1, 0];
      if (perm[0] === 0) return a.values;
      const [rows, cols] = a.shape as [number, number];
      return Array.from({ length: rows * cols }, (_, k) => a.values[(k % rows) * cols + Math.floor(k / rows)]!);
    }
    case 'Slice': {
      // Along one axis of a 1-D or 2-D tensor (the pads chain reverses rows with step −1).
      const [starts, ends, axes, steps] = [inputs[1], inputs[2], inputs[3], inputs[4]];
      if (!starts || !ends || starts.values.length !== 1 || a.shape.length > 2) return undefined;
      const axis = normalizeAxis(axes?.values[0] ?? 0, a.shape.length);
      const step = steps?.values[0] ?? 1;
      const dim = a.shape[axis]!;
      const clampIndex = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + dim : v, lo), hi);
      const start = step > 0 ? clampIndex(starts.values[0]!, 0, dim) : clampIndex(starts.values[0]!, 0, dim - 1);
      const end = step > 0 ? clampIndex(ends.values[0]!, 0, dim) : clampIndex(ends.values[0]!, -1, dim - 1);
      const picks: number[] = [];
      for (let i = start; step > 0 ? i < end : i > end; i += step) picks.push(i);
      if (a.shape.length === 1) return picks.map((i) => a.values[i]!);
      const [rows, cols] = a.shape as [number, number];
      return axis === 0
        ? picks.flatMap((r) => a.values.slice(r * cols, (r + 1) * cols))
        : Array.from({ length: rows }, (_, r) => picks.map((c) => a.values[r * cols + c]!)).flat();
    }
    default: {
      const f = ELEMENTWISE[node.opType];
      if (!f || !b || !isStatic(output.shape)) return undefined;
      const n = output.shape.reduce((p, d) => p * d, 1);
      if (a.values.length !== n && a.values.length !== 1) return undefined;
      if (b.values.length !== n && b.values.length !== 1) return undefined;
      return Array.from({ length: n }, (_, i) => f(a.values[a.values.length === 1 ? 0 : i]!, b.values[b.values.length === 1 ? 0 : i]!));
    }
  }
}
