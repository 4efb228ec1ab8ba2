// The unified model: LM expert + vision encoder + meta-queries + connector + DiT, one ParamStore whose
// names are prefixed `lm/`, `vision/`, `queries/`, `connector/`, `dit/` (also the optimizer groups), so a
// trainer freezes or selects parts by prefix. Graphs are built per use (condition, velocity, LM prefill,
// LM step, losses) from the model's ModelParts (adapter.ts: the built-in layers, or ONNX files a user
// brought, imported.ts), each taking the parameters it uses as inputs; sessions are cached per graph.
import { writeFileSync } from 'node:fs';
import { grad } from '../engine/autodiff/grad.ts';
import { loadCheckpoint, saveCheckpoint } from '../engine/checkpoint/checkpoint.ts';
import { readSafetensors } from '../engine/checkpoint/safetensors.ts';
import { GraphBuilder, type Tensor } from '../engine/graph/builder.ts';
import { encodeModel, type ModelProto } from '../engine/onnx/proto.ts';
import type { AdamW } from '../engine/optim/adamw.ts';
import { paramSpecsFromGraph } from '../engine/runtime/fromGraph.ts';
import { ParamStore } from '../engine/runtime/params.ts';
import type { ProviderName, ProviderReport } from '../engine/runtime/providers.ts';
import { createSession, type EngineSession, type Feed, type Outputs } from '../engine/runtime/session.ts';
import { layoutOf, validateConfig, type ModelConfig } from './config.ts';
import { builtinParts, type ModelParts } from './adapter.ts';
import { flowLoss, sdeSampleGraph, sdeStepGraph } from './flow.ts';
import { importedParamSpecs, importedParts, loadModelDir } from './imported.ts';
import { tokenLogProbs, type KvCache, type LmShape } from './lm.ts';
import type { PackedSequences } from './sequence.ts';
import { tokenizerFromMetadata, type Tokenizer } from './tokenizer.ts';

/** The parts of the model; each is a parameter-name prefix and an optimizer group. */
export const PARTS = ['lm', 'vision', 'queries', 'connector', 'dit'] as const;
export type Part = (typeof PARTS)[number];

export function partOf(paramName: string): Part {
  const prefix = paramName.slice(0, paramName.indexOf('/'));
  if (!(PARTS as readonly string[]).includes(prefix))
    throw new Error(`parameter '${paramName}' belongs to no model part (${PARTS.join(', ')})`);
  return prefix as Part;
}

/** Graphs the model builds for itself. */
export type GraphKind = 'condition' | 'velocity' | 'prefill' | 'step' | 'tokenLogProbs' | 'sdeStep' | 'sdeSample' | 'lmLoss' | 'dmLoss';

export interface RuntimeOptions {
  /** ORT intra-op threads (0 = ORT default). */
  threads?: number;
  provider?: ProviderName;
  /**
   * SDE sampling without CFG runs one graph per step (DiT + the step, sdeSample) whose outputs stay on the
   * device between steps (WebGPU gpu-buffer outputs), downloading the trajectory once at the end. Same
   * draws and results as the host loop; on the CPU it only moves the step's arithmetic into the graph.
   * Not yet measured on a GPU (bench/gpu.ts --resident). Default false.
   */
  residentSampler?: boolean;
}

/** Dims of the graphs' inputs: symbolic by default; static ones let shape inference size everything (FLOP counts). */
export interface GraphDims {
  batch: number | string;
  /** Text slots L. */
  text: number | string;
}
const DYNAMIC: GraphDims = { batch: 'batch', text: 'text' };

/** Graph inputs of the LM sequence (shapes in sequence.ts). */
export interface SequenceInputs {
  visionPatches: Tensor;
  textIds: Tensor;
  positions: Tensor;
  bias: Tensor;
}

export class UnifiedModel {
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  readonly store: ParamStore;
  readonly runtime: RuntimeOptions;
  /** The pieces every graph is built from. */
  readonly parts: ModelParts;
  /** The directory of ONNX files of an imported model (recorded in its checkpoints); undefined for the built-in one. */
  readonly graphsDir: string | undefined;
  private readonly sessions = new Map<string, Promise<EngineSession>>();

  private constructor(
    config: ModelConfig,
    tokenizer: Tokenizer,
    store: ParamStore,
    runtime: RuntimeOptions,
    parts: ModelParts,
    graphsDir?: string,
  ) {
    this.config = config;
    this.tokenizer = tokenizer;
    this.store = store;
    this.runtime = runtime;
    this.parts = parts;
    this.graphsDir = graphsDir;
  }

  /** A freshly initialised model. */
  static create(config: ModelConfig, tokenizer: Tokenizer, options: RuntimeOptions & { seed?: number } = {}): UnifiedModel {
    validateConfig(config);
    const shape = lmShapeOf(config, tokenizer.vocabSize);
    const parts = builtinParts(config, shape);
    const catalog = new GraphBuilder('catalog');
    declareEverything(catalog, config, parts);
    const store = new ParamStore(paramSpecsFromGraph(catalog.params, { group: partOf }), { seed: options.seed ?? 0 });
    return new UnifiedModel(config, tokenizer, store, runtimeOf(options), parts);
  }

  /** A model from a directory of ONNX files (imported.ts), with the files' weights. */
  static fromModelDir(dir: string, options: RuntimeOptions = {}): UnifiedModel {
    const { config, tokenizer, graphs } = loadModelDir(dir);
    const store = new ParamStore(importedParamSpecs(graphs));
    return new UnifiedModel(config, tokenizer, store, runtimeOf(options), importedParts(graphs, config), dir);
  }

  /** Loads a checkpoint written by `save` (config and tokenizer, or an imported model's graphs, travel in its metadata). */
  static load(
    path: string,
    options: RuntimeOptions & { optimizer?: (model: UnifiedModel) => AdamW } = {},
  ): { model: UnifiedModel; metadata: Record<string, string>; optimizer?: AdamW } {
    const { metadata } = readSafetensors(path);
    if (!metadata.config || !metadata.tokenizer) throw new Error(`${path}: not a unified-model checkpoint (no config/tokenizer metadata)`);
    const model = metadata.graphs
      ? UnifiedModel.fromModelDir(metadata.graphs, options)
      : UnifiedModel.create(JSON.parse(metadata.config) as ModelConfig, tokenizerFromMetadata(metadata, path), options);
    const optimizer = options.optimizer?.(model);
    loadCheckpoint(path, model.store, optimizer ? { optimizer } : {});
    return optimizer ? { model, metadata, optimizer } : { model, metadata };
  }

  /** Writes parameters (and optimizer state) as safetensors with the config and tokenizer in the metadata. */
  save(path: string, options: { optimizer?: AdamW; metadata?: Record<string, string> } = {}): void {
    const metadata = { ...options.metadata, ...this.checkpointMetadata() };
    saveCheckpoint(path, this.store, options.optimizer ? { metadata, optimizer: options.optimizer } : { metadata });
  }

  /** What a checkpoint needs to rebuild the model: preset, config and tokenizer, or an imported model's graph directory. */
  checkpointMetadata(): Record<string, string> {
    const metadata: Record<string, string> = {
      preset: this.config.name,
      config: JSON.stringify(this.config),
      tokenizer: JSON.stringify(this.tokenizer.toJSON()),
    };
    if (this.graphsDir) metadata.graphs = this.graphsDir;
    return metadata;
  }

  get lmShape(): LmShape {
    return lmShapeOf(this.config, this.tokenizer.vocabSize);
  }

  /** Parameter count per part. */
  parameterCounts(): Record<Part, number> {
    const counts = Object.fromEntries(PARTS.map((p) => [p, 0])) as Record<Part, number>;
    for (const p of this.store.list()) counts[partOf(p.name)] += p.size;
    return counts;
  }

  /** The ONNX graph of `kind` (parameters are inputs named as in the store). */
  graph(kind: GraphKind, dims: GraphDims = DYNAMIC): ModelProto {
    return buildGraph(kind, this.config, this.parts, this.lmShape, dims);
  }

  /** Writes a graph to disk (for Netron). */
  writeGraph(kind: GraphKind, path: string): void {
    writeFileSync(path, encodeModel(this.graph(kind)));
  }

  /** Runs graph `kind`, feeding the store's parameters automatically. */
  async run(kind: GraphKind, feeds: Record<string, Feed>, fetch?: readonly string[]): Promise<Outputs> {
    // The resident sampler's step feeds its outputs back: they stay on the device.
    return this.runModel(kind, () => this.graph(kind), feeds, fetch, { outputsOnDevice: kind === 'sdeSample' });
  }

  /** Runs any graph whose parameter inputs are named as in the store (e.g. a trainer's loss graph), cached by `key`. */
  async runModel(
    key: string,
    build: () => ModelProto,
    feeds: Record<string, Feed>,
    fetch?: readonly string[],
    options: { outputsOnDevice?: boolean } = {},
  ): Promise<Outputs> {
    let session = this.sessions.get(key);
    if (!session) {
      const sessionOptions = {
        threads: this.runtime.threads ?? 0,
        provider: this.runtime.provider ?? 'cpu',
        cache: false,
        outputsOnDevice: options.outputsOnDevice ?? false,
      };
      session = createSession(encodeModel(build()), sessionOptions);
      this.sessions.set(key, session);
      session.catch(() => this.sessions.delete(key));
    }
    const s = await session;
    const all: Record<string, Feed> = { ...feeds };
    for (const name of s.inputNames) if (!(name in all) && this.store.has(name)) all[name] = this.store.get(name);
    return s.run(all, {}, fetch);
  }

  /** The provider each session opened so far runs on (requested vs used, and why they differ), by graph key. */
  async providers(): Promise<Record<string, ProviderReport>> {
    const entries = await Promise.all([...this.sessions].map(async ([key, session]) => [key, (await session).provider] as const));
    return Object.fromEntries(entries);
  }

  /** Releases every cached session. */
  async dispose(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) await (await s).release();
  }
}

function runtimeOf(options: RuntimeOptions): RuntimeOptions {
  const runtime: RuntimeOptions = {};
  if (options.threads !== undefined) runtime.threads = options.threads;
  if (options.provider !== undefined) runtime.provider = options.provider;
  if (options.residentSampler !== undefined) runtime.residentSampler = options.residentSampler;
  return runtime;
}

export function lmShapeOf(config: ModelConfig, vocabSize: number): LmShape {
  return { config: config.lm, vocabSize, maxPositions: layoutOf(config).sequence };
}

// ----- graph inputs and feeds ------------------------------------------------------------------------------

/** Declares the LM-sequence inputs (T = P + L, plus Q with queries). */
export function sequenceInputs(g: GraphBuilder, config: ModelConfig, dims: GraphDims = DYNAMIC, withQueries = false): SequenceInputs {
  const { imageTokens, visionPatchDim } = layoutOf(config);
  const seq = typeof dims.text === 'number' ? imageTokens + dims.text + (withQueries ? config.queries : 0) : 'seq';
  return {
    visionPatches: g.input('vision_patches', 'float32', [dims.batch, imageTokens, visionPatchDim]),
    textIds: g.input('text_ids', 'int64', [dims.batch, dims.text]),
    positions: g.input('positions', 'int64', [dims.batch, seq]),
    bias: g.input('bias', 'float32', [dims.batch, 1, seq, seq]),
  };
}

/** Feeds for `sequenceInputs` (plus `edit_flag` when the pack has queries). */
export function sequenceFeeds(config: ModelConfig, packed: PackedSequences): Record<string, Feed> {
  const { imageTokens, visionPatchDim } = layoutOf(config);
  const B = packed.batch;
  const T = packed.length;
  const feeds: Record<string, Feed> = {
    vision_patches: { data: packed.visionPatches, shape: [B, imageTokens, visionPatchDim] },
    text_ids: { data: packed.textIds, shape: [B, packed.textLength] },
    positions: { data: packed.positions, shape: [B, T] },
    bias: { data: packed.bias, shape: [B, 1, T, T] },
  };
  if (packed.withQueries) feeds.edit_flag = { data: packed.editFlag, shape: [B] };
  return feeds;
}

// ----- subgraphs ---------------------------------------------------------------------------------------------

/**
 * Vision → LM (with meta-queries) → connector: the DM condition [B, Q, Dc] and the LM's final hidden
 * states [B, T, D]. `editFlag` [B] picks the query set.
 */
export function conditionSubgraph(
  g: GraphBuilder,
  parts: ModelParts,
  config: ModelConfig,
  seq: SequenceInputs,
  editFlag: Tensor,
): { cond: Tensor; hidden: Tensor } {
  const { imageTokens } = layoutOf(config);
  const image = parts.vision(g, seq.visionPatches);
  const queries = parts.queries(g, editFlag); // [B, Q, D]
  const { hidden } = parts.lm(g, { imageTokens: image, textIds: seq.textIds, queries, positions: seq.positions, bias: seq.bias });
  const queryHidden = splitSlots(g, hidden, seq.textIds, imageTokens, config.queries).queries!; // [B, Q, D]
  return { cond: parts.connector(g, queryHidden), hidden };
}

/** Vision → LM without queries: hidden states of the text slots [B, L, D] and the KV cache. */
export function textSubgraph(
  g: GraphBuilder,
  parts: ModelParts,
  config: ModelConfig,
  seq: SequenceInputs,
): { textHidden: Tensor; cache: KvCache } {
  const { imageTokens } = layoutOf(config);
  const image = parts.vision(g, seq.visionPatches);
  const { hidden, cache } = parts.lm(g, { imageTokens: image, textIds: seq.textIds, positions: seq.positions, bias: seq.bias });
  return { textHidden: splitSlots(g, hidden, seq.textIds, imageTokens, 0).text, cache };
}

/**
 * Splits [B, T, D] states along the slots into image [B, P, D], text [B, L, D] and queries [B, Q, D]
 * (L is dynamic: read from textIds). A Split, not Slices, so the gradient works with a dynamic L.
 */
function splitSlots(
  g: GraphBuilder,
  states: Tensor,
  textIds: Tensor,
  imageTokens: number,
  queries: number,
): { image: Tensor; text: Tensor; queries?: Tensor } {
  const staticLength = textIds.shape?.[1];
  const withQueries = (sizes: Tensor[]) => (queries > 0 ? [...sizes, g.ints([queries])] : sizes);
  const parts =
    typeof staticLength === 'number'
      ? g.split(states, queries > 0 ? [imageTokens, staticLength, queries] : [imageTokens, staticLength], 1)
      : g.splitDynamic(
          states,
          g.concat(withQueries([g.ints([imageTokens]), g.slice(g.op('Shape', [textIds])[0]!, [1], [2])]), 0),
          queries > 0 ? 3 : 2,
          1,
        );
  return queries > 0 ? { image: parts[0]!, text: parts[1]!, queries: parts[2]! } : { image: parts[0]!, text: parts[1]! };
}

/** DiT inputs: x_t, t, cond, ref. */
export function velocityInputs(g: GraphBuilder, config: ModelConfig, dims: GraphDims = DYNAMIC): { x: Tensor; t: Tensor; ref: Tensor } {
  const { ditTokens, ditPatchDim } = layoutOf(config);
  return {
    x: g.input('x', 'float32', [dims.batch, ditTokens, ditPatchDim]),
    t: g.input('t', 'float32', [dims.batch]),
    ref: g.input('ref', 'float32', [dims.batch, ditTokens, ditPatchDim]),
  };
}

/** The DM condition as a graph input [B, Q, Dc] (graphs that start at the DiT). */
export function condInput(g: GraphBuilder, config: ModelConfig, dims: GraphDims = DYNAMIC): Tensor {
  return g.input('cond', 'float32', [dims.batch, config.queries, config.dit.condWidth]);
}

function declareEverything(g: GraphBuilder, config: ModelConfig, parts: ModelParts): void {
  const seq = sequenceInputs(g, config, DYNAMIC, true);
  const { cond, hidden } = conditionSubgraph(g, parts, config, seq, g.input('edit_flag', 'float32', ['batch']));
  g.output(parts.lmHead(g, hidden), 'logits');
  const { x, t, ref } = velocityInputs(g, config);
  g.output(parts.velocity(g, { x, t, cond, ref }), 'v');
}

function buildGraph(kind: GraphKind, config: ModelConfig, parts: ModelParts, shape: LmShape, dims: GraphDims): ModelProto {
  const g = new GraphBuilder(kind);
  const c = config.lm;
  const B = dims.batch;
  const headDim = c.width / c.heads;
  const { ditPatchDim, ditTokens } = layoutOf(config);
  const editFlag = () => g.input('edit_flag', 'float32', [B]);
  switch (kind) {
    case 'condition': {
      const seq = sequenceInputs(g, config, dims, true);
      g.output(conditionSubgraph(g, parts, config, seq, editFlag()).cond, 'cond');
      return g.build();
    }
    case 'velocity': {
      const { x, t, ref } = velocityInputs(g, config, dims);
      const cond = condInput(g, config, dims);
      g.output(parts.velocity(g, { x, t, cond, ref }), 'v');
      return g.build();
    }
    case 'prefill': {
      const { textHidden, cache } = textSubgraph(g, parts, config, sequenceInputs(g, config, dims));
      g.output(parts.lmHead(g, textHidden), 'logits');
      cache.forEach((kv, i) => {
        g.output(kv.k, `present_k${i}`);
        g.output(kv.v, `present_v${i}`);
      });
      return g.build();
    }
    case 'step': {
      const pastLength = typeof dims.text === 'number' ? layoutOf(config).imageTokens + dims.text : 'past';
      const total = typeof pastLength === 'number' ? pastLength + 1 : 'total';
      const past = Array.from({ length: c.layers }, (_, i) => ({
        k: g.input(`past_k${i}`, 'float32', [B, c.heads, pastLength, headDim]),
        v: g.input(`past_v${i}`, 'float32', [B, c.heads, pastLength, headDim]),
      }));
      const { logits, cache } = parts.lmStep(g, {
        tokenIds: g.input('token_ids', 'int64', [B, 1]),
        positions: g.input('positions', 'int64', [B, 1]),
        bias: g.input('bias', 'float32', [B, 1, 1, total]),
        past,
      });
      g.output(logits, 'logits');
      cache.forEach((kv, i) => {
        g.output(kv.k, `present_k${i}`);
        g.output(kv.v, `present_v${i}`);
      });
      return g.build();
    }
    case 'tokenLogProbs': {
      const { textHidden } = textSubgraph(g, parts, config, sequenceInputs(g, config, dims));
      const targets = g.input('targets', 'float32', [B, dims.text, shape.vocabSize]);
      g.output(tokenLogProbs(g, parts.lmHead(g, textHidden), targets, g.input('inv_temperature', 'float32', [1])), 'log_probs');
      return g.build();
    }
    case 'sdeStep': {
      const { x, t, ref } = velocityInputs(g, config, dims);
      const cond = condInput(g, config, dims);
      const v = parts.velocity(g, { x, t, cond, ref });
      const { mean, logProb } = sdeStepGraph(g, {
        x,
        v,
        t,
        xNext: g.input('x_next', 'float32', [B, ditTokens, ditPatchDim]),
        dt: g.input('dt', 'float32', [B]),
        sigma: g.input('sigma', 'float32', [B]),
      });
      g.output(mean, 'mean');
      g.output(logProb, 'log_prob');
      return g.build();
    }
    case 'sdeSample': {
      const { x, t, ref } = velocityInputs(g, config, dims);
      const cond = condInput(g, config, dims);
      const v = parts.velocity(g, { x, t, cond, ref });
      const { xNext, mean, logProb } = sdeSampleGraph(g, {
        x,
        v,
        t,
        z: g.input('z', 'float32', [B, ditTokens, ditPatchDim]),
        dt: g.input('dt', 'float32', [B]),
        sigma: g.input('sigma', 'float32', [B]),
      });
      g.output(xNext, 'x_next');
      g.output(mean, 'mean');
      g.output(logProb, 'log_prob');
      return g.build();
    }
    case 'lmLoss': {
      const { textHidden } = textSubgraph(g, parts, config, sequenceInputs(g, config, dims));
      const targets = g.input('targets', 'float32', [B, dims.text, shape.vocabSize]);
      g.output(g.neg(g.reduceSum(tokenLogProbs(g, parts.lmHead(g, textHidden), targets), undefined, false)), 'loss');
      return withGradients(g);
    }
    case 'dmLoss': {
      const seq = sequenceInputs(g, config, dims, true);
      const { cond } = conditionSubgraph(g, parts, config, seq, editFlag());
      const { x, t, ref } = velocityInputs(g, config, dims);
      const target = g.input('target', 'float32', [B, ditTokens, ditPatchDim]);
      g.output(flowLoss(g, parts.velocity(g, { x, t, cond, ref }), target), 'loss');
      return withGradients(g);
    }
  }
}

/** The graph plus `grad/<param>` outputs for every parameter it uses. */
function withGradients(g: GraphBuilder): ModelProto {
  return grad(g.build(), { loss: 'loss', wrt: g.params.map((p) => p.name) });
}
