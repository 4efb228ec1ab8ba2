// Splices an ONNX model (e.g. one a user exported from PyTorch) into a graph being built: its inputs are
// bound to tensors of the host graph, its float initializers become the host's trainable parameters
// (named `<prefix><initializer>`, starting from the file's values), and its nodes are copied under a name
// scope. The result is differentiated, batched and run like any graph the engine builds itself.
import type { ModelProto } from '../onnx/proto.ts';
import { onnxToDtype, tensorValues, type AnyTypedArray } from '../onnx/tensor.ts';
import type { GraphBuilder, Tensor } from './builder.ts';

/** Float initializers of rank ≥ 1 are parameters; scalars and integer tensors are constants. */
export function isParameterInitializer(init: { dataType: number; dims: readonly number[] }): boolean {
  return onnxToDtype(init.dataType) === 'float32' && init.dims.length > 0;
}

export interface InlineOptions {
  /** Host tensors for the model's graph inputs, by input name (every input must be bound). */
  inputs: Record<string, Tensor>;
  /** Prefix of the parameter names (e.g. 'dit/'): the same initializer name gives the same parameter. */
  paramPrefix: string;
  /** Name scope of the copied nodes. */
  scope: string;
}

/** The model's default-domain opset. */
export function onnxOpset(model: ModelProto): number {
  return model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0;
}

/** Opset 18 moved the axes of every Reduce* op but ReduceSum (moved at 13) from an attribute to an input. */
const AXES_BECAME_INPUT_AT_18 = new Set([
  'ReduceMean',
  'ReduceMax',
  'ReduceMin',
  'ReduceProd',
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceSumSquare',
]);

/** Copies `model` (opset 13 or later) into `g`; returns its graph outputs by name. */
export function inlineModel(g: GraphBuilder, model: ModelProto, o: InlineOptions): Record<string, Tensor> {
  const opset = onnxOpset(model);
  if (opset < 13) throw new Error(`${o.scope}: opset ${opset} is older than 13, the oldest the engine reads`);
  const values = new Map<string, Tensor>();
  const initializers = new Set(model.graph.initializer.map((i) => i.name));
  for (const input of model.graph.input) {
    if (initializers.has(input.name)) continue;
    const bound = o.inputs[input.name];
    if (!bound) throw new Error(`${o.scope}: graph input '${input.name}' is not bound`);
    values.set(input.name, bound);
  }
  for (const init of model.graph.initializer) {
    const data = tensorValues(init) as AnyTypedArray;
    if (!isParameterInitializer(init)) {
      values.set(init.name, g.constant(data, onnxToDtype(init.dataType), init.dims));
      continue;
    }
    const name = `${o.paramPrefix}${init.name}`;
    // A parameter read by two inlined graphs (tied weights) is one graph input.
    values.set(
      init.name,
      g.has(name) ? g.get(name) : g.param(name, init.dims, { kind: 'values', data: Float32Array.from(data as Float32Array) }),
    );
  }
  g.scope(o.scope, () => {
    for (const node of model.graph.node) {
      if (node.attribute.some((a) => a.g))
        throw new Error(`${o.scope}: node '${node.name}' (${node.opType}) has a subgraph; control flow is not supported`);
      const inputs = node.input.map((n) => {
        if (!n) return undefined;
        const t = values.get(n);
        if (!t) throw new Error(`${o.scope}: node '${node.name}' reads '${n}', which nothing defines before it`);
        return t;
      });
      let attributes = node.attribute;
      const axes = attributes.find((a) => a.name === 'axes');
      if (opset < 18 && g.opset >= 18 && AXES_BECAME_INPUT_AT_18.has(node.opType) && axes) {
        inputs[1] = g.ints(axes.ints ?? []);
        attributes = attributes.filter((a) => a !== axes);
      }
      const outputs = g.op(node.opType, inputs, attributes, {
        name: node.opType,
        outputs: node.output.length,
        ...(node.domain ? { domain: node.domain } : {}),
      });
      node.output.forEach((n, i) => n && values.set(n, outputs[i]!));
    }
  });
  const result: Record<string, Tensor> = {};
  for (const out of model.graph.output) {
    const t = values.get(out.name);
    if (!t) throw new Error(`${o.scope}: graph output '${out.name}' is not produced by any node`);
    result[out.name] = t;
  }
  return result;
}
