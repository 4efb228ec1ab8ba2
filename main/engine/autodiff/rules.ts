// The gradient rules: one entry per ONNX op type, the math beside each rule. A rule receives the forward
// node (its input and output tensors) and the gradients of its outputs, and emits standard ONNX ops that
// compute the gradients of its inputs. Notation: dY is the gradient of the output, ⊙ elementwise product,
// Σ_ax a sum over axes. Rules marked `broadcasts` may return gradients in the broadcast shape; the driver
// sums them back to each input's shape (`sumToShape`).
import { attr, floatAttr, intAttr, intsAttr, stringAttr } from '../onnx/attrs.ts';
import type { NodeProto } from '../onnx/proto.ts';
import { isFloat } from '../onnx/tensor.ts';
import type { GraphBuilder, Tensor } from '../graph/builder.ts';
import { isStatic, normalizeAxis, sameShape } from '../graph/infer.ts';

export interface GradContext {
  g: GraphBuilder;
  node: NodeProto;
  /** Forward inputs (undefined where an optional input is omitted). */
  x: (Tensor | undefined)[];
  /** Forward outputs (undefined where an optional output is omitted). */
  y: (Tensor | undefined)[];
  /** Gradients of the outputs (undefined where no gradient flows into that output). */
  dy: (Tensor | undefined)[];
  /** Which inputs need a gradient; rules skip the others. */
  needs: boolean[];
  /** Forward output `i`, added to the forward node when it was omitted (to reuse a forward statistic). */
  output(i: number): Tensor;
}

export type GradRule = (ctx: GradContext) => (Tensor | undefined)[];

export type RuleEntry =
  | { kind: 'rule'; grad: GradRule; broadcasts?: boolean }
  /** No gradient flows through the op: integer/boolean outputs, or piecewise constant (zero a.e.). */
  | { kind: 'nondifferentiable' };

// ----- helpers for the common rule shapes (as in JAX's ad.py) ---------------------------------------------

const NON_DIFFERENTIABLE: RuleEntry = { kind: 'nondifferentiable' };

function rule(grad: GradRule, broadcasts = false): RuleEntry {
  return { kind: 'rule', grad, broadcasts };
}

/** A one-input op: dX = f(x, y, dY). */
function elementwise(f: (g: GraphBuilder, x: Tensor, y: Tensor, dy: Tensor) => Tensor): RuleEntry {
  return rule(({ g, x, y, dy }) => [f(g, x[0]!, y[0]!, dy[0]!)]);
}

/** An op that only rearranges or broadcasts input 0: dX = transpose(dY) for the given transpose. */
function structural(transpose: (ctx: GradContext, dy: Tensor) => Tensor, broadcasts = false): RuleEntry {
  return rule((ctx) => [transpose(ctx, ctx.dy[0]!)], broadcasts);
}

const c = (g: GraphBuilder, value: number, like: Tensor) => g.scalar(value, like.dtype);

/** `t` reshaped to x's shape (static when known, else through Shape(x)). */
export function reshapeLike(g: GraphBuilder, t: Tensor, x: Tensor): Tensor {
  if (sameShape(t.shape, x.shape)) return t;
  return g.reshape(t, isStatic(x.shape) ? x.shape : g.shape(x));
}

/**
 * Sums a gradient of a broadcast result back to the shape of the input `x`: leading axes are summed
 * away, then axes where x has size 1. Static shapes give a ReduceSum with constant axes; when a dim of x
 * is symbolic, the axes are found at run time (ReduceSum over NonZero(Shape(x) == 1)).
 */
export function sumToShape(g: GraphBuilder, grad: Tensor, x: Tensor): Tensor {
  if (sameShape(grad.shape, x.shape)) return grad;
  if (!x.shape) throw new Error(`cannot sum a gradient back to the shape of '${x.name}', whose rank is unknown`);
  let out: Tensor;
  if (!grad.shape) {
    // Rank unknown until run time: fold every leading axis into one ([-1, last rank(x) dims]) and sum it.
    const rank = x.shape.length;
    const trailing = rank > 0 ? g.slice(g.op('Shape', [grad])[0]!, [-rank], [Number.MAX_SAFE_INTEGER]) : undefined;
    out = g.reduceSum(g.reshape(grad, trailing ? g.concat([g.ints([-1]), trailing], 0) : [-1]), [0], false);
  } else {
    const lead = grad.shape.length - x.shape.length;
    if (lead < 0) throw new Error(`gradient '${grad.name}' has lower rank than '${x.name}'`);
    out =
      lead > 0
        ? g.reduceSum(
            grad,
            Array.from({ length: lead }, (_, i) => i),
            false,
          )
        : grad;
  }
  const axes: number[] = [];
  let dynamic = false;
  x.shape.forEach((xd, i) => {
    const gd = out.shape?.[i];
    if (xd === gd && xd !== null) return;
    if (xd === 1) axes.push(i);
    else if (typeof xd !== 'number') dynamic = true;
  });
  if (dynamic) {
    const ones = g.op('NonZero', [g.equal(g.shape(x), g.scalar(1, 'int64'))])[0]!;
    const dynAxes = g.reshape(ones, [-1]);
    out = g.op('ReduceSum', [out, dynAxes], [attr.int('keepdims', 1), attr.int('noop_with_empty_axes', 1)], { types: [x.type] })[0]!;
  } else if (axes.length > 0) {
    out = g.reduceSum(out, axes, true);
  }
  return out;
}

/** The axes of a Reduce* node (constant input 1, or the attribute of older opsets), normalised. */
function reduceAxes(ctx: GradContext): number[] {
  const { g, node, x } = ctx;
  let axes: number[] | undefined;
  if (node.input[1]) {
    axes = g.constantValue(x[1]!);
    if (!axes) throw new Error(`${node.opType} node '${node.name}': the gradient needs constant axes`);
  } else axes = intsAttr(node, 'axes');
  const rank = x[0]!.rank;
  if (!axes || axes.length === 0) return intAttr(node, 'noop_with_empty_axes', 0) ? [] : Array.from({ length: rank }, (_, i) => i);
  return axes.map((a) => normalizeAxis(a, rank));
}

/** dY of a reduction, with the reduced axes put back as size-1 dims. */
function keepDims(ctx: GradContext, t: Tensor, axes: number[]): Tensor {
  return intAttr(ctx.node, 'keepdims', 1) || axes.length === 0 ? t : ctx.g.unsqueeze(t, axes);
}

function expandLike(g: GraphBuilder, t: Tensor, x: Tensor): Tensor {
  if (sameShape(t.shape, x.shape)) return t;
  return g.expand(t, g.shape(x));
}

function constantInts(ctx: GradContext, i: number, what: string): number[] | undefined {
  const t = ctx.x[i];
  if (!t) return undefined;
  const v = ctx.g.constantValue(t);
  if (!v) throw new Error(`${ctx.node.opType} node '${ctx.node.name}': the gradient needs constant ${what}`);
  return v;
}

function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/** Swaps the last two axes. */
function mT(g: GraphBuilder, t: Tensor): Tensor {
  const r = t.rank;
  return g.transpose(t, [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2]);
}

// ----- the table -------------------------------------------------------------------------------------------

export const RULES: Readonly<Record<string, RuleEntry>> = {
  // Y = A + B:  dA = dY,  dB = dY
  Add: rule(({ dy }) => [dy[0], dy[0]], true),
  // Y = A − B:  dA = dY,  dB = −dY
  Sub: rule(({ g, dy, needs }) => [dy[0], needs[1] ? g.neg(dy[0]!) : undefined], true),
  // Y = A ⊙ B:  dA = dY ⊙ B,  dB = dY ⊙ A
  Mul: rule(({ g, x, dy, needs }) => [needs[0] ? g.mul(dy[0]!, x[1]!) : undefined, needs[1] ? g.mul(dy[0]!, x[0]!) : undefined], true),
  // Y = A / B:  dA = dY / B,  dB = −dY ⊙ Y / B
  Div: rule(({ g, x, y, dy, needs }) => {
    const dA = needs[0] || needs[1] ? g.div(dy[0]!, x[1]!) : undefined;
    return [dA, needs[1] ? g.neg(g.mul(dA!, y[0]!)) : undefined];
  }, true),
  // Y = Σ_i X_i:  dX_i = dY
  Sum: rule(({ x, dy }) => x.map(() => dy[0]), true),
  // Y = (1/n) Σ_i X_i:  dX_i = dY / n
  Mean: rule(({ g, x, dy }) => {
    const share = g.div(dy[0]!, c(g, x.length, dy[0]!));
    return x.map(() => share);
  }, true),
  // Y = A^B:  dA = dY ⊙ B ⊙ A^(B−1),  dB = dY ⊙ Y ⊙ log(A)
  Pow: rule(({ g, x, y, dy, needs }) => {
    const [a, b] = [x[0]!, x[1]!];
    const exponent = g.constantValue(b);
    let dA: Tensor | undefined;
    if (needs[0]) {
      if (exponent?.length === 1 && exponent[0] === 2) dA = g.mul(dy[0]!, g.mul(a, c(g, 2, a)));
      else {
        const bMinus1 = exponent?.length === 1 ? g.scalar(exponent[0]! - 1, b.dtype) : g.sub(b, c(g, 1, b));
        dA = g.mul(dy[0]!, g.mul(b.dtype === a.dtype ? b : g.cast(b, a.dtype), g.pow(a, bMinus1)));
      }
    }
    return [dA, needs[1] ? g.mul(dy[0]!, g.mul(y[0]!, g.log(a))) : undefined];
  }, true),
  // Y = max(A, B):  dA = dY where A ≥ B,  dB = dY where A < B  (ties go to A)
  Max: rule((ctx) => minMax(ctx, 'GreaterOrEqual'), true),
  // Y = min(A, B):  dA = dY where A ≤ B,  dB = dY where A > B  (ties go to A)
  Min: rule((ctx) => minMax(ctx, 'LessOrEqual'), true),
  // Y = where(C, A, B):  dA = where(C, dY, 0),  dB = where(C, 0, dY)
  Where: rule(({ g, x, dy, needs }) => {
    const zero = c(g, 0, dy[0]!);
    return [undefined, needs[1] ? g.where(x[0]!, dy[0]!, zero) : undefined, needs[2] ? g.where(x[0]!, zero, dy[0]!) : undefined];
  }, true),

  // Y = −X:  dX = −dY
  Neg: elementwise((g, _x, _y, dy) => g.neg(dy)),
  // Y = X:  dX = dY
  Identity: elementwise((_g, _x, _y, dy) => dy),
  // Y = √X:  dX = dY ⊙ 0.5 / Y
  Sqrt: elementwise((g, _x, y, dy) => g.div(g.mul(dy, c(g, 0.5, dy)), y)),
  // Y = 1/X:  dX = −dY ⊙ Y²
  Reciprocal: elementwise((g, _x, y, dy) => g.neg(g.mul(dy, g.mul(y, y)))),
  // Y = eˣ:  dX = dY ⊙ Y
  Exp: elementwise((g, _x, y, dy) => g.mul(dy, y)),
  // Y = log X:  dX = dY / X
  Log: elementwise((g, x, _y, dy) => g.div(dy, x)),
  // Y = tanh X:  dX = dY ⊙ (1 − Y²)
  Tanh: elementwise((g, _x, y, dy) => g.mul(dy, g.sub(c(g, 1, y), g.mul(y, y)))),
  // Y = σ(X):  dX = dY ⊙ Y ⊙ (1 − Y)
  Sigmoid: elementwise((g, _x, y, dy) => g.mul(dy, g.mul(y, g.sub(c(g, 1, y), y)))),
  // Y = erf X:  dX = dY ⊙ 2/√π ⊙ exp(−X²)
  Erf: elementwise((g, x, _y, dy) => g.mul(dy, g.mul(c(g, 2 / Math.sqrt(Math.PI), x), g.exp(g.neg(g.mul(x, x)))))),
  // Y = sin X:  dX = dY ⊙ cos X
  Sin: elementwise((g, x, _y, dy) => g.mul(dy, g.cos(x))),
  // Y = cos X:  dX = −dY ⊙ sin X
  Cos: elementwise((g, x, _y, dy) => g.neg(g.mul(dy, g.sin(x)))),
  // Y = max(X, 0):  dX = dY where X > 0
  Relu: elementwise((g, x, _y, dy) => g.where(g.greater(x, c(g, 0, x)), dy, c(g, 0, dy))),
  // Y = |X|:  dX = dY ⊙ sign(X)
  Abs: elementwise((g, x, _y, dy) => g.mul(dy, g.op('Sign', [x])[0]!)),
  // Y = x·Φ(x):  dX = dY ⊙ (Φ(x) + x·φ(x));  tanh form: Y = ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³),
  //   dX = dY ⊙ (½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²))
  Gelu: rule(({ g, node, x, dy }) => [geluGrad(g, x[0]!, dy[0]!, stringAttr(node, 'approximate', 'none'))]),
  // Y = X (X ≥ 0) or α·X:  dX = dY where X ≥ 0, α·dY elsewhere
  LeakyRelu: rule(({ g, node, x, dy }) => {
    const alpha = floatAttr(node, 'alpha', 0.01);
    return [g.where(g.greaterOrEqual(x[0]!, c(g, 0, x[0]!)), dy[0]!, g.mul(dy[0]!, c(g, alpha, dy[0]!)))];
  }),
  // Y = X (X > 0) or α·(eˣ − 1):  dX = dY where X > 0, dY ⊙ (Y + α) elsewhere
  Elu: rule(({ g, node, x, y, dy }) => {
    const alpha = floatAttr(node, 'alpha', 1);
    return [g.where(g.greater(x[0]!, c(g, 0, x[0]!)), dy[0]!, g.mul(dy[0]!, g.add(y[0]!, c(g, alpha, y[0]!))))];
  }),
  // Y = log(1 + eˣ):  dX = dY ⊙ σ(X)
  Softplus: elementwise((g, x, _y, dy) => g.mul(dy, g.sigmoid(x))),
  // Y = Dropout(X) in inference mode is X:  dX = dY  (training mode is random: not differentiated)
  Dropout: rule(({ g, node, x, dy }) => {
    const training = x[2] ? g.constantValue(x[2]) : [0];
    if (training?.[0] !== 0) throw new Error(`Dropout node '${node.name}': gradient of training-mode dropout is not supported`);
    return [dy[0]];
  }),
  // Y = trilu(X, k):  dX = trilu(dY, k)  (a mask: linear and self-adjoint)
  Trilu: rule(({ g, node, x, dy }) => [g.op('Trilu', [dy[0]!, x[1]], node.attribute)[0]!, undefined]),
  // Y = clip(X, lo, hi):  dX = dY where lo ≤ X ≤ hi  (no gradient for the bounds)
  Clip: rule(({ g, x, dy }) => {
    const checks = [x[1] && g.greaterOrEqual(x[0]!, x[1]), x[2] && g.lessOrEqual(x[0]!, x[2])].filter((t): t is Tensor => !!t);
    if (checks.length === 0) return [dy[0]];
    const inside = checks.length === 2 ? g.and(checks[0]!, checks[1]!) : checks[0]!;
    return [g.where(inside, dy[0]!, c(g, 0, dy[0]!))];
  }),
  // Y = cast(X):  dX = cast(dY) back to X's type (integer inputs get none)
  Cast: rule(({ g, x, dy }) => [isFloat(x[0]!.dtype) ? (x[0]!.dtype === dy[0]!.dtype ? dy[0] : g.cast(dy[0]!, x[0]!.dtype)) : undefined]),

  // Y = softmax(X):  dX = Y ⊙ (dY − Σ_axis(dY ⊙ Y))
  Softmax: rule(({ g, node, x, y, dy }) => {
    const axis = normalizeAxis(intAttr(node, 'axis', -1), x[0]!.rank);
    const yv = y[0]!;
    return [g.mul(yv, g.sub(dy[0]!, g.reduceSum(g.mul(dy[0]!, yv), [axis], true)))];
  }),
  // Y = log softmax(X):  dX = dY − exp(Y) ⊙ Σ_axis dY
  LogSoftmax: rule(({ g, node, x, y, dy }) => {
    const axis = normalizeAxis(intAttr(node, 'axis', -1), x[0]!.rank);
    return [g.sub(dy[0]!, g.mul(g.exp(y[0]!), g.reduceSum(dy[0]!, [axis], true)))];
  }),

  // Y = A·B (batched):  dA = dY·Bᵀ,  dB = Aᵀ·dY  (batch axes summed back by the driver)
  MatMul: rule(matmulGrad, true),
  // Y = α·A'·B' + β·C with A' = op(A):  dA' = α·dY·B'ᵀ,  dB' = α·A'ᵀ·dY,  dC = β·dY (summed to C's shape)
  Gemm: rule(gemmGrad, true),

  // Y = Σ_axes X:  dX = expand(dY, shape(X))
  ReduceSum: rule((ctx) => {
    const axes = reduceAxes(ctx);
    return [expandLike(ctx.g, keepDims(ctx, ctx.dy[0]!, axes), ctx.x[0]!)];
  }),
  // Y = mean_axes X:  dX = expand(dY, shape(X)) / n,  n = |X| / |Y|
  ReduceMean: rule((ctx) => {
    const { g, x, y, dy } = ctx;
    const axes = reduceAxes(ctx);
    const xs = x[0]!.shape!;
    const count = axes.every((a) => typeof xs[a] === 'number')
      ? g.scalar(
          axes.reduce((n, a) => n * (xs[a] as number), 1),
          dy[0]!.dtype,
        )
      : g.div(g.cast(g.op('Size', [x[0]!])[0]!, dy[0]!.dtype), g.cast(g.op('Size', [y[0]!])[0]!, dy[0]!.dtype));
    return [expandLike(g, keepDims(ctx, g.div(dy[0]!, count), axes), x[0]!)];
  }),
  // Y = max_axes X (or min):  dX = dY ⊙ [X = Y] / #ties  (ties share the gradient)
  ReduceMax: rule(reduceExtremumGrad),
  ReduceMin: rule(reduceExtremumGrad),

  // Y = reshape(X):  dX = reshape(dY, shape(X))   (same for Squeeze, Unsqueeze, Flatten)
  Reshape: structural(({ g, x }, dy) => reshapeLike(g, dy, x[0]!)),
  Squeeze: structural(({ g, x }, dy) => reshapeLike(g, dy, x[0]!)),
  Unsqueeze: structural(({ g, x }, dy) => reshapeLike(g, dy, x[0]!)),
  Flatten: structural(({ g, x }, dy) => reshapeLike(g, dy, x[0]!)),
  // Y = transpose(X, p):  dX = transpose(dY, p⁻¹)
  Transpose: structural(({ g, node, x }, dy) => {
    const perm = intsAttr(node, 'perm') ?? Array.from({ length: x[0]!.rank }, (_, i) => x[0]!.rank - 1 - i);
    return g.transpose(dy, inversePerm(perm));
  }),
  // Y = expand(X, s):  dX = Σ over the broadcast axes of dY
  Expand: structural((_ctx, dy) => dy, true),
  // Y = concat(X_1..X_n, axis):  dX_i = split(dY, sizes(X_i), axis)_i
  Concat: rule(concatGrad),
  // Y_1..Y_n = split(X, axis):  dX = concat(dY_i (zeros where absent), axis)
  Split: rule(({ g, node, y, dy }) => {
    const axis = intAttr(node, 'axis', 0);
    return [
      g.concat(
        dy.map((d, i) => d ?? g.fullLike(y[i]!, 0)),
        axis,
      ),
    ];
  }),
  // Y = X[starts:ends:steps]:  dX = pad(dY) with zeros back to X's shape (constant starts, step 1, static
  //   sizes); otherwise dX = scatter-add of dY to where each element came from (see `scatterBack`), which
  //   takes starts, ends and shapes computed at run time.
  Slice: rule(sliceGrad),
  // Y = pad(X):  dX = dY with the padding sliced away (constant pads, mode 'constant'); otherwise the
  //   scatter-add of `scatterBack` (pads from Shape at run time, reflect/edge modes, negative pads)
  Pad: rule(padGrad),
  // Y = tile(X, r):  dX = Σ over the r copies of dY (scatter-add of `scatterBack`, repeats may be run-time)
  Tile: rule((ctx) => [scatterBack(ctx, (index) => ctx.g.op('Tile', [index, ctx.x[1]!])[0]!), undefined]),
  // Y = gather(X, I, axis):  dX = scatter-add of dY into zeros(shape(X)) at I along axis
  Gather: rule(gatherGrad),
  // Y = X[…, I[…], …] along axis:  dX = scatter-add of dY into zeros(shape(X)) at I along axis
  GatherElements: rule(({ g, node, x, dy }) => {
    const axis = intAttr(node, 'axis', 0);
    return [g.scatterElements(g.fullLike(x[0]!, 0), x[1]!, dy[0]!, axis, 'add'), undefined];
  }),

  // LayerNorm: x̂ = (X − μ)·r, r = 1/√(σ² + ε), Y = x̂ ⊙ γ + β, over the axes from `axis` on.
  //   dγ = Σ_batch dY ⊙ x̂,  dβ = Σ_batch dY,  g = dY ⊙ γ,
  //   dX = r ⊙ (g − mean_norm(g) − x̂ ⊙ mean_norm(g ⊙ x̂))
  // μ and r are the forward node's Mean/InvStdDev outputs (kept, not recomputed).
  LayerNormalization: rule(layerNormGrad, true),
  // InstanceNorm (torch's GroupNorm exports as Reshape → InstanceNorm → Reshape → Mul γ → Add β):
  //   x̂ = (X − μ)·r over the spatial axes of each (n, c), Y = x̂ ⊙ s_c + b_c
  //   ds = Σ_{n,spatial} dY ⊙ x̂,  db = Σ_{n,spatial} dY,  g = dY ⊙ s,  dX = r ⊙ (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂))
  InstanceNormalization: rule(instanceNormGrad),
  // GroupNorm: x̂ = (X − μ)·r over each group of C/G channels and the spatial axes, Y = x̂ ⊙ s + b with s,
  //   b per channel (opset 21) or per group (opset 18); the same three gradients, summed per group at 18.
  GroupNormalization: rule(groupNormGrad),

  // Conv: Y = Σ_k W_k ⋆ X (strides s, dilations d, pads p, groups G):
  //   dX = convTranspose(dY, W) with the same s, d, p, G (output_padding restores X's size);
  //   dW[m, c, k] = Σ_{n, y} dY[n, m, y] X[n, c, y·s + k·d − p]: a conv of Xᵀ (channels as batch) by dYᵀ
  //   with strides d and dilations s, per group;  dB = Σ_{n, spatial} dY
  Conv: rule(convGrad),
  // ConvTranspose is Conv's adjoint in X:  dX = conv(dY, W) with the same s, d, p, G;
  //   dW[c, m, k] = Σ_{n, y} X[n, c, y] dY[n, m, y·s + k·d − p]: a conv of dYᵀ by Xᵀ, per group;  dB = Σ dY
  ConvTranspose: rule(convTransposeGrad),
  // Resize (nearest or linear, constant scales or sizes, static input sizes) is linear and separable:
  //   Y = A_h X A_wᵀ over the resized axes with interpolation matrices A [out, in] built on the host from
  //   the same coordinate rule as the forward op;  dX = A_hᵀ dY A_w
  Resize: rule(resizeGrad),

  Shape: NON_DIFFERENTIABLE,
  Size: NON_DIFFERENTIABLE,
  Equal: NON_DIFFERENTIABLE,
  Less: NON_DIFFERENTIABLE,
  Greater: NON_DIFFERENTIABLE,
  LessOrEqual: NON_DIFFERENTIABLE,
  GreaterOrEqual: NON_DIFFERENTIABLE,
  Not: NON_DIFFERENTIABLE,
  And: NON_DIFFERENTIABLE,
  Or: NON_DIFFERENTIABLE,
  Xor: NON_DIFFERENTIABLE,
  Range: NON_DIFFERENTIABLE,
  ConstantOfShape: NON_DIFFERENTIABLE,
  Constant: NON_DIFFERENTIABLE,
  ArgMax: NON_DIFFERENTIABLE,
  ArgMin: NON_DIFFERENTIABLE,
  NonZero: NON_DIFFERENTIABLE,
  Sign: NON_DIFFERENTIABLE,
  Floor: NON_DIFFERENTIABLE,
  Ceil: NON_DIFFERENTIABLE,
  Round: NON_DIFFERENTIABLE,
  RandomNormalLike: NON_DIFFERENTIABLE,
  RandomUniformLike: NON_DIFFERENTIABLE,
};

// ----- the longer rules --------------------------------------------------------------------------------------

function reduceExtremumGrad(ctx: GradContext): (Tensor | undefined)[] {
  const { g, x, y, dy } = ctx;
  const axes = reduceAxes(ctx);
  const mask = g.cast(g.equal(x[0]!, keepDims(ctx, y[0]!, axes)), dy[0]!.dtype);
  const share = g.div(keepDims(ctx, dy[0]!, axes), g.reduceSum(mask, axes, true));
  return [g.mul(mask, share)];
}

function minMax({ g, x, dy, needs }: GradContext, aWins: 'GreaterOrEqual' | 'LessOrEqual'): (Tensor | undefined)[] {
  if (x.length === 1) return [dy[0]];
  if (x.length !== 2) throw new Error(`Max/Min gradient supports 1 or 2 inputs, got ${x.length}`);
  const mask = g.op(aWins, [x[0]!, x[1]!])[0]!;
  const zero = c(g, 0, dy[0]!);
  return [needs[0] ? g.where(mask, dy[0]!, zero) : undefined, needs[1] ? g.where(mask, zero, dy[0]!) : undefined];
}

function geluGrad(g: GraphBuilder, x: Tensor, dy: Tensor, approximate: string): Tensor {
  if (approximate === 'tanh') {
    const k = Math.sqrt(2 / Math.PI);
    const x2 = g.mul(x, x);
    const u = g.mul(g.mul(x, g.add(g.mul(x2, c(g, 0.044715, x)), c(g, 1, x))), c(g, k, x));
    const t = g.tanh(u);
    const du = g.mul(g.add(g.mul(x2, c(g, 3 * 0.044715, x)), c(g, 1, x)), c(g, k, x));
    const outer = g.mul(g.add(t, c(g, 1, x)), c(g, 0.5, x));
    const inner = g.mul(g.mul(g.mul(x, c(g, 0.5, x)), g.sub(c(g, 1, x), g.mul(t, t))), du);
    return g.mul(dy, g.add(outer, inner));
  }
  const cdf = g.mul(g.add(g.erf(g.mul(x, c(g, Math.SQRT1_2, x))), c(g, 1, x)), c(g, 0.5, x));
  const pdf = g.mul(g.exp(g.mul(g.mul(x, x), c(g, -0.5, x))), c(g, 1 / Math.sqrt(2 * Math.PI), x));
  return g.mul(dy, g.add(cdf, g.mul(x, pdf)));
}

function matmulGrad({ g, x, dy, needs }: GradContext): (Tensor | undefined)[] {
  let [a, b] = [x[0]!, x[1]!];
  let d = dy[0]!;
  // 1-D operands are promoted to matrices (as MatMul defines) and the added axis removed afterwards.
  const aVec = a.rank === 1;
  const bVec = b.rank === 1;
  if (aVec) {
    a = g.unsqueeze(a, [0]);
    d = g.unsqueeze(d, [bVec ? 0 : -2]);
  }
  if (bVec) {
    b = g.unsqueeze(b, [1]);
    d = g.unsqueeze(d, [-1]);
  }
  let dA: Tensor | undefined;
  let dB: Tensor | undefined;
  const n = b.shape![b.rank - 1];
  const k = b.shape![b.rank - 2];
  if (b.rank === 2 && typeof n === 'number' && typeof k === 'number') {
    // Weight-shaped B [K, N]: fold A's batch axes into rows so both products are single 2-D Gemms.
    //   dA = dY·Bᵀ  → Gemm(dY₂, B, transB),  dB = Aᵀ·dY → Gemm(A₂, dY₂, transA)
    const d2 = d.rank === 2 ? d : g.reshape(d, [-1, n]);
    if (needs[0]) dA = reshapeLike(g, g.gemm(d2, b, undefined, { transB: true }), a);
    if (needs[1]) dB = g.gemm(a.rank === 2 ? a : g.reshape(a, [-1, k]), d2, undefined, { transA: true });
  } else {
    if (needs[0]) dA = g.matmul(d, mT(g, b));
    if (needs[1]) dB = g.matmul(mT(g, a), d);
  }
  if (aVec && dA) dA = sumToShape(g, dA, a);
  if (bVec && dB) dB = sumToShape(g, dB, b);
  return [dA && aVec ? g.squeeze(dA, [0]) : dA, dB && bVec ? g.squeeze(dB, [1]) : dB];
}

function gemmGrad({ g, node, x, dy, needs }: GradContext): (Tensor | undefined)[] {
  const [a, b, cIn] = x;
  const d = dy[0]!;
  const transA = intAttr(node, 'transA', 0) === 1;
  const transB = intAttr(node, 'transB', 0) === 1;
  const alpha = floatAttr(node, 'alpha', 1);
  const beta = floatAttr(node, 'beta', 1);
  // transA = 0: dA = α·dY·B'ᵀ;  transA = 1: dA = α·B'·dYᵀ
  const dA = !needs[0]
    ? undefined
    : transA
      ? g.gemm(b!, d, undefined, { transA: transB, transB: true, alpha })
      : g.gemm(d, b!, undefined, { transB: !transB, alpha });
  // transB = 0: dB = α·A'ᵀ·dY;  transB = 1: dB = α·dYᵀ·A'
  const dB = !needs[1]
    ? undefined
    : transB
      ? g.gemm(d, a!, undefined, { transA: true, transB: transA, alpha })
      : g.gemm(a!, d, undefined, { transA: !transA, alpha });
  const dC = cIn && needs[2] ? (beta === 1 ? d : g.mul(d, c(g, beta, d))) : undefined;
  return [dA, dB, dC];
}

function concatGrad({ g, node, x, dy, needs }: GradContext): (Tensor | undefined)[] {
  const d = dy[0]!;
  const axis = normalizeAxis(intAttr(node, 'axis', 0), d.rank);
  if (x.length === 1) return [d];
  const sizes = x.map((t) => t!.shape?.[axis]);
  const pieces = sizes.every((s): s is number => typeof s === 'number')
    ? g.split(d, sizes, axis)
    : g.splitDynamic(
        d,
        g.concat(
          x.map((t) => g.slice(g.op('Shape', [t!])[0]!, [axis], [axis + 1])),
          0,
        ),
        x.length,
        axis,
      );
  return pieces.map((p, i) => (needs[i] ? p : undefined));
}

/**
 * The adjoint of an op that only moves, copies or drops elements of input 0 (Slice, Pad, Tile): `rerun`
 * applies the same op to the flat index of every element of X, so each output element says where it came
 * from, and dX is dY scatter-added back to those places. Elements the op invents (constant padding) take
 * the index N, an extra slot that is dropped. Starts, pads, repeats and shapes may all be computed at run
 * time; repeated sources (Tile, reflect padding) add up.
 */
function scatterBack(ctx: GradContext, rerun: (index: Tensor, invented: Tensor) => Tensor): Tensor {
  const { g, x, dy } = ctx;
  const data = x[0]!;
  const count = g.op('Size', [data])[0]!;
  const index = g.reshape(g.range(0, count, 1), g.shape(data));
  const source = g.reshape(rerun(index, count), [-1]);
  const slots = g.constantOfShape(g.reshape(g.add(count, 1), [1]), 0, dy[0]!.dtype);
  const summed = g.scatterElements(slots, source, g.reshape(dy[0]!, [-1]), 0, 'add');
  return g.reshape(g.slice(summed, g.ints([0]), g.reshape(count, [1])), g.shape(data));
}

/** Constant values of input i, or undefined when it is absent or computed at run time. */
function constantInput(ctx: GradContext, i: number): number[] | undefined {
  const t = ctx.x[i];
  return t ? ctx.g.constantValue(t) : undefined;
}

function sliceGrad(ctx: GradContext): (Tensor | undefined)[] {
  const { g, x, dy } = ctx;
  const data = x[0]!;
  const rank = data.rank;
  const starts = constantInput(ctx, 1);
  const ends = constantInput(ctx, 2);
  const axes = x[3] ? constantInput(ctx, 3) : starts?.map((_, i) => i);
  const steps = x[4] ? constantInput(ctx, 4) : starts?.map(() => 1);
  const padded =
    starts && ends && axes && steps?.every((s) => s === 1) && axes.every((a) => typeof data.shape![normalizeAxis(a, rank)] === 'number');
  if (!padded) return [scatterBack(ctx, (index) => g.op('Slice', [index, ...x.slice(1)])[0]!)];
  const pads = new Array<number>(2 * rank).fill(0);
  axes.forEach((axisIn, i) => {
    const axis = normalizeAxis(axisIn, rank);
    const dim = data.shape![axis] as number;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
    const start = clamp(starts[i]!);
    const end = Math.max(clamp(ends[i]!), start);
    pads[axis] = start;
    pads[axis + rank] = dim - end;
  });
  return [g.pad(dy[0]!, pads)];
}

function padGrad(ctx: GradContext): (Tensor | undefined)[] {
  const { g, node, x, dy } = ctx;
  const mode = stringAttr(node, 'mode', 'constant');
  const pads = x[3] ? undefined : constantInput(ctx, 1);
  const rank = x[0]!.rank;
  if (mode !== 'constant' || !pads || pads.some((p) => p < 0)) {
    return [scatterBack(ctx, (index, invented) => g.op('Pad', [index, x[1], invented, x[3]], node.attribute)[0]!)];
  }
  const axes = Array.from({ length: rank }, (_, i) => i).filter((i) => pads[i]! > 0 || pads[i + rank]! > 0);
  if (axes.length === 0) return [dy[0]];
  const starts = axes.map((i) => pads[i]!);
  const ends = axes.map((i) => (pads[i + rank]! > 0 ? -pads[i + rank]! : Number.MAX_SAFE_INTEGER));
  return [g.slice(dy[0]!, starts, ends, axes)];
}

function gatherGrad(ctx: GradContext): (Tensor | undefined)[] {
  const { g, node, x, dy } = ctx;
  const [data, indices] = [x[0]!, x[1]!];
  const rank = data.rank;
  const q = indices.rank;
  const axis = normalizeAxis(intAttr(node, 'axis', 0), rank);
  // Move the gathered axis to the front: zeros [S_axis, ...rest], dY rows [...I, ...rest] -> [N, ...rest].
  const dataPerm = [axis, ...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis)];
  const dyAxes = Array.from({ length: dy[0]!.rank }, (_, i) => i);
  const dyPerm = [...dyAxes.slice(axis, axis + q), ...dyAxes.slice(0, axis), ...dyAxes.slice(axis + q)];
  const zeros = g.fullLike(g.transpose(data, dataPerm), 0);
  const rowShape = g.concat([g.ints([-1]), g.slice(g.shape(zeros), [1], [rank])], 0);
  const rows = g.reshape(g.transpose(dy[0]!, dyPerm), rowShape);
  // ScatterElements, not ScatterND: ORT's CPU ScatterND splits the update rows over threads, so rows with
  // the same index race and lose updates (seen with 8-16 threads); ScatterElements walks the scattered
  // axis serially within each work unit, so repeated indices add up exactly.
  const flatIndex = g.reshape(indices.dtype === 'int64' ? indices : g.cast(indices, 'int64'), [-1, ...Array<number>(rank - 1).fill(1)]);
  const scattered = g.scatterElements(zeros, g.expand(flatIndex, g.shape(rows)), rows, 0, 'add');
  return [g.transpose(scattered, inversePerm(dataPerm)), undefined];
}

function layerNormGrad(ctx: GradContext): (Tensor | undefined)[] {
  const { g, node, x, dy, needs } = ctx;
  const [input, scale] = [x[0]!, x[1]!];
  const d = dy[0]!;
  const rank = input.rank;
  const axis = normalizeAxis(intAttr(node, 'axis', -1), rank);
  const batchAxes = Array.from({ length: axis }, (_, i) => i);
  const normAxes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  const asInput = (t: Tensor) => (t.dtype === input.dtype ? t : g.cast(t, input.dtype));
  const mean = asInput(ctx.output(1));
  const invStd = asInput(ctx.output(2));
  const xhat = g.mul(g.sub(input, mean), invStd);
  const sumBatch = (t: Tensor) => (batchAxes.length ? g.reduceSum(t, batchAxes, false) : t);
  const dScale = needs[1] ? sumBatch(g.mul(d, xhat)) : undefined;
  const dBias = x[2] && needs[2] ? sumBatch(d) : undefined;
  return [needs[0] ? normalizedInputGrad(g, g.mul(d, scale), xhat, invStd, normAxes) : undefined, dScale, dBias];
}

/** dX of x̂ = (X − μ)·r over `axes`, given g = dY ⊙ scale:  r ⊙ (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)). */
function normalizedInputGrad(g: GraphBuilder, gx: Tensor, xhat: Tensor, invStd: Tensor, axes: number[]): Tensor {
  const centered = g.sub(gx, g.reduceMean(gx, axes, true));
  return g.mul(invStd, g.sub(centered, g.mul(xhat, g.reduceMean(g.mul(gx, xhat), axes, true))));
}

function instanceNormGrad(ctx: GradContext): (Tensor | undefined)[] {
  const { g, node, x, dy, needs } = ctx;
  const [input, scale] = [x[0]!, x[1]!];
  const d = dy[0]!;
  const rank = input.rank;
  const spatial = Array.from({ length: rank - 2 }, (_, i) => i + 2);
  const perChannel = (t: Tensor) => g.reshape(t, [-1, ...Array<number>(rank - 2).fill(1)]); // [C] → [C, 1, …]
  // μ and r are recomputed: InstanceNormalization has no statistic outputs to keep.
  const centeredX = g.sub(input, g.reduceMean(input, spatial, true));
  const invStd = g.reciprocal(
    g.sqrt(g.add(g.reduceMean(g.mul(centeredX, centeredX), spatial, true), c(g, floatAttr(node, 'epsilon', 1e-5), input))),
  );
  const xhat = g.mul(centeredX, invStd);
  const batchAndSpatial = [0, ...spatial];
  return [
    needs[0] ? normalizedInputGrad(g, g.mul(d, perChannel(scale)), xhat, invStd, spatial) : undefined,
    needs[1] ? g.reduceSum(g.mul(d, xhat), batchAndSpatial, false) : undefined,
    needs[2] ? g.reduceSum(d, batchAndSpatial, false) : undefined,
  ];
}

function groupNormGrad(ctx: GradContext): (Tensor | undefined)[] {
  const { g, node, x, dy, needs } = ctx;
  const [input, scale] = [x[0]!, x[1]!];
  const d = dy[0]!;
  const rank = input.rank;
  const groups = intAttr(node, 'num_groups', 1);
  const channels = input.shape![1];
  if (typeof channels !== 'number') throw new Error(`GroupNormalization node '${node.name}': the gradient needs a static channel count`);
  const perGroupScale = g.opset < 21; // opset 18: scale and bias [G]; 21: [C]
  const grouped = (t: Tensor) => g.reshape(t, [0, groups, -1]); // [N, G, C/G · spatial]
  const xg = grouped(input);
  const centered = g.sub(xg, g.reduceMean(xg, [2], true));
  const invStd = g.reciprocal(
    g.sqrt(g.add(g.reduceMean(g.mul(centered, centered), [2], true), c(g, floatAttr(node, 'epsilon', 1e-5), input))),
  );
  const xhatGrouped = g.mul(centered, invStd);
  const xhat = g.reshape(xhatGrouped, g.shape(input));
  const trailingOnes = Array<number>(rank - 2).fill(1);
  const channelScale = perGroupScale
    ? g.reshape(g.expand(g.reshape(scale, [groups, 1]), [groups, channels / groups]), [channels, ...trailingOnes])
    : g.reshape(scale, [channels, ...trailingOnes]);
  const batchAndSpatial = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
  const perParameter = (t: Tensor) => {
    const perChannel = g.reduceSum(t, batchAndSpatial, false); // [C]
    return perGroupScale ? g.reduceSum(g.reshape(perChannel, [groups, channels / groups]), [1], false) : perChannel;
  };
  const dX = needs[0]
    ? g.reshape(normalizedInputGrad(g, grouped(g.mul(d, channelScale)), xhatGrouped, invStd, [2]), g.shape(input))
    : undefined;
  return [dX, needs[1] ? perParameter(g.mul(d, xhat)) : undefined, needs[2] ? perParameter(d) : undefined];
}

/** Conv / ConvTranspose attributes with their defaults; explicit pads only (auto_pad NOTSET or VALID). */
function convAttrs(ctx: GradContext) {
  const { node, x } = ctx;
  const spatial = x[0]!.rank - 2;
  const autoPad = stringAttr(node, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID')
    throw new Error(`${node.opType} node '${node.name}': the gradient needs explicit pads (auto_pad ${autoPad})`);
  if (intsAttr(node, 'output_shape')) throw new Error(`${node.opType} node '${node.name}': the gradient needs pads, not output_shape`);
  const ones = Array<number>(spatial).fill(1);
  const kernel = x[1]!.shape!.slice(2);
  if (!isStatic(kernel)) throw new Error(`${node.opType} node '${node.name}': the gradient needs a static kernel shape`);
  return {
    spatial,
    kernel,
    strides: intsAttr(node, 'strides') ?? ones,
    dilations: intsAttr(node, 'dilations') ?? ones,
    pads: intsAttr(node, 'pads') ?? Array<number>(2 * spatial).fill(0),
    group: intAttr(node, 'group', 1),
  };
}

const convOp = (
  g: GraphBuilder,
  op: 'Conv' | 'ConvTranspose',
  x: Tensor,
  w: Tensor,
  a: { strides: number[]; dilations: number[]; pads: number[]; group: number; outputPadding?: number[] },
) =>
  g.op(
    op,
    [x, w],
    [
      attr.ints('strides', a.strides),
      attr.ints('dilations', a.dilations),
      attr.ints('pads', a.pads),
      attr.int('group', a.group),
      ...(a.outputPadding?.some((p) => p > 0) ? [attr.ints('output_padding', a.outputPadding)] : []),
    ],
  )[0]!;

/**
 * dW of a conv-like op as a conv over the batch: `input` [N, A, …] by `filter` [N, B, …], both with channels
 * and batch swapped, strides and dilations swapped, per group; cut to the kernel size and laid out
 * [B, A/G, k…] (Conv: input X, filter dY → [M, C/G, k]; ConvTranspose: input dY, filter X → [C, M/G, k]).
 */
function weightGrad(g: GraphBuilder, input: Tensor, filter: Tensor, a: ReturnType<typeof convAttrs>): Tensor {
  const toChannelsFirst = (t: Tensor) => g.transpose(t, [1, 0, ...Array.from({ length: a.spatial }, (_, i) => i + 2)]);
  const inputs = a.group > 1 ? g.split(toChannelsFirst(input), a.group, 0) : [toChannelsFirst(input)];
  const filters = a.group > 1 ? g.split(toChannelsFirst(filter), a.group, 0) : [toChannelsFirst(filter)];
  const spatialAxes = Array.from({ length: a.spatial }, (_, i) => i + 2);
  const perGroup = inputs.map((inp, j) => {
    // full: [A/G, B/G, k']
    const full = convOp(g, 'Conv', inp, filters[j]!, { strides: a.dilations, dilations: a.strides, pads: a.pads, group: 1 });
    const cut = g.slice(full, Array<number>(a.spatial).fill(0), a.kernel, spatialAxes);
    return g.transpose(cut, [1, 0, ...spatialAxes]);
  });
  return g.concat(perGroup, 0);
}

function convGrad(ctx: GradContext): (Tensor | undefined)[] {
  const { g, node, x, dy, needs } = ctx;
  const a = convAttrs(ctx);
  const d = dy[0]!;
  let dX: Tensor | undefined;
  if (needs[0]) {
    const sizes = x[0]!.shape!.slice(2);
    const strided = a.strides.some((st) => st !== 1);
    if (strided && !isStatic(sizes))
      throw new Error(`Conv node '${node.name}': the input gradient of a strided conv needs static spatial sizes`);
    // ConvTranspose gives s·(H'−1) + d·(k−1) + 1 − pads; the rows the forward stride skipped come back as
    // output_padding (none at stride 1, whatever the sizes).
    const outputPadding = strided
      ? (sizes as number[]).map(
          (h, i) => (h + a.pads[i]! + a.pads[i + a.spatial]! - a.dilations[i]! * (a.kernel[i]! - 1) - 1) % a.strides[i]!,
        )
      : undefined;
    dX = convOp(g, 'ConvTranspose', d, x[1]!, outputPadding ? { ...a, outputPadding } : a);
  }
  const dW = needs[1] ? weightGrad(g, x[0]!, d, a) : undefined;
  const dB = x[2] && needs[2] ? g.reduceSum(d, [0, ...Array.from({ length: a.spatial }, (_, i) => i + 2)], false) : undefined;
  return [dX, dW, dB];
}

function convTransposeGrad(ctx: GradContext): (Tensor | undefined)[] {
  const { g, x, dy, needs } = ctx;
  const a = convAttrs(ctx);
  const d = dy[0]!;
  const dX = needs[0] ? convOp(g, 'Conv', d, x[1]!, a) : undefined;
  const dW = needs[1] ? weightGrad(g, d, x[0]!, a) : undefined;
  const dB = x[2] && needs[2] ? g.reduceSum(d, [0, ...Array.from({ length: a.spatial }, (_, i) => i + 2)], false) : undefined;
  return [dX, dW, dB];
}

/** Where output coordinate `o` of a resized axis falls in the input (ONNX Resize's coordinate_transformation_mode). */
function sourceCoordinate(mode: string, o: number, scale: number, inSize: number, outSize: number): number {
  switch (mode) {
    case 'half_pixel':
      return (o + 0.5) / scale - 0.5;
    case 'pytorch_half_pixel':
      return outSize > 1 ? (o + 0.5) / scale - 0.5 : 0;
    case 'align_corners':
      return outSize === 1 ? 0 : (o * (inSize - 1)) / (outSize - 1);
    case 'asymmetric':
      return o / scale;
    case 'tf_half_pixel_for_nn':
      return (o + 0.5) / scale;
    default:
      throw new Error(`Resize gradient: coordinate_transformation_mode '${mode}' is not supported`);
  }
}

const NEAREST: Record<string, (v: number) => number> = {
  round_prefer_floor: (v) => (v % 1 === 0.5 ? Math.floor(v) : Math.round(v)),
  round_prefer_ceil: (v) => Math.round(v),
  floor: Math.floor,
  ceil: Math.ceil,
};

/** The interpolation matrix [out, in] of one resized axis (row o: the weights of the inputs output o reads). */
function resizeMatrix(node: NodeProto, inSize: number, outSize: number, scale: number): Float32Array {
  const mode = stringAttr(node, 'mode', 'nearest');
  const coordinate = stringAttr(node, 'coordinate_transformation_mode', 'half_pixel');
  const m = new Float32Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const src = sourceCoordinate(coordinate, o, scale, inSize, outSize);
    if (mode === 'nearest') {
      const round = NEAREST[stringAttr(node, 'nearest_mode', 'round_prefer_floor')];
      if (!round) throw new Error(`Resize node '${node.name}': nearest_mode '${stringAttr(node, 'nearest_mode', '')}' is not supported`);
      m[o * inSize + Math.min(Math.max(round(src), 0), inSize - 1)] = 1;
    } else if (mode === 'linear') {
      const clamped = Math.min(Math.max(src, 0), inSize - 1);
      const lo = Math.floor(clamped);
      const hi = Math.min(lo + 1, inSize - 1);
      m[o * inSize + lo]! += 1 - (clamped - lo);
      m[o * inSize + hi]! += clamped - lo;
    } else throw new Error(`Resize node '${node.name}': the gradient supports modes nearest and linear, not '${mode}'`);
  }
  return m;
}

function resizeGrad(ctx: GradContext): (Tensor | undefined)[] {
  const { g, node, x, dy } = ctx;
  const data = x[0]!;
  const rank = data.rank;
  if (intAttr(node, 'antialias', 0)) throw new Error(`Resize node '${node.name}': the gradient does not support antialias`);
  if (x[4] || intsAttr(node, 'axes')) throw new Error(`Resize node '${node.name}': the gradient does not support the axes attribute`);
  const scaleValues = x[2] && (g.constantValue(x[2]) ?? g.initializerValues(x[2].name));
  const scales = scaleValues?.length ? scaleValues : undefined;
  const sizes = x[3] ? constantInts(ctx, 3, 'sizes') : undefined;
  if (!scales && !sizes) throw new Error(`Resize node '${node.name}': the gradient needs constant scales or sizes`);
  let d = dy[0]!;
  for (let axis = 0; axis < rank; axis++) {
    const inSize = data.shape![axis];
    if (sizes ? sizes[axis] === inSize : scales![axis] === 1) continue;
    if (typeof inSize !== 'number') throw new Error(`Resize node '${node.name}': the gradient needs a static size on resized axis ${axis}`);
    const outSize = sizes ? sizes[axis]! : Math.floor(inSize * scales![axis]!);
    const scale = sizes ? outSize / inSize : scales![axis]!;
    // dX along this axis = dY · A (A [out, in]) with the axis moved last and back.
    const last = Array.from({ length: rank }, (_, i) => i)
      .filter((i) => i !== axis)
      .concat(axis);
    const matrix = g.constant(resizeMatrix(node, inSize, outSize, scale), 'float32', [outSize, inSize]);
    d = g.transpose(g.matmul(g.transpose(d, last), d.dtype === 'float32' ? matrix : g.cast(matrix, d.dtype)), inversePerm(last));
  }
  return [d];
}
