// A typed builder for ONNX graphs: symbolic tensors with dtype and shape, parameters, name scopes, and the
// ops the engine uses as methods. Every emitted value gets its inferred type recorded as value_info, so
// graphs open readably in Netron (node names like `block0/attn/q_proj/MatMul`).
import { attr } from '../onnx/attrs.ts';
import {
  DEFAULT_IR_VERSION,
  DEFAULT_OPSET,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type OperatorSetIdProto,
  type TensorProto,
  type ValueInfoProto,
} from '../onnx/proto.ts';
import {
  dtypeToOnnx,
  isFloat,
  onnxToDtype,
  tensorNumbers,
  tensorProto,
  typedArray,
  type AnyTypedArray,
  type DType,
} from '../onnx/tensor.ts';
import { foldNode, type Known } from './fold.ts';
import { inferNode, isStatic, normalizeAxis, type Dim, type InferContext, type Shape, type ValueType } from './infer.ts';

/** A symbolic tensor: a named value in a GraphBuilder's graph. */
export class Tensor {
  constructor(
    readonly graph: GraphBuilder,
    readonly name: string,
    readonly dtype: DType,
    /** null when the rank is unknown; dims are numbers, symbolic names, or null (unknown). */
    readonly shape: Shape | null,
  ) {}

  get rank(): number {
    if (!this.shape) throw new Error(`tensor '${this.name}' has unknown rank`);
    return this.shape.length;
  }

  /** The static size of dimension `axis` (negative counts from the end); throws if it is not static. */
  dim(axis: number): number {
    const d = this.shape?.[normalizeAxis(axis, this.rank)];
    if (typeof d !== 'number') throw new Error(`tensor '${this.name}': dimension ${axis} is not static (${String(d)})`);
    return d;
  }

  get type(): ValueType {
    return { dtype: this.dtype, shape: this.shape };
  }
}

/** How a parameter's initial values are drawn (the runtime's parameter store materialises them). */
export type ParamInit =
  | { kind: 'normal'; std: number }
  | { kind: 'uniform'; bound: number }
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'values'; data: Float32Array };

export interface ParamInfo {
  name: string;
  dtype: DType;
  shape: number[];
  init: ParamInit;
}

export type Operand = Tensor | number;

export interface BuildOptions {
  /** Parameter values to bake in as initializers (for export); the other parameters stay graph inputs. */
  bake?: ReadonlyMap<string, AnyTypedArray> | Readonly<Record<string, AnyTypedArray>>;
  docString?: string;
  metadata?: Readonly<Record<string, string>>;
}

export interface OpOptions {
  /** Number of outputs (default 1). */
  outputs?: number;
  /** Node name inside the current scope (default: the op type). */
  name?: string;
  domain?: string;
  /** Output types to record when inference cannot know them (e.g. a reduction over dynamic axes). */
  types?: readonly ValueType[];
}

export class GraphBuilder {
  readonly params: ParamInfo[] = [];
  readonly opset: number;
  private readonly nodes: NodeProto[] = [];
  private readonly inputs: string[] = [];
  private readonly outputs: string[] = [];
  private readonly initializers = new Map<string, TensorProto>();
  private readonly constValues = new Map<string, number[]>();
  private readonly tensors = new Map<string, Tensor>();
  /** Values whose type came from inference or a declaration (only these are written as value_info). */
  private readonly typed = new Set<string>();
  private readonly producers = new Map<string, NodeProto>();
  private readonly used = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly scopes: string[] = [];
  private readonly constantCache = new Map<string, Tensor>();
  private opsetImport: OperatorSetIdProto[];
  private irVersion = DEFAULT_IR_VERSION;
  private readonly extraMetadata: { key: string; value: string }[] = [];

  constructor(
    readonly name = 'graph',
    opts: { opset?: number } = {},
  ) {
    this.opset = opts.opset ?? DEFAULT_OPSET;
    if (this.opset < 13) throw new Error(`GraphBuilder: opset ${this.opset} is below 13, the oldest the engine supports`);
    this.opsetImport = [{ domain: '', version: this.opset }];
  }

  /** Imports any ModelProto (nodes must use opset >= 13); new ops can then be appended, e.g. by `grad`. */
  static fromModel(model: ModelProto): GraphBuilder {
    const onnxOpset = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? DEFAULT_OPSET;
    const g = new GraphBuilder(model.graph.name || 'graph', { opset: onnxOpset });
    g.opsetImport = model.opsetImport.map((o) => ({ ...o }));
    g.irVersion = model.irVersion;
    g.extraMetadata.push(...(model.metadataProps ?? []));
    const declared = new Map<string, ValueType>();
    for (const v of [...model.graph.input, ...model.graph.valueInfo, ...model.graph.output]) {
      const t = valueTypeOf(v);
      if (t) declared.set(v.name, t);
    }
    for (const init of model.graph.initializer) {
      g.claim(init.name);
      g.initializers.set(init.name, init);
      const dtype = onnxToDtype(init.dataType);
      if (isShapeLike(dtype, init.dims)) g.constValues.set(init.name, tensorNumbers(init));
      g.register(init.name, { dtype, shape: [...init.dims] }, true);
    }
    for (const v of model.graph.input) {
      if (g.initializers.has(v.name)) continue;
      const t = declared.get(v.name);
      if (!t) throw new Error(`graph input '${v.name}' has no tensor type`);
      g.claim(v.name);
      g.inputs.push(v.name);
      g.register(v.name, t, true);
    }
    for (const [i, node] of topoSort(model.graph.node, new Set([...g.inputs, ...g.initializers.keys()])).entries()) {
      const copy: NodeProto = { ...node, input: [...node.input], output: [...node.output], attribute: [...node.attribute] };
      if (!copy.name) copy.name = `${copy.opType}_${i}`;
      g.claim(copy.name);
      for (const o of copy.output) if (o) g.claim(o);
      g.addNode(copy, declared);
    }
    for (const o of model.graph.output) {
      if (!g.tensors.has(o.name)) throw new Error(`graph output '${o.name}' is not produced by any node`);
      g.outputs.push(o.name);
    }
    return g;
  }

  // ----- naming ------------------------------------------------------------------------------------------

  /** Runs `fn` with `name` appended to the scope of every node and parameter it creates. */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  private scoped(name: string): string {
    return [...this.scopes, name].join('/');
  }

  private claim(name: string): void {
    this.used.add(name);
  }

  /** A name not yet used in the graph, derived from `base`. */
  uniqueName(base: string): string {
    if (!this.used.has(base)) {
      this.used.add(base);
      return base;
    }
    let n = this.counters.get(base) ?? 1;
    while (this.used.has(`${base}_${n}`)) n++;
    this.counters.set(base, n + 1);
    const name = `${base}_${n}`;
    this.used.add(name);
    return name;
  }

  // ----- values ------------------------------------------------------------------------------------------

  private register(name: string, type: ValueType, known: boolean): Tensor {
    const t = new Tensor(this, name, type.dtype, type.shape);
    this.tensors.set(name, t);
    if (known) this.typed.add(name);
    return t;
  }

  /** The tensor named `name` (a graph input, parameter, initializer or node output). */
  get(name: string): Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`no tensor named '${name}' in graph '${this.name}'`);
    return t;
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The node producing `t`, or undefined for inputs, parameters and initializers. */
  producer(t: Tensor | string): NodeProto | undefined {
    return this.producers.get(typeof t === 'string' ? t : t.name);
  }

  /** The values of a constant (initializer or Constant node) when the engine knows them. */
  constantValue(t: Tensor): number[] | undefined {
    return this.constValues.get(t.name);
  }

  /** The values of an initializer (a constant, or a parameter baked into an imported file). */
  initializerValues(name: string): number[] | undefined {
    const init = this.initializers.get(name);
    return init ? tensorNumbers(init) : undefined;
  }

  isInitializer(name: string): boolean {
    return this.initializers.has(name);
  }

  get nodeList(): readonly NodeProto[] {
    return this.nodes;
  }

  get inputNames(): readonly string[] {
    return this.inputs;
  }

  get outputNames(): readonly string[] {
    return this.outputs;
  }

  /** A graph input (not scoped: input names are the feed names). */
  input(name: string, dtype: DType, shape: Shape): Tensor {
    if (this.used.has(name)) throw new Error(`input '${name}': name already used`);
    this.claim(name);
    this.inputs.push(name);
    return this.register(name, { dtype, shape: [...shape] }, true);
  }

  /**
   * A trainable parameter named `<scope>/<name>`. It is a graph input by default, so the trainer feeds
   * its Float32Array zero-copy on every run; `build({ bake })` turns it into an initializer for export.
   */
  param(name: string, shape: readonly number[], init: ParamInit = { kind: 'zeros' }, dtype: DType = 'float32'): Tensor {
    const full = this.scoped(name);
    if (this.used.has(full)) throw new Error(`parameter '${full}': name already used`);
    if (!shape.every((d) => Number.isInteger(d) && d > 0))
      throw new Error(`parameter '${full}': shape [${shape.join(', ')}] must be positive integers`);
    this.claim(full);
    this.inputs.push(full);
    this.params.push({ name: full, dtype, shape: [...shape], init });
    return this.register(full, { dtype, shape: [...shape] }, true);
  }

  /** A constant tensor stored as an initializer. Scalars and int64 vectors are shared by value. */
  constant(values: number | readonly number[] | AnyTypedArray, dtype: DType = 'float32', shape?: readonly number[]): Tensor {
    const data = typeof values === 'number' ? typedArray(dtype, [values]) : ArrayBuffer.isView(values) ? values : typedArray(dtype, values);
    const dims = shape ? [...shape] : typeof values === 'number' ? [] : [data.length];
    const small = data.length <= 16;
    const key = small ? `${dtype}:${dims.join('x')}:${Array.from(data as ArrayLike<number | bigint>).join(',')}` : undefined;
    const cached = key ? this.constantCache.get(key) : undefined;
    if (cached) return cached;
    const name = this.uniqueName(
      small ? `const/${dtype}/${dims.length === 0 ? String(Array.from(data as ArrayLike<unknown>)[0]) : 'vec'}` : this.scoped('const'),
    );
    this.initializers.set(name, tensorProto(name, dtype, dims, data));
    if (keepsConstantValues(dtype, dims)) this.constValues.set(name, Array.from(data as ArrayLike<number | bigint>, Number));
    const t = this.register(name, { dtype, shape: dims }, true);
    if (key) this.constantCache.set(key, t);
    return t;
  }

  /** A scalar constant of `dtype` (float32 by default). */
  scalar(value: number, dtype: DType = 'float32'): Tensor {
    return this.constant(value, dtype);
  }

  /** An int64 vector constant (axes, shapes, starts...). */
  ints(values: readonly number[]): Tensor {
    return this.constant(values, 'int64', [values.length]);
  }

  /** Marks `t` as a graph output, renamed to `name` (through Identity) when given. */
  output(t: Tensor, name?: string): Tensor {
    let out = t;
    if (name && name !== t.name) {
      if (this.used.has(name)) throw new Error(`output '${name}': name already used`);
      this.claim(name);
      out = this.addNode({
        name: this.uniqueName(`${name}/Identity`),
        opType: 'Identity',
        input: [t.name],
        output: [name],
        attribute: [],
      })[0]!;
    }
    if (this.outputs.includes(out.name)) throw new Error(`'${out.name}' is already a graph output`);
    this.outputs.push(out.name);
    return out;
  }

  // ----- node emission -----------------------------------------------------------------------------------

  private addNode(node: NodeProto, declared?: ReadonlyMap<string, ValueType | undefined>): Tensor[] {
    const inputs = node.input.map((n) => (n ? this.tensors.get(n)?.type : undefined));
    node.input.forEach((n, i) => {
      if (n && !inputs[i]) throw new Error(`${node.opType} node '${node.name}': input '${n}' is not defined`);
    });
    const inferred = inferNode(node, this.inferContext(node, inputs));
    this.nodes.push(node);
    const outs = node.output.map((o, i) => {
      if (!o) return undefined as unknown as Tensor;
      this.producers.set(o, node);
      const type = declared?.get(o) ?? inferred?.[i];
      return this.register(o, type ?? { dtype: inputs[0]?.dtype ?? 'float32', shape: null }, type !== undefined);
    });
    this.fold(node, outs);
    if (node.opType === 'Constant' && node.output[0]) {
      const value = node.attribute.find((a) => a.name === 'value')?.t;
      if (value && keepsConstantValues(onnxToDtype(value.dataType), value.dims)) this.constValues.set(node.output[0], tensorNumbers(value));
      const ints = node.attribute.find((a) => a.name === 'value_ints')?.ints;
      if (ints) this.constValues.set(node.output[0], ints);
      const int = node.attribute.find((a) => a.name === 'value_int')?.i;
      if (int !== undefined) this.constValues.set(node.output[0], [int]);
    }
    return outs;
  }

  /** Records the values of a small integer node whose inputs are all constants (see fold.ts). */
  private fold(node: NodeProto, outs: Tensor[]): void {
    const out = outs[0];
    if (outs.length !== 1 || !out || node.domain || isFloat(out.dtype) || !isStatic(out.shape) || !isShapeLike(out.dtype, out.shape))
      return;
    const inputs: (Known | undefined)[] = [];
    for (const name of node.input) {
      if (!name) {
        inputs.push(undefined);
        continue;
      }
      const values = this.constValues.get(name);
      const shape = this.tensors.get(name)?.shape ?? null;
      if (!values || !isStatic(shape)) return;
      inputs.push({ values, shape });
    }
    const values = foldNode(node, inputs, out.type);
    if (values && values.length === out.shape.reduce((p, d) => p * d, 1)) this.constValues.set(out.name, values);
  }

  private inferContext(node: NodeProto, inputs: (ValueType | undefined)[]): InferContext {
    const constant = (i: number) => (node.input[i] ? this.constValues.get(node.input[i]) : undefined);
    const dims = (i: number): Dim[] | undefined => {
      const known = constant(i);
      if (known) return known;
      // Shape(T) (whole shape) denotes T's symbolic shape: keeps 'batch' dims through Reshape/Expand.
      const source = node.input[i] ? this.producers.get(node.input[i]) : undefined;
      if (source?.opType !== 'Shape' || source.attribute.length > 0) return undefined;
      return this.tensors.get(source.input[0]!)?.shape ?? undefined;
    };
    return { inputs, constant, dims };
  }

  /** Emits one node of any op type; returns its outputs. The escape hatch for ops without a method. */
  op(opType: string, inputs: readonly (Tensor | undefined)[], attrs: readonly AttributeProto[] = [], opts: OpOptions = {}): Tensor[] {
    for (const t of inputs) if (t && t.graph !== this) throw new Error(`${opType}: input '${t.name}' belongs to another graph`);
    const nodeName = this.uniqueName(this.scoped(opts.name ?? opType));
    const count = opts.outputs ?? 1;
    const output = Array.from({ length: count }, (_, i) => (count === 1 ? nodeName : this.uniqueName(`${nodeName}:${i}`)));
    const node: NodeProto = { name: nodeName, opType, input: inputs.map((t) => t?.name ?? ''), output, attribute: [...attrs] };
    if (opts.domain) node.domain = opts.domain;
    while (node.input.length > 0 && node.input[node.input.length - 1] === '') node.input.pop();
    return this.addNode(node, opts.types ? new Map(output.map((o, i) => [o, opts.types![i]])) : undefined);
  }

  private op1(opType: string, inputs: readonly (Tensor | undefined)[], attrs: readonly AttributeProto[] = [], name?: string): Tensor {
    return this.op(opType, inputs, attrs, name ? { name } : {})[0]!;
  }

  /**
   * Gives `node` an output at `index` if it has none (e.g. LayerNormalization's InvStdDev), so a gradient
   * rule can reuse a forward statistic instead of recomputing it.
   */
  ensureOutput(node: NodeProto, index: number): Tensor {
    const existing = node.output[index];
    if (existing) return this.get(existing);
    while (node.output.length <= index) node.output.push('');
    const name = this.uniqueName(`${node.name}:${index}`);
    node.output[index] = name;
    const inputs = node.input.map((n) => (n ? this.tensors.get(n)?.type : undefined));
    const inferred = inferNode(node, this.inferContext(node, inputs));
    this.producers.set(name, node);
    return this.register(name, inferred?.[index] ?? { dtype: inputs[0]!.dtype, shape: null }, inferred !== undefined);
  }

  private operands(a: Operand, b: Operand, opType: string): [Tensor, Tensor] {
    if (typeof a === 'number' && typeof b === 'number') throw new Error(`${opType}: at least one operand must be a tensor`);
    const ta = typeof a === 'number' ? this.scalar(a, (b as Tensor).dtype) : a;
    const tb = typeof b === 'number' ? this.scalar(b, ta.dtype) : b;
    return [ta, tb];
  }

  private binary(opType: string, a: Operand, b: Operand): Tensor {
    return this.op1(opType, this.operands(a, b, opType));
  }

  // ----- elementwise -------------------------------------------------------------------------------------

  add(a: Operand, b: Operand): Tensor {
    return this.binary('Add', a, b);
  }
  sub(a: Operand, b: Operand): Tensor {
    return this.binary('Sub', a, b);
  }
  mul(a: Operand, b: Operand): Tensor {
    return this.binary('Mul', a, b);
  }
  div(a: Operand, b: Operand): Tensor {
    return this.binary('Div', a, b);
  }
  pow(a: Operand, b: Operand): Tensor {
    return this.binary('Pow', a, b);
  }
  max(a: Operand, b: Operand): Tensor {
    return this.binary('Max', a, b);
  }
  min(a: Operand, b: Operand): Tensor {
    return this.binary('Min', a, b);
  }
  equal(a: Operand, b: Operand): Tensor {
    return this.binary('Equal', a, b);
  }
  less(a: Operand, b: Operand): Tensor {
    return this.binary('Less', a, b);
  }
  greater(a: Operand, b: Operand): Tensor {
    return this.binary('Greater', a, b);
  }
  lessOrEqual(a: Operand, b: Operand): Tensor {
    return this.binary('LessOrEqual', a, b);
  }
  greaterOrEqual(a: Operand, b: Operand): Tensor {
    return this.binary('GreaterOrEqual', a, b);
  }
  and(a: Tensor, b: Tensor): Tensor {
    return this.op1('And', [a, b]);
  }
  or(a: Tensor, b: Tensor): Tensor {
    return this.op1('Or', [a, b]);
  }
  not(x: Tensor): Tensor {
    return this.op1('Not', [x]);
  }

  /** Sum of several tensors with broadcasting (one Sum node). */
  sum(xs: readonly Tensor[]): Tensor {
    if (xs.length === 0) throw new Error('sum: no tensors');
    return xs.length === 1 ? xs[0]! : this.op1(xs.length === 2 ? 'Add' : 'Sum', xs);
  }

  neg(x: Tensor): Tensor {
    return this.op1('Neg', [x]);
  }
  sqrt(x: Tensor): Tensor {
    return this.op1('Sqrt', [x]);
  }
  reciprocal(x: Tensor): Tensor {
    return this.op1('Reciprocal', [x]);
  }
  exp(x: Tensor): Tensor {
    return this.op1('Exp', [x]);
  }
  log(x: Tensor): Tensor {
    return this.op1('Log', [x]);
  }
  tanh(x: Tensor): Tensor {
    return this.op1('Tanh', [x]);
  }
  sigmoid(x: Tensor): Tensor {
    return this.op1('Sigmoid', [x]);
  }
  erf(x: Tensor): Tensor {
    return this.op1('Erf', [x]);
  }
  relu(x: Tensor): Tensor {
    return this.op1('Relu', [x]);
  }
  abs(x: Tensor): Tensor {
    return this.op1('Abs', [x]);
  }
  sin(x: Tensor): Tensor {
    return this.op1('Sin', [x]);
  }
  cos(x: Tensor): Tensor {
    return this.op1('Cos', [x]);
  }
  identity(x: Tensor, name?: string): Tensor {
    return this.op1('Identity', [x], [], name);
  }

  /** GELU as the fused ONNX Gelu op (opset 20); `approximate` 'tanh' for the tanh form. */
  gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
    if (this.opset < 20) throw new Error(`gelu needs opset >= 20 (graph has ${this.opset})`);
    return this.op1('Gelu', [x], approximate === 'none' ? [] : [attr.string('approximate', approximate)]);
  }

  /** x · sigmoid(x) (SiLU / swish). */
  silu(x: Tensor): Tensor {
    return this.mul(x, this.sigmoid(x));
  }

  cast(x: Tensor, to: DType): Tensor {
    return this.op1('Cast', [x], [attr.int('to', dtypeToOnnx(to))]);
  }

  /** Clamps to [min, max]; either bound may be omitted. */
  clip(x: Tensor, min?: number | Tensor, max?: number | Tensor): Tensor {
    const bound = (b: number | Tensor | undefined) => (typeof b === 'number' ? this.scalar(b, x.dtype) : b);
    return this.op1('Clip', [x, bound(min), bound(max)]);
  }

  where(cond: Tensor, a: Operand, b: Operand): Tensor {
    const [ta, tb] = this.operands(a, b, 'Where');
    return this.op1('Where', [cond, ta, tb]);
  }

  // ----- linear algebra ----------------------------------------------------------------------------------

  matmul(a: Tensor, b: Tensor): Tensor {
    return this.op1('MatMul', [a, b]);
  }

  /** Y = alpha · A' · B' + beta · C, with A' = Aᵀ when transA (2-D operands). */
  gemm(a: Tensor, b: Tensor, c?: Tensor, o: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number } = {}): Tensor {
    const attrs: AttributeProto[] = [];
    if (o.transA) attrs.push(attr.int('transA', 1));
    if (o.transB) attrs.push(attr.int('transB', 1));
    if (o.alpha !== undefined && o.alpha !== 1) attrs.push(attr.float('alpha', o.alpha));
    if (o.beta !== undefined && o.beta !== 1) attrs.push(attr.float('beta', o.beta));
    return this.op1('Gemm', [a, b, c], attrs);
  }

  softmax(x: Tensor, axis = -1): Tensor {
    return this.op1('Softmax', [x], [attr.int('axis', axis)]);
  }
  logSoftmax(x: Tensor, axis = -1): Tensor {
    return this.op1('LogSoftmax', [x], [attr.int('axis', axis)]);
  }

  /** LayerNormalization over the axes from `axis` to the end; `bias` optional. */
  layerNorm(x: Tensor, scale: Tensor, bias?: Tensor, o: { axis?: number; epsilon?: number } = {}): Tensor {
    return this.op1('LayerNormalization', [x, scale, bias], [attr.int('axis', o.axis ?? -1), attr.float('epsilon', o.epsilon ?? 1e-5)]);
  }

  // ----- reductions --------------------------------------------------------------------------------------

  private reduce(opType: string, x: Tensor, axes: readonly number[] | undefined, keepdims: boolean, sinceInput: number): Tensor {
    const attrs = [attr.int('keepdims', keepdims ? 1 : 0)];
    const all = axes === undefined;
    if (this.opset >= sinceInput) return this.op1(opType, [x, all ? undefined : this.ints(axes)], attrs);
    return this.op1(opType, [x], all ? attrs : [...attrs, attr.ints('axes', axes)]);
  }

  /** Sum over `axes` (all axes when omitted). */
  reduceSum(x: Tensor, axes?: readonly number[], keepdims = true): Tensor {
    return this.reduce('ReduceSum', x, axes, keepdims, 13);
  }
  reduceMean(x: Tensor, axes?: readonly number[], keepdims = true): Tensor {
    return this.reduce('ReduceMean', x, axes, keepdims, 18);
  }
  reduceMax(x: Tensor, axes?: readonly number[], keepdims = true): Tensor {
    return this.reduce('ReduceMax', x, axes, keepdims, 18);
  }
  reduceMin(x: Tensor, axes?: readonly number[], keepdims = true): Tensor {
    return this.reduce('ReduceMin', x, axes, keepdims, 18);
  }

  argMax(x: Tensor, axis = -1, keepdims = false): Tensor {
    return this.op1('ArgMax', [x], [attr.int('axis', axis), attr.int('keepdims', keepdims ? 1 : 0)]);
  }

  // ----- shapes ------------------------------------------------------------------------------------------

  private shapeInput(shape: readonly number[] | Tensor): Tensor {
    return shape instanceof Tensor ? shape : this.ints(shape);
  }

  /** Reshape; in a number[] shape, 0 copies the input's dim and -1 is inferred. */
  reshape(x: Tensor, shape: readonly number[] | Tensor): Tensor {
    return this.op1('Reshape', [x, this.shapeInput(shape)]);
  }

  /** x's shape as an int64 tensor, folded to a constant when x's shape is static. */
  shape(x: Tensor): Tensor {
    if (isStatic(x.shape)) return this.ints(x.shape);
    return this.op1('Shape', [x]);
  }

  transpose(x: Tensor, perm: readonly number[]): Tensor {
    if (perm.every((p, i) => p === i)) return x;
    return this.op1('Transpose', [x], [attr.ints('perm', perm)]);
  }

  concat(xs: readonly Tensor[], axis: number): Tensor {
    if (xs.length === 1) return xs[0]!;
    return this.op1('Concat', xs, [attr.int('axis', axis)]);
  }

  /** Splits along `axis` into pieces of `sizes` (or `sizes` equal pieces when a number). */
  split(x: Tensor, sizes: readonly number[] | number, axis: number): Tensor[] {
    if (typeof sizes === 'number') {
      const d = x.dim(axis);
      if (d % sizes !== 0) throw new Error(`split: dimension ${axis} of '${x.name}' (${d}) is not divisible by ${sizes}`);
      sizes = Array<number>(sizes).fill(d / sizes);
    }
    return this.op('Split', [x, this.ints(sizes)], [attr.int('axis', axis)], { outputs: sizes.length });
  }

  /** Split with sizes given as an int64 tensor (dynamic). */
  splitDynamic(x: Tensor, sizes: Tensor, count: number, axis: number): Tensor[] {
    return this.op('Split', [x, sizes], [attr.int('axis', axis)], { outputs: count });
  }

  slice(
    x: Tensor,
    starts: readonly number[] | Tensor,
    ends: readonly number[] | Tensor,
    axes?: readonly number[],
    steps?: readonly number[],
  ): Tensor {
    return this.op1('Slice', [
      x,
      this.shapeInput(starts),
      this.shapeInput(ends),
      axes ? this.ints(axes) : undefined,
      steps ? this.ints(steps) : undefined,
    ]);
  }

  gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
    return this.op1('Gather', [x, indices], axis === 0 ? [] : [attr.int('axis', axis)]);
  }

  /** out[..., i, ...] = x[..., indices[..., i, ...], ...] along `axis` (indices shaped like the output). */
  gatherElements(x: Tensor, indices: Tensor, axis: number): Tensor {
    return this.op1('GatherElements', [x, indices], [attr.int('axis', axis)]);
  }

  scatterElements(data: Tensor, indices: Tensor, updates: Tensor, axis: number, reduction: 'none' | 'add' = 'none'): Tensor {
    const attrs = [attr.int('axis', axis)];
    if (reduction !== 'none') attrs.push(attr.string('reduction', reduction));
    return this.op1('ScatterElements', [data, indices, updates], attrs);
  }

  /** ScatterND (reduction 'add' accumulates repeated indices). */
  scatterND(data: Tensor, indices: Tensor, updates: Tensor, reduction: 'none' | 'add' = 'none'): Tensor {
    return this.op1('ScatterND', [data, indices, updates], reduction === 'none' ? [] : [attr.string('reduction', reduction)]);
  }

  expand(x: Tensor, shape: readonly number[] | Tensor): Tensor {
    return this.op1('Expand', [x, this.shapeInput(shape)]);
  }
  unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
    return this.op1('Unsqueeze', [x, this.ints(axes)]);
  }
  squeeze(x: Tensor, axes: readonly number[]): Tensor {
    return this.op1('Squeeze', [x, this.ints(axes)]);
  }

  pad(x: Tensor, pads: readonly number[] | Tensor): Tensor {
    return this.op1('Pad', [x, this.shapeInput(pads)]);
  }

  range(start: Operand, limit: Operand, delta: Operand, dtype: DType = 'int64'): Tensor {
    const t = (v: Operand) => (typeof v === 'number' ? this.scalar(v, dtype) : v);
    return this.op1('Range', [t(start), t(limit), t(delta)]);
  }

  /** A tensor of `shape` filled with `value`; a static shape gives a constant. */
  full(shape: readonly number[] | Tensor, value: number, dtype: DType = 'float32'): Tensor {
    if (!(shape instanceof Tensor) && shape.reduce((a, b) => a * b, 1) <= 16) {
      return this.constant(typedArray(dtype, Array<number>(shape.reduce((a, b) => a * b, 1)).fill(value)), dtype, shape);
    }
    return this.constantOfShape(this.shapeInput(shape), value, dtype);
  }

  constantOfShape(shape: Tensor, value: number, dtype: DType = 'float32'): Tensor {
    return this.op1('ConstantOfShape', [shape], [attr.tensor('value', tensorProto('value', dtype, [1], typedArray(dtype, [value])))]);
  }

  /** Zeros (or `value`) with x's shape and dtype. */
  fullLike(x: Tensor, value: number): Tensor {
    return isStatic(x.shape) ? this.full(x.shape, value, x.dtype) : this.constantOfShape(this.shape(x), value, x.dtype);
  }

  // ----- serialisation -----------------------------------------------------------------------------------

  /** The ModelProto of the graph built so far. Parameters are graph inputs unless baked. */
  build(opts: BuildOptions = {}): ModelProto {
    const bake = opts.bake instanceof Map ? opts.bake : new Map(Object.entries(opts.bake ?? {}));
    const paramByName = new Map(this.params.map((p) => [p.name, p]));
    for (const name of bake.keys()) if (!paramByName.has(name)) throw new Error(`build: cannot bake '${name}': no such parameter`);
    if (this.outputs.length === 0) throw new Error(`build: graph '${this.name}' has no outputs`);
    const baked: TensorProto[] = [];
    for (const [name, data] of bake) {
      const p = paramByName.get(name)!;
      baked.push(tensorProto(name, p.dtype, p.shape, data));
    }
    const inputs = this.inputs.filter((n) => !bake.has(n));
    const boundary = new Set([...this.inputs, ...this.outputs, ...this.initializers.keys()]);
    const valueInfo = [...this.typed].filter((n) => !boundary.has(n)).map((n) => this.valueInfo(n));
    const metadata = [...this.extraMetadata, ...Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value }))];
    const model: ModelProto = {
      irVersion: this.irVersion,
      opsetImport: this.opsetImport.map((o) => ({ ...o })),
      producerName: 'unirl-engine',
      producerVersion: '1',
      graph: {
        name: this.name,
        node: this.nodes.map((n) => ({ ...n, input: [...n.input], output: [...n.output] })),
        initializer: [...this.initializers.values(), ...baked],
        input: inputs.map((n) => this.valueInfo(n)),
        output: this.outputs.map((n) => this.valueInfo(n)),
        valueInfo,
      },
    };
    if (opts.docString) model.docString = opts.docString;
    if (metadata.length) model.metadataProps = metadata;
    return model;
  }

  private valueInfo(name: string): ValueInfoProto {
    const t = this.get(name);
    const info: ValueInfoProto = { name, type: { tensorType: { elemType: dtypeToOnnx(t.dtype) } } };
    if (t.shape && this.typed.has(name)) {
      info.type!.tensorType!.shape = t.shape.map((d: Dim) =>
        typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {},
      );
    }
    return info;
  }
}

/**
 * Whether the engine tracks a constant's values: small integer vectors (shapes, axes, starts...) and
 * scalars (e.g. a Pow exponent), which inference and gradient rules read.
 */
/** Scalars, and integer tensors of rank 1 or 2 with at most 1024 values: the engine keeps their values. */
function isShapeLike(dtype: DType, dims: readonly number[]): boolean {
  return dims.length === 0 || (dims.length <= 2 && dims.reduce((p, d) => p * d, 1) <= 1024 && !isFloat(dtype));
}

/** Constants (never parameters, unlike initializers) also keep small float vectors: Resize scales. */
function keepsConstantValues(dtype: DType, dims: readonly number[]): boolean {
  return isShapeLike(dtype, dims) || (dims.length === 1 && dims[0]! <= 16);
}

function valueTypeOf(v: ValueInfoProto): ValueType | undefined {
  const tt = v.type?.tensorType;
  if (!tt?.elemType) return undefined;
  return {
    dtype: onnxToDtype(tt.elemType),
    shape: tt.shape ? tt.shape.map((d) => d.dimValue ?? d.dimParam ?? null) : null,
  };
}

/** Kahn's order over the nodes (ONNX requires topological order; tolerate models that violate it). */
function topoSort(nodes: readonly NodeProto[], available: Set<string>): NodeProto[] {
  const ready = new Set(available);
  const sorted = nodes.every((n) => {
    const ok = n.input.every((name) => !name || ready.has(name));
    for (const o of n.output) ready.add(o);
    return ok;
  });
  if (sorted) return [...nodes];
  ready.clear();
  for (const name of available) ready.add(name);
  const pending = [...nodes];
  const out: NodeProto[] = [];
  while (pending.length > 0) {
    const before = out.length;
    for (let i = 0; i < pending.length; ) {
      const n = pending[i]!;
      if (n.input.every((name) => !name || ready.has(name))) {
        out.push(n);
        for (const o of n.output) ready.add(o);
        pending.splice(i, 1);
      } else i++;
    }
    if (out.length === before) {
      const produced = new Set(pending.flatMap((n) => n.output));
      const orphan = pending.find((n) => n.input.some((name) => name && !ready.has(name) && !produced.has(name)));
      if (!orphan) throw new Error(`nodes [${pending.map((n) => n.name).join(', ')}] form a cycle`);
      const missing = orphan.input.filter((name) => name && !ready.has(name) && !produced.has(name));
      throw new Error(`${orphan.opType} node '${orphan.name}': inputs [${missing.join(', ')}] are never produced`);
    }
  }
  return out;
}
