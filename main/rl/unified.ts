// The unified model (main/models) as a GRPO `Policy`. What a sample is (its model calls, the tokens and DM
// steps it trains) is its scenario's (scenarios/*.ts); how it trains is the objectives' (objectives/*.ts).
// This module supplies the model calls a rollout makes, and the update: every sample of a batch is an
// episode — the LM sequences it read (one packed batch for the whole update), the completions on them (LM
// term) and the DM trajectories conditioned on them (DM term) — run through one ONNX graph per term set
// that holds the model, the objectives and the gradients (the engine's autodiff).
import type { DrawSeeds, Scenario, Verdict } from '../../contract/domain.ts';
import { grad, gradName } from '../engine/autodiff/grad.ts';
import { GraphBuilder, type Tensor } from '../engine/graph/builder.ts';
import type { ModelProto } from '../engine/onnx/proto.ts';
import { Rng as EngineRng } from '../engine/runtime/rng.ts';
import type { Feed } from '../engine/runtime/session.ts';
import { layoutOf } from '../models/config.ts';
import { imagesToPatches } from '../models/patches.ts';
import { reflectCycles } from '../models/reflect.ts';
import { referencePatches, sampleImages, sampleText, type ImagePrompt } from '../models/sample.ts';
import { packSequences } from '../models/sequence.ts';
import { visionEncode } from '../models/vision.ts';
import { conditionSubgraph, sequenceFeeds, sequenceInputs, textSubgraph, type UnifiedModel } from '../models/unified.ts';
import { toFloat, type ImageRGB } from '../world/image.ts';
import { mixSeeds } from '../world/rng.ts';
import { DEFAULT_SAMPLES_PER_PASS, DM_LOSS_DEFAULTS, type DmLoss, type LmLoss, type ModelPart } from './config.ts';
import { combineTerms, metricOutput, outputObjective, type TermGraph } from './losses.ts';
import { DM_OBJECTIVES, lmToken } from './objectives/index.ts';
import {
  oldFeed,
  referenceFeed,
  type BuiltTerm,
  type CompletionRow,
  type DmObjective,
  type DmRow,
  type TermFeeds,
} from './objectives/objective.ts';
import type {
  DrawnImage,
  ObjectiveResult,
  ObjectiveTerms,
  Policy,
  RolloutOptions,
  SampleResult,
  TaskItem,
  UpdateSample,
} from './policy.ts';
import { scenarioModule } from './scenarios/index.ts';
import type { DrawRequest, EpisodeSequence, ImageRequest, ModelCalls, RolloutRow, ScenarioModule, Written } from './scenarios/scenario.ts';

/** Which store parameters make up each trainable part. */
const PART_SELECTORS: Readonly<Record<ModelPart, (name: string) => boolean>> = {
  lm: (n) => n.startsWith('lm/'),
  vision: (n) => n.startsWith('vision/'),
  genQueries: (n) => n === 'queries/generate',
  editQueries: (n) => n === 'queries/edit',
  connector: (n) => n.startsWith('connector/'),
  dm: (n) => n.startsWith('dit/'),
};

/** A built objective graph and the parameters it reads (fed from the store or the reference copy). */
interface BuiltGraph {
  key: string;
  model: ModelProto;
  params: string[];
  /** Forward values the terms need under the weights before the update (objectives/objective.ts BuiltTerm.old). */
  oldOutputs: readonly string[];
}

/** One pass of an update: the packed sequences' feeds and each term's feeds. */
interface PassFeeds {
  sequences: Record<string, Feed>;
  lm?: TermFeeds;
  dm?: TermFeeds;
}

export class UnifiedPolicy implements Policy {
  readonly module: ScenarioModule;
  /** The frozen reference: the weights the policy started from. */
  private readonly reference: Float32Array;
  private readonly graphs = new Map<string, BuiltGraph>();
  /** DiffusionNFT's old policy: an EMA of the weights over this policy's updates (config loss.dm.nftOldDecay). */
  private oldPolicy: { weights: Float32Array; updates: number } | undefined;

  /**
   * `startingMetadata`: the metadata of the checkpoint the weights came from; the sampling settings it
   * recommends (INHERITED_METADATA, e.g. the CFG scale) travel on into this run's checkpoints, so an
   * evaluation before and after RL samples the same way.
   * `samplesPerPass`: the update runs its batch through the objective graph this many samples at a time
   * and adds up the gradients (the same gradient as one pass; peak memory follows the pass, not the batch).
   */
  constructor(
    readonly model: UnifiedModel,
    readonly scenario: Scenario,
    private readonly startingMetadata: Readonly<Record<string, string>> = {},
    private readonly samplesPerPass = DEFAULT_SAMPLES_PER_PASS,
  ) {
    if (!Number.isInteger(samplesPerPass) || samplesPerPass < 1)
      throw new Error(`UnifiedPolicy: samplesPerPass must be a positive integer, got ${samplesPerPass}`);
    this.module = scenarioModule(scenario);
    this.reference = Float32Array.from(model.store.flat);
  }

  get params() {
    return this.model.store;
  }

  paramsOf(part: ModelPart): string[] {
    return this.model.store
      .list()
      .map((p) => p.name)
      .filter(PART_SELECTORS[part]);
  }

  checkpointMetadata(): Record<string, string> {
    const inherited = Object.fromEntries(
      INHERITED_METADATA.flatMap((key) => (this.startingMetadata[key] !== undefined ? [[key, this.startingMetadata[key]!]] : [])),
    );
    return { ...inherited, ...this.model.checkpointMetadata() };
  }

  // ----- rollout -----------------------------------------------------------------------------------------

  async rollout(items: readonly TaskItem[], o: RolloutOptions): Promise<SampleResult[][]> {
    const rows: RolloutRow[] = items.flatMap((item, i) =>
      Array.from({ length: o.groupSize }, (_, k) => ({ item, group: i, seed: mixSeeds(o.seed, i, k) })),
    );
    const results = await this.module.rollout(this.calls, rows, o);
    return items.map((_, i) => results.slice(i * o.groupSize, (i + 1) * o.groupSize));
  }

  /** The model calls the scenarios' rollouts and evaluation prompts are made of. */
  private readonly calls: ModelCalls = {
    encode: (text) => this.model.tokenizer.encode(text),
    write: async (prompts, o, seed): Promise<Written> => {
      const out = await sampleText(this.model, prompts.map(textPrompt), {
        maxTokens: o.maxNewTokens,
        temperature: o.temperature,
        topP: o.topP,
        seed,
      });
      return {
        texts: out.texts,
        tokens: out.tokens,
        records: out.tokens.map((tokens, b) => ({
          tokenIds: Int32Array.from(tokens),
          logProbs: Float32Array.from(out.logProbs[b]!),
          temperature: o.temperature,
        })),
      };
    },
    writeGreedy: async (prompts, seed) =>
      (await sampleText(this.model, prompts.map(textPrompt), { maxTokens: this.model.config.textLength, temperature: 0, seed })).texts,
    draw: (requests, rows, o, turn) =>
      this.drawSeeded(
        requests,
        rows.map((r) => drawSeeds(o, r, turn)),
        o,
      ),
  };

  /**
   * One stored image drawn again from what its trajectory recorded: the prompt (and, for CoT, the reasoning
   * tokens the DiT was conditioned on), its seeds and the run's SDE schedule. With the weights it was drawn
   * with, the same trajectory (up to float rounding of a batch of one).
   */
  async drawAgain(
    request: { prompt: string; reasoning?: readonly number[] },
    seeds: DrawSeeds,
    o: Pick<RolloutOptions, 'sdeSteps' | 'noiseLevel' | 'sdeWindow'>,
  ): Promise<DrawnImage> {
    if (!this.module.draws) throw new Error(`a ${this.scenario} run draws no images`);
    const ids = [
      ...this.calls.encode(this.module.prompt({ task: '', text: request.prompt, spec: null, target: {} })),
      ...(request.reasoning ?? []),
    ];
    const [drawn] = await this.drawSeeded([{ ids, querySet: 'generate' }], [seeds], o);
    return drawn!;
  }

  /** SDE images through the models' one drawing path, each row from its own seeds (initial noise, step noise). */
  private async drawSeeded(
    requests: readonly DrawRequest[],
    seeds: readonly DrawSeeds[],
    o: Pick<RolloutOptions, 'sdeSteps' | 'noiseLevel' | 'sdeWindow'>,
  ): Promise<DrawnImage[]> {
    const { config } = this.model;
    const { ditTokens, ditPatchDim } = layoutOf(config);
    const per = ditTokens * ditPatchDim;
    const noise = new Float32Array(requests.length * per);
    seeds.forEach((s, b) => noise.set(new EngineRng(s.noise).fillNormal(new Float32Array(per)), b * per));
    const { images, trajectory } = await sampleImages(
      this.model,
      requests.map((r) => ({
        text: '',
        ids: r.ids,
        querySet: r.querySet,
        ...(r.source ? { source: toFloat(r.source).data } : {}),
      })),
      {
        sampler: 'sde',
        steps: o.sdeSteps,
        noiseLevel: o.noiseLevel,
        seed: 0,
        noise,
        rowSeeds: seeds.map((s) => s.sde),
        ...(o.sdeWindow ? { window: o.sdeWindow } : {}),
      },
    );
    const pixels = config.imageSize * config.imageSize * 3;
    const row = (a: Float32Array, b: number, size: number) => a.slice(b * size, (b + 1) * size);
    return requests.map((_, b) => ({
      image: { width: config.imageSize, height: config.imageSize, data: row(images, b, pixels) },
      dm: {
        latents: trajectory!.latents.map((l) => row(l, b, per)),
        grid: { size: config.imageSize, patch: config.dit.patch },
        seeds: seeds[b]!,
        means: trajectory!.means.map((m) => row(m, b, per)),
        logProbs: Float32Array.from(trajectory!.logProbs, (l) => l[b]!),
        times: trajectory!.times,
        stds: trajectory!.stds,
        noiseLevel: o.noiseLevel,
      },
    }));
  }

  // ----- update ------------------------------------------------------------------------------------------

  async objective(batch: readonly UpdateSample[], terms: ObjectiveTerms): Promise<ObjectiveResult> {
    if (batch.length === 0) throw new Error('UnifiedPolicy.objective: empty batch');
    const wantLm = !!terms.lm && this.module.writes;
    const dm: DmLoss | undefined = terms.dm && this.module.draws ? { ...DM_LOSS_DEFAULTS, ...terms.dm } : undefined;
    const dmObjective = dm ? (DM_OBJECTIVES[dm.objective] ?? fail(`unknown DM objective '${String(dm.objective)}'`)) : undefined;
    const passes = Array.from({ length: Math.ceil(batch.length / this.samplesPerPass) }, (_, i) =>
      this.passFeeds(
        batch.slice(i * this.samplesPerPass, (i + 1) * this.samplesPerPass),
        wantLm,
        dm && dmObjective ? { objective: dmObjective, hyper: dm } : undefined,
      ),
    );
    const totals = { lm: sumCounts(passes, 'lm'), dm: sumCounts(passes, 'dm') };
    if (dm && totals.dm === 0) throw new Error('UnifiedPolicy.objective: no DM steps to train');
    if (totals.lm === 0 && totals.dm === 0)
      throw new Error(`UnifiedPolicy.objective: scenario '${this.scenario}' has no term to train with [${Object.keys(terms).join(', ')}]`);
    const oldWeights = dmObjective?.name === 'nft' ? this.advanceOldPolicy(dm!.nftOldDecay) : undefined;
    const wrt = this.model.store.trainable().map((p) => p.name);
    const grads: Record<string, Float32Array> = Object.fromEntries(
      this.model.store.trainable().map((p) => [p.name, new Float32Array(p.size)]),
    );
    const metrics: Record<string, number> = {};
    let loss = 0;
    for (const pass of passes) {
      const kinds = { lm: !!pass.lm, dm: pass.dm ? dmObjective : undefined };
      const objective = this.graph(kinds, { ...(terms.lm ? { lm: terms.lm } : {}), ...(dm ? { dm } : {}) }, wrt);
      const forward = this.graph(kinds, undefined, []);
      const inputs = { ...pass.sequences, ...pass.lm?.inputs, ...pass.dm?.inputs };
      const fed: Record<string, Feed> = { ...inputs, ...pass.lm?.terms, ...pass.dm?.terms };
      // The reference values (the KL anchors): the same forward pass under the frozen starting weights (also
      // with beta = 0, so the KL metrics stay meaningful); and, for an objective anchored on the sampling
      // policy, under the weights before this update.
      const paramsFrom = (weights: Float32Array) =>
        Object.fromEntries(
          forward.params.map((name) => {
            const p = this.model.store.get(name);
            return [name, { data: weights.subarray(p.offset, p.offset + p.size), shape: p.shape }];
          }),
        );
      // Only the terms that ask for old values get them (CoT's LM term takes its old log-probs from the rollout).
      const anchors = [
        { feed: referenceFeed, params: paramsFrom(this.reference), outputs: undefined },
        ...(objective.oldOutputs.length
          ? [{ feed: oldFeed, params: oldWeights ? paramsFrom(oldWeights) : {}, outputs: objective.oldOutputs }]
          : []),
      ];
      for (const { feed, params, outputs } of anchors) {
        const out = await this.model.runModel(forward.key, () => forward.model, { ...inputs, ...params });
        for (const [name, value] of Object.entries(out))
          if (!outputs || outputs.includes(name)) fed[feed(name)] = { data: value.data as Float32Array, shape: [...value.dims] };
      }
      // Each term's means over this pass, weighed by its share of the batch: the passes add up to the batch's means.
      for (const kind of ['lm', 'dm'] as const) {
        const count = pass[kind]?.count;
        if (count) fed[`${kind}_weight`] = { data: new Float32Array([count / totals[kind]]), shape: [] };
      }
      const out = await this.model.runModel(objective.key, () => objective.model, fed);
      for (const [name, value] of Object.entries(out)) {
        if (!name.startsWith(METRIC_PREFIX)) continue;
        const metric = name.slice(METRIC_PREFIX.length);
        metrics[metric] = (metrics[metric] ?? 0) + Number(value.data[0]);
      }
      loss += Number(out.loss!.data[0]);
      // A trainable parameter this pass's graph never reads keeps a zero gradient.
      for (const name of objective.params) {
        const grad = grads[name];
        if (!grad) continue;
        const g = out[gradName(name)]!.data as Float32Array;
        for (let i = 0; i < grad.length; i++) grad[i]! += g[i]!;
      }
    }
    return { loss, metrics, grads };
  }

  /** old <- d·old + (1-d)·theta with d = min(0.001·n, maxDecay) at update n (n = 0: the current weights). */
  private advanceOldPolicy(maxDecay: number): Float32Array {
    const theta = this.model.store.flat;
    this.oldPolicy ??= { weights: Float32Array.from(theta), updates: 0 };
    const d = Math.min(0.001 * this.oldPolicy.updates, maxDecay);
    const old = this.oldPolicy.weights;
    for (let i = 0; i < old.length; i++) old[i] = d * old[i]! + (1 - d) * theta[i]!;
    this.oldPolicy.updates++;
    return old;
  }

  /**
   * The feeds of one pass over its samples' episodes, all sequences in one pack: the LM rows are completions
   * (`lm_seq` picks each one's sequence), the DM rows (trajectory, trained step) pairs (`row_sample` picks the
   * conditioning sequence, `ref` is the DiT reference the trajectory was drawn with). A term is used only
   * when the pass has something for it.
   */
  private passFeeds(batch: readonly UpdateSample[], wantLm: boolean, dm: { objective: DmObjective; hyper: DmLoss } | undefined): PassFeeds {
    const { config, tokenizer } = this.model;
    const { imageTokens, ditTokens, ditPatchDim } = layoutOf(config);
    const sequences: EpisodeSequence[] = [];
    const completions: CompletionRow[] = [];
    const rows: DmRow[] = [];
    const grey = new Float32Array(ditTokens * ditPatchDim);
    for (const u of batch) {
      const episode = this.module.episode(this.calls.encode, u);
      const base = sequences.length;
      sequences.push(...episode.sequences);
      if (wantLm) for (const c of episode.lm) completions.push({ ...c, seq: base + c.seq, advantage: u.advantage });
      if (!dm) continue;
      for (const d of episode.dm) {
        const source = d.source ? this.sourcePatches(d.source) : grey;
        for (const k of u.dmSteps)
          rows.push({ seq: base + d.seq, source, trajectory: d.trajectory, k, advantage: d.advantage ?? u.advantage });
      }
    }
    const withQueries = this.module.draws;
    const packed = packSequences(
      config,
      tokenizer,
      sequences.map((s) => ({
        text: s.ids,
        ...(withQueries ? { querySet: s.querySet ?? 'generate' } : {}),
        ...(s.image ? { image: toFloat(s.image).data } : {}),
      })),
      { withQueries },
    );
    const pass: PassFeeds = { sequences: sequenceFeeds(config, packed) };
    if (completions.length > 0) {
      // With queries the LM term reads all T slots (image, text, queries); without, the L text slots.
      pass.lm = lmToken.feeds(completions, {
        slots: withQueries ? packed.length : packed.textLength,
        offset: withQueries ? imageTokens : 0,
        vocabSize: tokenizer.vocabSize,
      });
    }
    if (rows.length > 0) {
      const rowShape = [ditTokens, ditPatchDim];
      const R = rows.length;
      const ref = new Float32Array(R * ditTokens * ditPatchDim);
      rows.forEach((r, i) => ref.set(r.source, i * ditTokens * ditPatchDim));
      const feeds = dm!.objective.feeds(rows, rowShape, dm!.hyper);
      feeds.inputs.row_sample = { data: BigInt64Array.from(rows, (r) => BigInt(r.seq)), shape: [R] };
      feeds.inputs.ref = { data: ref, shape: [R, ...rowShape] };
      pass.dm = feeds;
    }
    return pass;
  }

  /** DiT reference patches [N·pd] of a source image, exactly as the rollout fed them. */
  private sourcePatches(source: ImageRGB): Float32Array {
    return referencePatches(this.model, [{ text: '', querySet: 'edit', source: toFloat(source).data }]);
  }

  /**
   * The graph of the model's forward pass to each term's policy values, with the objective and its gradients
   * w.r.t. `wrt` when `terms` is given, else the values the reference pass supplies alone.
   */
  private graph(
    kinds: { lm: boolean; dm: DmObjective | undefined },
    terms: { lm?: LmLoss; dm?: DmLoss } | undefined,
    wrt: readonly string[],
  ): BuiltGraph {
    const key =
      `rl/${this.scenario}/${kinds.lm ? 'lm' : ''}${kinds.dm?.name ?? ''}/` +
      `${terms ? JSON.stringify(terms) + wrt.join(',') : 'forward'}`;
    const cached = this.graphs.get(key);
    if (cached) return cached;
    const { config } = this.model;
    const { ditTokens, ditPatchDim } = layoutOf(config);
    const g = new GraphBuilder(terms ? 'grpo_objective' : 'grpo_forward');
    const seq = sequenceInputs(g, config);
    let hidden: Tensor;
    let cond: Tensor | undefined;
    if (this.module.draws) {
      const c = conditionSubgraph(g, this.model.parts, config, seq, g.input('edit_flag', 'float32', ['batch']));
      hidden = c.hidden;
      cond = c.cond;
    } else {
      hidden = textSubgraph(g, this.model.parts, config, seq).textHidden;
    }
    const lm = kinds.lm
      ? lmToken.build(g, hidden, (h) => this.model.parts.lmHead(g, h), this.module.draws ? 'seq' : 'text', this.model.lmShape.vocabSize)
      : undefined;
    let dm: BuiltTerm<DmLoss> | undefined;
    if (kinds.dm) {
      const rowShape = [ditTokens, ditPatchDim];
      const velocity = (x: Tensor, t: Tensor) => {
        const condRows = g.gather(cond!, g.input('row_sample', 'int64', ['rows']), 0); // [R, Q, Dc]
        return this.model.parts.velocity(g, { x, t, cond: condRows, ref: g.input('ref', 'float32', ['rows', ...rowShape]) });
      };
      dm = kinds.dm.build(g, velocity, rowShape);
    }
    const params = g.params.map((p) => p.name);
    let model: ModelProto;
    if (!terms) {
      for (const term of [lm, dm]) for (const [name, t] of Object.entries(term?.forward ?? {})) g.output(t, name);
      model = g.build();
    } else {
      const parts: { kind: string; term: TermGraph; weight: Tensor }[] = [];
      if (lm)
        parts.push({ kind: 'lm', term: lm.term(terms.lm ?? fail('no LM loss settings')), weight: g.input('lm_weight', 'float32', []) });
      if (dm)
        parts.push({ kind: 'dm', term: dm.term(terms.dm ?? fail('no DM loss settings')), weight: g.input('dm_weight', 'float32', []) });
      outputObjective(g, combineTerms(g, parts));
      const stopGradient = parts.flatMap((p) => (p.term.stopGradient ?? []).map((t) => t.name));
      model = grad(g.build(), {
        loss: 'loss',
        wrt: wrt.filter((name) => params.includes(name)),
        ...(stopGradient.length ? { stopGradient } : {}),
      });
    }
    const graph = { key, model, params, oldOutputs: dm?.old ? Object.keys(dm.forward) : [] };
    this.graphs.set(key, graph);
    return graph;
  }

  // ----- evaluation and features -------------------------------------------------------------------------

  /** Euler ODE images for the items, as their scenario asks for them (CoT reasons first, editing edits the source). */
  async generate(items: readonly TaskItem[], odeSteps: number, seed: number): Promise<ImageRGB[]> {
    if (!this.module.imagePrompts) throw new Error(`UnifiedPolicy.generate: scenario '${this.scenario}' draws no images`);
    return this.drawOde((await this.module.imagePrompts(this.calls, items, seed)).map(imagePrompt), odeSteps, seed);
  }

  async reflectGreedy(
    items: readonly TaskItem[],
    odeSteps: number,
    rounds: number,
    seed: number,
  ): Promise<{ images: ImageRGB[]; verdicts: Verdict[] }[]> {
    if (this.scenario !== 'reflect') throw new Error(`UnifiedPolicy.reflectGreedy: scenario '${this.scenario}' is not reflect`);
    const cycles = await reflectCycles(
      items.map((it) => ({ prompt: it.text, rounds })),
      {
        draw: (prompts, round) => this.drawOde(prompts, odeSteps, round === 0 ? seed : mixSeeds(seed, round)),
        decode: async (prompts) =>
          (await sampleText(this.model, prompts, { maxTokens: this.model.config.textLength, temperature: 0, seed })).texts,
      },
    );
    return cycles.map((c) => ({ images: c.images, verdicts: c.rounds.map((r) => r.verdict) }));
  }

  /** Euler ODE images for the requests (evaluation). */
  private async drawOde(prompts: ImagePrompt[], odeSteps: number, seed: number): Promise<ImageRGB[]> {
    const { images } = await sampleImages(this.model, prompts, { sampler: 'ode', steps: odeSteps, seed });
    const size = this.model.config.imageSize;
    const pixels = size * size * 3;
    return prompts.map((_, i) => ({ width: size, height: size, data: images.slice(i * pixels, (i + 1) * pixels) }));
  }

  /** Mean-pooled vision-encoder tokens [lm width] of each image: the preference model's input. */
  async features(images: readonly ImageRGB[]): Promise<Float32Array[]> {
    const { config } = this.model;
    const { imageTokens, visionPatchDim } = layoutOf(config);
    const B = images.length;
    const pixels = config.imageSize * config.imageSize * 3;
    const batch = new Float32Array(B * pixels);
    images.forEach((im, b) => batch.set(toFloat(im).data, b * pixels));
    const out = await this.model.runModel(
      'rl/features',
      () => {
        const g = new GraphBuilder('image_features');
        const patches = g.input('vision_patches', 'float32', ['batch', imageTokens, visionPatchDim]);
        g.output(
          g.reduceMean(visionEncode(g, config.vision, patches, { tokens: imageTokens, lmWidth: config.lm.width }), [1], false),
          'features',
        );
        return g.build();
      },
      {
        vision_patches: { data: imagesToPatches(batch, B, config.imageSize, config.vision.patch), shape: [B, imageTokens, visionPatchDim] },
      },
    );
    const D = config.lm.width;
    const features = out.features!.data as Float32Array;
    return images.map((_, b) => features.slice(b * D, (b + 1) * D));
  }
}

/**
 * The seeds of one draw (stored with its trajectory, so the draw can be made again): the initial noise (shared
 * by a group with sameNoisePerGroup) and the row's own SDE noise. `turn` tells a sample's successive draws apart.
 */
function drawSeeds(o: RolloutOptions, row: RolloutRow, turn: number): DrawSeeds {
  const seed = o.sameNoisePerGroup ? mixSeeds(o.seed, row.group) : row.seed;
  return { noise: turn === 0 ? seed : mixSeeds(seed, turn), sde: mixSeeds(row.seed, 0x5de, turn) };
}

const textPrompt = (p: { text: string; image?: ImageRGB }) => ({ text: p.text, ...(p.image ? { image: toFloat(p.image).data } : {}) });
const imagePrompt = (r: ImageRequest): ImagePrompt => ({
  text: r.text,
  querySet: r.querySet,
  ...(r.source ? { source: toFloat(r.source).data } : {}),
});
const sumCounts = (passes: readonly PassFeeds[], kind: 'lm' | 'dm') => passes.reduce((n, p) => n + (p[kind]?.count ?? 0), 0);

const METRIC_PREFIX = metricOutput('');

/** Checkpoint metadata a run keeps from its starting weights: how they should be sampled (models/generator.ts). */
const INHERITED_METADATA = ['cfg_scale', 'time_shift'] as const;

function fail(message: string): never {
  throw new Error(`UnifiedPolicy: ${message}`);
}
