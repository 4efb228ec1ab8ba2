import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import { assertProviderName, type ProviderName, type ProviderReport } from './providers.ts';

export interface SessionOptions {
  /** Execution provider to try first; falls back to 'cpu' with a reason if it cannot load. Default 'cpu'. */
  provider?: ProviderName;
  /** Threads inside one op (ORT intraOpNumThreads). 0 = ORT's default (one per physical core). Default 0. */
  threads?: number;
  /** ORT graph optimisation level. Default 'all' (constant folding, fusions such as MatMul+Add → Gemm, LayerNorm, Gelu). */
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Let ORT's idle intra-op threads spin-wait for the next parallel section. Default false: on a busy
   * machine (the app beside other work, or a shared 2-core box) spinning threads burn the timeslices the
   * working threads need; measured on the bench decoder under load, a train step took a median 1241 ms
   * with spinning vs 686 ms without. On an idle machine spinning can shave a little latency.
   */
  spinWait?: boolean;
  /** Share one session per (model bytes, options). Default true. */
  cache?: boolean;
  /**
   * Leave outputs on the device (ORT's 'gpu-buffer' outputs, WebGPU): feeding them back as inputs never
   * crosses to the CPU; `await output.getData()` downloads one. Ignored on the CPU (and on a CPU fallback).
   * Default false.
   */
  outputsOnDevice?: boolean;
}

/** Typed arrays that can be fed to a session. Uint8Array also feeds bool inputs, Uint16Array float16 ones. */
export type FeedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Int8Array | Uint8Array | Uint16Array;

/**
 * One graph input: a bare typed array (shape from `shapes`, or from the graph when all its dims are
 * static), an object with data and shape (a `Param` is one), or an ort.Tensor.
 */
export type Feed = FeedArray | { readonly data: FeedArray; readonly shape: readonly number[] } | ort.Tensor;

export type Outputs = Record<string, ort.Tensor>;

// Keyed by the typed-array constructor, looked up with `data.constructor`.
const TENSOR_TYPE_OF_ARRAY = new Map<unknown, ort.Tensor.Type>([
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [BigInt64Array, 'int64'],
  [Int32Array, 'int32'],
  [Int8Array, 'int8'],
  [Uint8Array, 'uint8'],
  [Uint16Array, 'uint16'],
]);

/** Graph element types carried by an array type other than their own. */
const ALIASED_TYPES: Partial<Record<ort.Tensor.Type, ort.Tensor.Type>> = { bool: 'uint8', float16: 'uint16' };

/**
 * An onnxruntime session with typed feeds. `run` blocks the calling thread while ORT computes
 * (REFERENCE §5): use it from a worker thread in the app.
 */
export class EngineSession {
  readonly provider: ProviderReport;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private readonly inputs: Map<string, ort.InferenceSession.TensorValueMetadata>;
  private readonly session: ort.InferenceSession;
  private readonly onRelease: () => Promise<void>;
  private released = false;

  constructor(session: ort.InferenceSession, provider: ProviderReport, onRelease: () => Promise<void>) {
    this.session = session;
    this.provider = provider;
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
    this.inputs = new Map(
      session.inputMetadata.filter((m): m is ort.InferenceSession.TensorValueMetadata => m.isTensor).map((m) => [m.name, m]),
    );
    this.onRelease = onRelease;
  }

  /**
   * Runs the graph. Every graph input must be fed, nothing else may be. `shapes` gives dims for bare
   * typed arrays whose graph input has dynamic dims. `fetch` (as in ORT) limits the outputs computed:
   * a list of names, or a record whose ort.Tensor values are pre-allocated outputs ORT writes into
   * (no allocation per run; `null` lets ORT allocate that one). Default: every output, ORT-allocated.
   */
  async run(
    feeds: Record<string, Feed>,
    shapes: Record<string, readonly number[]> = {},
    fetch?: readonly string[] | Record<string, ort.Tensor | null>,
  ): Promise<Outputs> {
    if (this.released) throw new Error('EngineSession.run: session was released');
    for (const name of Object.keys(feeds)) {
      if (!this.inputs.has(name))
        throw new Error(`EngineSession.run: '${name}' is not an input of the graph (inputs: ${this.inputNames.join(', ')})`);
    }
    const tensors: Record<string, ort.Tensor> = {};
    for (const [name, meta] of this.inputs) {
      const feed = feeds[name];
      if (feed === undefined) throw new Error(`EngineSession.run: missing feed for graph input '${name}'`);
      tensors[name] = toTensor(name, feed, shapes[name], meta);
    }
    if (!fetch) return this.session.run(tensors);
    for (const name of Array.isArray(fetch) ? fetch : Object.keys(fetch)) {
      if (!this.outputNames.includes(name)) throw new Error(`EngineSession.run: '${name}' is not an output of the graph`);
    }
    return this.session.run(tensors, fetch as ort.InferenceSession.FetchesType);
  }

  /** Gives this handle up; the native session is freed once no handle to it is left. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.onRelease();
  }
}

function toTensor(
  name: string,
  feed: Feed,
  shape: readonly number[] | undefined,
  meta: ort.InferenceSession.TensorValueMetadata,
): ort.Tensor {
  if (feed instanceof ort.Tensor) return checkShape(name, feed, meta);
  const shaped = feed as Exclude<Feed, ort.Tensor>;
  const { data, dims } = isFeedArray(shaped)
    ? { data: shaped, dims: shape ?? staticDims(name, meta, shaped.length) }
    : { data: shaped.data, dims: shape ?? shaped.shape };
  const arrayType = TENSOR_TYPE_OF_ARRAY.get(data.constructor);
  const graphType = meta.type;
  if (arrayType !== graphType && ALIASED_TYPES[graphType] !== arrayType) {
    throw new Error(`EngineSession.run: input '${name}' is ${graphType} in the graph but was fed a ${data.constructor.name}`);
  }
  const count = dims.reduce((a: number, b: number) => a * b, 1);
  if (count !== data.length)
    throw new Error(`EngineSession.run: input '${name}' has ${data.length} values, shape [${dims.join(', ')}] needs ${count}`);
  return checkShape(name, new ort.Tensor(graphType, data as ort.Tensor.DataType, dims), meta);
}

function isFeedArray(feed: Exclude<Feed, ort.Tensor>): feed is FeedArray {
  return ArrayBuffer.isView(feed);
}

/** Dims of an input whose graph shape is fully static (or a scalar); otherwise the caller must pass `shapes`. */
function staticDims(name: string, meta: ort.InferenceSession.TensorValueMetadata, length: number): number[] {
  if (meta.shape.length === 0 && length === 1) return [];
  if (meta.shape.length === 0 || meta.shape.some((d) => typeof d !== 'number' || d < 0)) {
    throw new Error(`EngineSession.run: input '${name}' has dynamic shape [${meta.shape.join(', ')}]: pass its dims in shapes['${name}']`);
  }
  return meta.shape as number[];
}

function checkShape(name: string, tensor: ort.Tensor, meta: ort.InferenceSession.TensorValueMetadata): ort.Tensor {
  const expected = meta.shape;
  const bad =
    expected.length > 0 &&
    (tensor.dims.length !== expected.length || expected.some((d, i) => typeof d === 'number' && d >= 0 && d !== tensor.dims[i]));
  if (bad)
    throw new Error(`EngineSession.run: input '${name}' has shape [${tensor.dims.join(', ')}], the graph expects [${expected.join(', ')}]`);
  return tensor;
}

interface OpenedSession {
  session: ort.InferenceSession;
  provider: ProviderReport;
}

interface CacheEntry {
  opened: Promise<OpenedSession>;
  holders: number;
}

const cache = new Map<string, CacheEntry>();

type ResolvedOptions = Required<Omit<SessionOptions, 'cache'>>;

/**
 * Creates a session for serialised ONNX `model`. If the requested provider cannot load, ORT throws;
 * we then build a CPU session and say why in `session.provider`. With the cache on, calls with the
 * same model bytes and options share one native session: each call returns its own handle, and the
 * native session is freed when the last handle is released.
 */
export async function createSession(model: Uint8Array, options: SessionOptions = {}): Promise<EngineSession> {
  const resolved: ResolvedOptions = {
    provider: options.provider ?? 'cpu',
    threads: options.threads ?? 0,
    graphOptimization: options.graphOptimization ?? 'all',
    spinWait: options.spinWait ?? false,
    outputsOnDevice: options.outputsOnDevice ?? false,
  };
  assertProviderName(resolved.provider);
  if (!Number.isInteger(resolved.threads) || resolved.threads < 0)
    throw new Error(`createSession: threads must be an integer >= 0, got ${resolved.threads}`);
  if (options.cache === false) {
    const { session, provider } = await openSession(model, resolved);
    return new EngineSession(session, provider, () => session.release());
  }

  const key = `${createHash('sha256').update(model).digest('hex')}|${JSON.stringify(resolved)}`;
  let entry = cache.get(key);
  if (!entry) {
    const opened = openSession(model, resolved);
    const created: CacheEntry = { opened, holders: 0 };
    opened.catch(() => cache.delete(key));
    cache.set(key, created);
    entry = created;
  }
  entry.holders++;
  const claimed = entry;
  const { session, provider } = await claimed.opened;
  return new EngineSession(session, provider, async () => {
    if (--claimed.holders > 0) return;
    cache.delete(key);
    await session.release();
  });
}

/** Number of distinct native sessions held by the cache (for tests and diagnostics). */
export function cachedSessionCount(): number {
  return cache.size;
}

async function openSession(model: Uint8Array, options: ResolvedOptions): Promise<OpenedSession> {
  const ortOptions = (provider: ProviderName): ort.InferenceSession.SessionOptions => ({
    executionProviders: [provider],
    intraOpNumThreads: options.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: options.graphOptimization,
    extra: { session: { intra_op: { allow_spinning: options.spinWait ? '1' : '0' } } },
    ...(options.outputsOnDevice && provider === 'webgpu' ? { preferredOutputLocation: 'gpu-buffer' as const } : {}),
  });
  try {
    const session = await ort.InferenceSession.create(model, ortOptions(options.provider));
    return { session, provider: { requested: options.provider, used: options.provider } };
  } catch (error) {
    if (options.provider === 'cpu') throw error;
    const session = await ort.InferenceSession.create(model, ortOptions('cpu'));
    return { session, provider: { requested: options.provider, used: 'cpu', reason: firstLine(error) } };
  }
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.trim();
}
