// Gradient checking against central finite differences, run through onnxruntime-node (used by the tests;
// also handy for checking a new model or rule).
import ort from 'onnxruntime-node';
import { GraphBuilder, type Tensor } from '../graph/builder.ts';
import { encodeModel, type ModelProto } from '../onnx/proto.ts';
import type { DType } from '../onnx/tensor.ts';
import { grad, gradName } from './grad.ts';

/** Deterministic PRNG (mulberry32) with normal draws (Box–Muller). */
export function rng(seed: number): { uniform(): number; normal(): number; int(n: number): number } {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    uniform,
    normal: () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()),
    int: (n) => Math.floor(uniform() * n),
  };
}

export type Feed = { dtype: DType; shape: number[]; data: Float64Array | Float32Array | BigInt64Array | Uint8Array };

export interface GradCheckCase {
  /** Float inputs by name → shape; filled with `sample` draws. These are differentiated. */
  inputs: Record<string, number[]>;
  /** Non-differentiated inputs (indices, masks). */
  fixed?: Record<string, Feed>;
  /** Builds the function; its outputs are reduced to a scalar loss Σ out ⊙ R with random R, unless `scalar`. */
  build(g: GraphBuilder, x: Record<string, Tensor>): Tensor | Tensor[];
  /** The built output already is the scalar loss. */
  scalar?: boolean;
  dtype?: 'float64' | 'float32';
  /** Draws input values (default standard normal). */
  sample?: (r: ReturnType<typeof rng>, input: string) => number;
  /** Inputs and parameters to differentiate (default: all of `inputs` and every builder parameter). */
  wrt?: string[];
  stopGradient?: string[];
  /** Finite-difference coordinates sampled per input (default 6). */
  samples?: number;
  seed?: number;
  /** Opset of the graph (default the builder's): for ops whose meaning changed between opsets. */
  opset?: number;
}

export interface GradCheckResult {
  /** Largest |analytic − numeric| / (atol + rtol·|numeric|) over the sampled coordinates; ≤ 1 passes. */
  worst: number;
  detail: string;
  model: ModelProto;
  gradients: Record<string, Float64Array | Float32Array>;
}

/**
 * A one-thread session. Float64 checks use the 'basic' optimisation level: ORT's extended fusions (e.g.
 * x·sigmoid(x) → com.microsoft.QuickGelu) have float32-only kernels and would reject a float64 graph.
 */
export async function session(model: ModelProto, level: 'basic' | 'all' = 'all'): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(encodeModel(model), { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: level });
}

function toOrt(f: Feed): ort.Tensor {
  return new ort.Tensor(
    f.dtype === 'float64' ? 'float64' : f.dtype === 'float32' ? 'float32' : f.dtype === 'int64' ? 'int64' : 'bool',
    f.data,
    f.shape,
  );
}

export async function checkGradients(c: GradCheckCase): Promise<GradCheckResult> {
  const dtype = c.dtype ?? 'float64';
  const r = rng(c.seed ?? 1);
  const g = new GraphBuilder('gradcheck', c.opset ? { opset: c.opset } : {});
  const x: Record<string, Tensor> = {};
  const feeds: Record<string, Feed> = {};
  const Arr = dtype === 'float64' ? Float64Array : Float32Array;
  for (const [name, shape] of Object.entries(c.inputs)) {
    x[name] = g.input(name, dtype, shape);
    const data = new Arr(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = c.sample ? c.sample(r, name) : r.normal();
    feeds[name] = { dtype, shape, data };
  }
  for (const [name, f] of Object.entries(c.fixed ?? {})) {
    x[name] = g.input(name, f.dtype, f.shape);
    feeds[name] = f;
  }
  const built = c.build(g, x);
  const outs = Array.isArray(built) ? built : [built];
  let loss: Tensor;
  if (c.scalar) loss = outs[0]!;
  else {
    const terms = outs.map((o) => {
      const shape = o.shape!.map((d) => d as number);
      const weights = new (o.dtype === 'float64' ? Float64Array : Float32Array)(shape.reduce((a, b) => a * b, 1));
      for (let i = 0; i < weights.length; i++) weights[i] = r.normal();
      return g.reduceSum(g.mul(o, g.constant(weights, o.dtype, shape)), undefined, false);
    });
    loss = g.sum(terms);
  }
  g.output(loss, 'loss');
  // Parameters (from layers) are fed around their init, with enough spread that every path matters.
  for (const p of g.params) {
    const data = new Arr(p.shape.reduce((a, b) => a * b, 1));
    const center = p.init.kind === 'ones' ? 1 : 0;
    const spread = p.init.kind === 'normal' ? 0.5 : 0.2;
    for (let i = 0; i < data.length; i++) data[i] = center + spread * r.normal();
    feeds[p.name] = { dtype, shape: p.shape, data };
  }
  const forward = g.build();
  const wrt = c.wrt ?? [...Object.keys(c.inputs), ...g.params.map((p) => p.name)];
  const model = grad(forward, { loss: 'loss', wrt, ...(c.stopGradient ? { stopGradient: c.stopGradient } : {}) });

  const ortFeeds = () => Object.fromEntries(Object.entries(feeds).map(([k, f]) => [k, toOrt(f)]));
  const level = dtype === 'float64' ? 'basic' : 'all';
  const backward = await (await session(model, level)).run(ortFeeds());
  const gradients: Record<string, Float64Array | Float32Array> = {};
  for (const w of wrt) gradients[w] = backward[gradName(w)]!.data as Float64Array | Float32Array;

  const fwd = await session(forward, level);
  const lossAt = async () => Number((await fwd.run(ortFeeds())).loss!.data[0]);
  const [eps, atol, rtol] = dtype === 'float64' ? [1e-6, 1e-6, 1e-5] : [3e-3, 3e-3, 3e-2];
  let worst = 0;
  let detail = 'no coordinates checked';
  for (const w of wrt) {
    const data = feeds[w]!.data as Float64Array | Float32Array;
    const count = Math.min(c.samples ?? 6, data.length);
    const coords = data.length <= count ? [...data.keys()] : Array.from({ length: count }, () => r.int(data.length));
    for (const i of coords) {
      const orig = data[i]!;
      data[i] = orig + eps;
      const up = await lossAt();
      data[i] = orig - eps;
      const down = await lossAt();
      data[i] = orig;
      const numeric = (up - down) / (2 * eps);
      const analytic = gradients[w]![i]!;
      const err = Math.abs(analytic - numeric) / (atol + rtol * Math.abs(numeric));
      if (err >= worst) {
        worst = err;
        detail = `${w}[${i}]: analytic ${analytic}, numeric ${numeric}`;
      }
    }
  }
  return { worst, detail, model, gradients };
}
