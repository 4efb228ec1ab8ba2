// The unified model (main/models) as a GRPO `Policy`: rollouts prompt it in the formats it was pretrained on
// (models/formats.ts), and the update builds one ONNX graph per scenario that runs the model, the
// Flow-GRPO SDE step and the joint objective (losses.ts), differentiated by the engine's autodiff.
//   t2i     prompt + generation queries -> condition -> DiT steps            (DM term)
//   cot     prompt -> LM reasoning; prompt + reasoning + queries -> DiT steps (LM term + DM term, one pass)
//   text    prompt -> LM reasoning and answer                                (LM term)
//   vqa     image + question -> LM answer                                    (LM term)
//   edit    source image + instruction + edit queries, source as DiT reference -> edited image; then the
//           edited image + inverse instruction -> reconstruction           (DM term on both trajectories)
//   reflect prompt -> image; image + prompt -> LM critique (verdict, what is wrong, corrected instruction);
//           unless it says right: image + corrected instruction + edit queries, image as reference ->
//           refined image; up to K rounds                                  (LM term on every critique,
//                                                                            DM term on every image)
// The update sees every sample as an episode: the LM sequences it read (one packed batch for the whole
// update), the completions on them (LM term) and the DM trajectories conditioned on them (DM term), so a
// multi-turn sample is just more sequences and more rows with the sample's advantage (reflection's first
// image may have its own).
import type { DrawSeeds, Scenario, Verdict } from '../../contract/domain.ts';
import { grad, gradName } from '../engine/autodiff/grad.ts';
import { GraphBuilder, type Tensor } from '../engine/graph/builder.ts';
import type { ModelProto } from '../engine/onnx/proto.ts';
import { Rng as EngineRng } from '../engine/runtime/rng.ts';
import type { Feed } from '../engine/runtime/session.ts';
import { layoutOf } from '../models/config.ts';
import { sampleSde, sdeSigma, sdeStepGraph } from '../models/flow.ts';
import type { QuerySet } from '../models/connector.ts';
import { formats, readCritique } from '../models/formats.ts';
import { imagesToPatches, patchesToImages } from '../models/patches.ts';
import { reflectCycles } from '../models/reflect.ts';
import { referencePatches, sampleImages, sampleText, velocityFn, type ImagePrompt } from '../models/sample.ts';
import { packSequences, type PackedSequences, type SequenceItem } from '../models/sequence.ts';
import { visionEncode } from '../models/vision.ts';
import { conditionSubgraph, sequenceFeeds, sequenceInputs, textSubgraph, type UnifiedModel } from '../models/unified.ts';
import { toFloat, type ImageRGB } from '../world/image.ts';
import { mixSeeds } from '../world/rng.ts';
import { DEFAULT_SAMPLES_PER_PASS, type ModelPart } from './config.ts';
import { grpoObjective, metricOutput, outputObjective, type ClipKl, type DmTermInputs, type LmTermInputs } from './losses.ts';
import type {
  DmTrajectory, DrawnImage, LmRecord, ObjectiveResult, ObjectiveTerms, Policy, ReflectionRoundResult, RolloutOptions, SampleResult, TaskItem, UpdateSample,
} from './policy.ts';

/** Which store parameters make up each trainable part. */
const PART_SELECTORS: Readonly<Record<ModelPart, (name: string) => boolean>> = {
  lm: (n) => n.startsWith('lm/'),
  vision: (n) => n.startsWith('vision/'),
  genQueries: (n) => n === 'queries/generate',
  editQueries: (n) => n === 'queries/edit',
  connector: (n) => n.startsWith('connector/'),
  dm: (n) => n.startsWith('dit/'),
};

interface ScenarioShape {
  /** The LM writes completions (their tokens get the LM term when the LM trains). */
  lm: boolean;
  /** The DM draws images: update sequences carry meta-queries and condition the DiT. */
  dm: boolean;
  /** The prompt of the sample's first model call. */
  prompt: (item: TaskItem) => string;
}

const SCENARIOS: Readonly<Record<Scenario, ScenarioShape>> = {
  t2i: { lm: false, dm: true, prompt: (it) => formats.generate(it.text) },
  cot: { lm: true, dm: true, prompt: (it) => formats.think(it.text) },
  text: { lm: true, dm: false, prompt: (it) => formats.think(it.text) },
  vqa: { lm: true, dm: false, prompt: (it) => formats.question(it.text) },
  edit: { lm: false, dm: true, prompt: (it) => formats.edit(it.text) },
  reflect: { lm: true, dm: true, prompt: (it) => formats.generate(it.text) },
};

/** One LM input the model read: token ids, the image it saw, the meta-query set after it (DM conditions). */
interface EpisodeSequence {
  ids: number[];
  image?: ImageRGB;
  querySet?: QuerySet;
}

/** What one sample of an update trains, over its own sequences (indices into `sequences`). */
interface Episode {
  sequences: EpisodeSequence[];
  /** Completions: the tokens after the first `promptLength` ids of sequence `seq`. */
  lm: { seq: number; promptLength: number; record: LmRecord }[];
  /** DM trajectories conditioned on sequence `seq`, with `source` as the DiT reference (none: grey), and their own advantage (none: the sample's). */
  dm: { seq: number; source?: ImageRGB; trajectory: DmTrajectory; advantage?: number }[];
}

/** One image request of a rollout batch: the token ids the LM reads (as the update will pack them). */
interface DrawRequest {
  ids: number[];
  querySet: QuerySet;
  /** Editing and refinement: shown to the LM and given to the DiT as reference. */
  source?: ImageRGB;
}

/** A built objective graph and the parameters it reads (fed from the store or the reference copy). */
interface BuiltGraph {
  key: string;
  model: ModelProto;
  params: string[];
}

interface RolloutRow {
  item: TaskItem;
  group: number;
  seed: number;
}

export class UnifiedPolicy implements Policy {
  private readonly shape: ScenarioShape;
  /** The frozen reference: the weights the policy started from. */
  private readonly reference: Float32Array;
  private readonly graphs = new Map<string, BuiltGraph>();

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
    if (!Number.isInteger(samplesPerPass) || samplesPerPass < 1) throw new Error(`UnifiedPolicy: samplesPerPass must be a positive integer, got ${samplesPerPass}`);
    const shape = SCENARIOS[scenario];
    if (!shape) throw new Error(`UnifiedPolicy: unknown scenario '${String(scenario)}'`);
    this.shape = shape;
    this.reference = Float32Array.from(model.store.flat);
  }

  get params() {
    return this.model.store;
  }

  paramsOf(part: ModelPart): string[] {
    return this.model.store.list().map((p) => p.name).filter(PART_SELECTORS[part]);
  }

  checkpointMetadata(): Record<string, string> {
    const inherited = Object.fromEntries(INHERITED_METADATA.flatMap((key) => (this.startingMetadata[key] !== undefined ? [[key, this.startingMetadata[key]!]] : [])));
    return { ...inherited, ...this.model.checkpointMetadata() };
  }

  // ----- rollout -----------------------------------------------------------------------------------------

  async rollout(items: readonly TaskItem[], o: RolloutOptions): Promise<SampleResult[][]> {
    const rows: RolloutRow[] = items.flatMap((item, i) => Array.from({ length: o.groupSize }, (_, k) => ({ item, group: i, seed: mixSeeds(o.seed, i, k) })));
    const results = this.scenario === 'edit' ? await this.rolloutEdit(rows, o)
      : this.scenario === 'reflect' ? await this.rolloutReflection(rows, o)
        : await this.rolloutSingle(rows, o);
    return items.map((_, i) => results.slice(i * o.groupSize, (i + 1) * o.groupSize));
  }

  /** t2i, cot, text, vqa: one LM completion and/or one image per sample. */
  private async rolloutSingle(rows: readonly RolloutRow[], o: RolloutOptions): Promise<SampleResult[]> {
    const prompts = rows.map((r) => this.shape.prompt(r.item));
    const completions = this.shape.lm
      ? await sampleText(this.model, rows.map((r, b) => ({ text: prompts[b]!, ...(r.item.image ? { image: toFloat(r.item.image).data } : {}) })), {
        maxTokens: o.maxNewTokens, temperature: o.temperature, topP: o.topP, seed: o.seed,
      })
      : undefined;
    const results: SampleResult[] = rows.map((r, b) => ({
      seed: r.seed,
      ...(completions ? { text: completions.texts[b]!, lm: lmRecord(completions, b, o.temperature) } : {}),
    }));
    if (this.shape.dm) {
      // CoT: the DiT is conditioned on the prompt and the reasoning the LM just wrote.
      const drawn = await this.draw(rows.map((_, b) => ({ ids: [...this.encode(prompts[b]!), ...(completions?.tokens[b] ?? [])], querySet: 'generate' })), rows, o, 0);
      results.forEach((res, b) => Object.assign(res, drawn[b]));
    }
    return results;
  }

  /** Cycle Edit RL: each sample edits the source; with the cycle on, the result is edited back with the inverse instruction. */
  private async rolloutEdit(rows: readonly RolloutRow[], o: RolloutOptions): Promise<SampleResult[]> {
    const editOf = (r: RolloutRow) => r.item.target.edit?.edit ?? fail(`edit item '${r.item.text}' has no edit target`);
    const sourceOf = (r: RolloutRow) => r.item.image ?? fail(`edit item '${r.item.text}' has no source image`);
    const edited = await this.draw(rows.map((r) => ({ ids: this.encode(formats.edit(editOf(r).instruction)), querySet: 'edit', source: sourceOf(r) })), rows, o, 0);
    const results: SampleResult[] = rows.map((r, b) => ({ seed: r.seed, ...edited[b]! }));
    if (o.editCycle) {
      const reverse = await this.draw(rows.map((r, b) => ({ ids: this.encode(formats.edit(editOf(r).inverse)), querySet: 'edit', source: edited[b]!.image })), rows, o, 1);
      results.forEach((res, b) => (res.reverse = reverse[b]!));
    }
    return results;
  }

  /**
   * Reflection: the first image, then up to K rounds of critique -> refinement. A round critiques the
   * current image; a 'wrong' verdict refines it (an edit of the image with the corrected instruction, the
   * image as reference); a 'correct' verdict ends the sample's cycle.
   */
  private async rolloutReflection(rows: readonly RolloutRow[], o: RolloutOptions): Promise<SampleResult[]> {
    const first = await this.draw(rows.map((r) => ({ ids: this.encode(formats.generate(r.item.text)), querySet: 'generate' })), rows, o, 0);
    const results: SampleResult[] = rows.map((r, b) => ({ seed: r.seed, ...first[b]!, rounds: [] }));
    const current = first.map((d) => d.image);
    let active = rows.map((_, b) => b);
    for (let round = 1; round <= o.reflectionRounds && active.length > 0; round++) {
      const critiques = await sampleText(this.model, active.map((b) => ({ text: formats.critique(rows[b]!.item.text), image: toFloat(current[b]!).data })), {
        maxTokens: o.maxNewTokens, temperature: o.temperature, topP: o.topP, seed: mixSeeds(o.seed, 0xc417, round),
      });
      const rounds = active.map((b, j) => {
        const read = readCritique(critiques.texts[j]!);
        const r: ReflectionRoundResult = { text: critiques.texts[j]!, lm: lmRecord(critiques, j, o.temperature), verdict: read.verdict, fix: read.fix };
        results[b]!.rounds!.push(r);
        return r;
      });
      const refine = active.flatMap((b, j) => (rounds[j]!.verdict === 'wrong' ? [{ b, round: rounds[j]! }] : []));
      if (refine.length === 0) break;
      const refined = await this.draw(refine.map(({ b, round: r }) => ({ ids: this.encode(formats.edit(r.fix)), querySet: 'edit', source: current[b]! })), refine.map(({ b }) => rows[b]!), o, round);
      refine.forEach(({ b, round: r }, j) => {
        r.refined = refined[j]!;
        current[b] = refined[j]!.image;
      });
      active = refine.map(({ b }) => b);
    }
    return results;
  }

  /**
   * SDE images for the requests (one per row): the condition from the LM with the request's query set
   * (and its source image as image tokens), the source as the DiT reference. `turn` tells a sample's
   * successive draws apart in the seeds; turn 0 keeps the single-turn seeds.
   */
  private async draw(requests: readonly DrawRequest[], rows: readonly RolloutRow[], o: RolloutOptions, turn: number): Promise<DrawnImage[]> {
    return this.drawSeeded(requests, rows.map((r) => drawSeeds(o, r, turn)), o);
  }

  /**
   * One stored image drawn again from what its trajectory recorded: the prompt (and, for CoT, the reasoning
   * tokens the DiT was conditioned on), its seeds and the run's SDE schedule. With the weights it was drawn
   * with, the same trajectory (up to float rounding of a batch of one).
   */
  async drawAgain(request: { prompt: string; reasoning?: readonly number[] }, seeds: DrawSeeds, o: Pick<RolloutOptions, 'sdeSteps' | 'noiseLevel'>): Promise<DrawnImage> {
    if (!this.shape.dm) throw new Error(`a ${this.scenario} run draws no images`);
    const ids = [...this.encode(this.shape.prompt({ task: '', text: request.prompt, spec: null, target: {} })), ...(request.reasoning ?? [])];
    const [drawn] = await this.drawSeeded([{ ids, querySet: 'generate' }], [seeds], o);
    return drawn!;
  }

  private async drawSeeded(requests: readonly DrawRequest[], seeds: readonly DrawSeeds[], o: Pick<RolloutOptions, 'sdeSteps' | 'noiseLevel'>): Promise<DrawnImage[]> {
    const { config } = this.model;
    const { ditTokens, ditPatchDim } = layoutOf(config);
    const per = ditTokens * ditPatchDim;
    const B = requests.length;
    const sources = requests.map((r) => (r.source ? toFloat(r.source).data : undefined));
    const packed = this.pack(requests.map((r, b) => ({ text: r.ids, querySet: r.querySet, ...(sources[b] ? { image: sources[b] } : {}) })), true);
    const cond = (await this.model.run('condition', sequenceFeeds(config, packed))).cond!.data as Float32Array;
    const ref = referencePatches(this.model, requests.map((r, b) => ({ text: '', querySet: r.querySet, ...(sources[b] ? { source: sources[b] } : {}) })));
    const noise = new Float32Array(B * per);
    seeds.forEach((s, b) => {
      const rng = new EngineRng(s.noise);
      for (let i = 0; i < per; i++) noise[b * per + i] = rng.normal();
    });
    const trajectory = await sampleSde(velocityFn(this.model, B, cond, ref), noise, B, { steps: o.sdeSteps, noiseLevel: o.noiseLevel, rng: seeds.map((s) => new EngineRng(s.sde)) });
    const images = patchesToImages(trajectory.latents[o.sdeSteps]!, B, config.imageSize, config.dit.patch);
    const pixels = config.imageSize * config.imageSize * 3;
    const row = (a: Float32Array, b: number, size: number) => a.slice(b * size, (b + 1) * size);
    return requests.map((_, b) => ({
      image: { width: config.imageSize, height: config.imageSize, data: row(images, b, pixels) },
      dm: {
        latents: trajectory.latents.map((l) => row(l, b, per)),
        grid: { size: config.imageSize, patch: config.dit.patch },
        seeds: seeds[b]!,
        means: trajectory.means.map((m) => row(m, b, per)),
        logProbs: Float32Array.from(trajectory.logProbs, (l) => l[b]!),
        times: trajectory.times,
        stds: trajectory.stds,
        noiseLevel: o.noiseLevel,
      },
    }));
  }

  private encode(text: string): number[] {
    return this.model.tokenizer.encode(text);
  }

  private pack(items: SequenceItem[], withQueries: boolean): PackedSequences {
    return packSequences(this.model.config, this.model.tokenizer, items, { withQueries });
  }

  // ----- update ------------------------------------------------------------------------------------------

  /** The sequences, completions and trajectories of one sample, as its rollout produced them. */
  private episodeOf(u: UpdateSample): Episode {
    const { item, sample } = u;
    const lm = () => sample.lm ?? fail(`sample ${sample.seed} has no LM tokens`);
    const dm = () => sample.dm ?? fail(`sample ${sample.seed} has no DM trajectory`);
    const image = () => sample.image ?? fail(`sample ${sample.seed} has no image`);
    const withCompletion = (prompt: number[], record: LmRecord) => [...prompt, ...record.tokenIds];
    switch (this.scenario) {
      case 't2i':
        return { sequences: [{ ids: this.encode(this.shape.prompt(item)), querySet: 'generate' }], lm: [], dm: [{ seq: 0, trajectory: dm() }] };
      case 'cot': {
        // One sequence: the reasoning's tokens get the LM term, the queries after it condition the DiT.
        const prompt = this.encode(this.shape.prompt(item));
        return { sequences: [{ ids: withCompletion(prompt, lm()), querySet: 'generate' }], lm: [{ seq: 0, promptLength: prompt.length, record: lm() }], dm: [{ seq: 0, trajectory: dm() }] };
      }
      case 'text':
      case 'vqa': {
        const prompt = this.encode(this.shape.prompt(item));
        return { sequences: [{ ids: withCompletion(prompt, lm()), ...(item.image ? { image: item.image } : {}) }], lm: [{ seq: 0, promptLength: prompt.length, record: lm() }], dm: [] };
      }
      case 'edit': {
        const edit = item.target.edit?.edit ?? fail(`edit item '${item.text}' has no edit target`);
        const source = item.image ?? fail(`edit item '${item.text}' has no source image`);
        const episode: Episode = { sequences: [{ ids: this.encode(formats.edit(edit.instruction)), image: source, querySet: 'edit' }], lm: [], dm: [{ seq: 0, source, trajectory: dm() }] };
        if (sample.reverse) {
          // The reverse edit reads the edited image as it was drawn (a fixed input: no gradient through it).
          episode.sequences.push({ ids: this.encode(formats.edit(edit.inverse)), image: image(), querySet: 'edit' });
          episode.dm.push({ seq: 1, source: image(), trajectory: sample.reverse.dm });
        }
        return episode;
      }
      case 'reflect': {
        // The critiques and refinements share the sample's advantage: round k of different members judges
        // different images, so there is no group per round to normalise against. The first image has one
        // (every member draws one) and gets its own advantage when the trainer gives it (per-round mode).
        const first = { seq: 0, trajectory: dm(), ...(u.firstImageAdvantage !== undefined ? { advantage: u.firstImageAdvantage } : {}) };
        const episode: Episode = { sequences: [{ ids: this.encode(formats.generate(item.text)), querySet: 'generate' }], lm: [], dm: [first] };
        const critiquePrompt = this.encode(formats.critique(item.text));
        let judged = image();
        for (const round of sample.rounds ?? []) {
          // The critique's queries are never read (causal attention: they do not change its log-probs).
          episode.lm.push({ seq: episode.sequences.length, promptLength: critiquePrompt.length, record: round.lm });
          episode.sequences.push({ ids: withCompletion(critiquePrompt, round.lm), image: judged, querySet: 'generate' });
          if (!round.refined) break;
          episode.dm.push({ seq: episode.sequences.length, source: judged, trajectory: round.refined.dm });
          episode.sequences.push({ ids: this.encode(formats.edit(round.fix)), image: judged, querySet: 'edit' });
          judged = round.refined.image;
        }
        return episode;
      }
    }
  }

  async objective(batch: readonly UpdateSample[], terms: ObjectiveTerms): Promise<ObjectiveResult> {
    if (batch.length === 0) throw new Error('UnifiedPolicy.objective: empty batch');
    const wantLm = !!terms.lm && this.shape.lm;
    const wantDm = !!terms.dm && this.shape.dm;
    const passes = Array.from({ length: Math.ceil(batch.length / this.samplesPerPass) }, (_, i) =>
      this.batchFeeds(batch.slice(i * this.samplesPerPass, (i + 1) * this.samplesPerPass), wantLm, wantDm));
    const completions = passes.reduce((n, p) => n + p.completions, 0);
    const rows = passes.reduce((n, p) => n + p.rows, 0);
    if (wantDm && rows === 0) throw new Error('UnifiedPolicy.objective: no DM steps to train');
    if (completions === 0 && rows === 0) throw new Error(`UnifiedPolicy.objective: scenario '${this.scenario}' has no term to train with [${Object.keys(terms).join(', ')}]`);
    const wrt = this.model.store.trainable().map((p) => p.name);
    const grads: Record<string, Float32Array> = Object.fromEntries(this.model.store.trainable().map((p) => [p.name, new Float32Array(p.size)]));
    const metrics: Record<string, number> = {};
    let loss = 0;
    for (const feeds of passes) {
      const { useLm, useDm } = feeds;
      const objective = this.graph(useLm, useDm, terms, wrt);
      // Reference log-probs and means: the same forward pass under the frozen starting weights (also with
      // beta = 0, so the KL metrics stay meaningful).
      const forward = this.graph(useLm, useDm, undefined, []);
      const refFeeds = Object.fromEntries(forward.params.map((name) => {
        const p = this.model.store.get(name);
        return [name, { data: this.reference.subarray(p.offset, p.offset + p.size), shape: p.shape }];
      }));
      const ref = await this.model.runModel(forward.key, () => forward.model, { ...feeds.inputs, ...refFeeds });
      if (useLm) feeds.terms.lm_ref = { data: ref.lm_logp!.data as Float32Array, shape: feeds.lmShape };
      if (useDm) feeds.terms.dm_ref_mean = { data: ref.dm_mean!.data as Float32Array, shape: feeds.rowShape };
      // Each term's means over this pass, weighed by its share of the batch: the passes add up to the batch's means.
      const weights = {
        ...(useLm ? { lm_weight: { data: new Float32Array([feeds.completions / completions]), shape: [] } } : {}),
        ...(useDm ? { dm_weight: { data: new Float32Array([feeds.rows / rows]), shape: [] } } : {}),
      };
      const out = await this.model.runModel(objective.key, () => objective.model, { ...feeds.inputs, ...feeds.terms, ...weights });
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

  /**
   * Feeds of the objective (and the reference pass) over the batch's episodes, all sequences in one pack.
   * LM arrays are [C, X], one row per completion (`lm_seq` picks its sequence), over the slots whose hidden
   * state predicts each completion token (X = text slots L without queries, all slots T with them); DM
   * arrays are rows, one per (trajectory, trained step) (`row_sample` picks the conditioning sequence).
   * A term is used only when the batch has something for it.
   */
  private batchFeeds(batch: readonly UpdateSample[], wantLm: boolean, wantDm: boolean) {
    const { config, tokenizer } = this.model;
    const { imageTokens, ditTokens, ditPatchDim } = layoutOf(config);
    const sequences: EpisodeSequence[] = [];
    const completions: (Episode['lm'][number] & { advantage: number })[] = [];
    const rows: { seq: number; source: Float32Array; trajectory: DmTrajectory; k: number; advantage: number }[] = [];
    const per = ditTokens * ditPatchDim;
    const grey = new Float32Array(per);
    for (const u of batch) {
      const episode = this.episodeOf(u);
      const base = sequences.length;
      sequences.push(...episode.sequences);
      if (wantLm) for (const c of episode.lm) completions.push({ ...c, seq: base + c.seq, advantage: u.advantage });
      if (!wantDm) continue;
      for (const d of episode.dm) {
        const source = d.source ? this.sourcePatches(d.source) : grey;
        for (const k of u.dmSteps) rows.push({ seq: base + d.seq, source, trajectory: d.trajectory, k, advantage: d.advantage ?? u.advantage });
      }
    }
    const useLm = completions.length > 0;
    const useDm = rows.length > 0;
    const packed = this.pack(sequences.map((s) => ({
      text: s.ids, ...(this.shape.dm ? { querySet: s.querySet ?? 'generate' } : {}), ...(s.image ? { image: toFloat(s.image).data } : {}),
    })), this.shape.dm);
    // `inputs` feed the model's forward pass; `terms` the objective's rollout records.
    const inputs: Record<string, Feed> = { ...sequenceFeeds(config, packed) };
    const terms: Record<string, Feed> = {};
    // With queries the LM term reads all T slots (image, text, queries); without, the L text slots.
    const X = this.shape.dm ? packed.length : packed.textLength;
    const offset = this.shape.dm ? imageTokens : 0;
    const C = completions.length;
    const lmShape = [C, X];
    if (useLm) {
      const V = tokenizer.vocabSize;
      const targets = new Float32Array(C * X * V);
      const old = new Float32Array(C * X);
      const mask = new Float32Array(C * X);
      completions.forEach((c, i) => {
        c.record.tokenIds.forEach((token, j) => {
          const slot = i * X + offset + c.promptLength - 1 + j; // the slot whose output predicts token j
          targets[slot * V + token] = 1;
          old[slot] = c.record.logProbs[j]!;
          mask[slot] = 1;
        });
      });
      Object.assign(inputs, {
        lm_seq: { data: BigInt64Array.from(completions, (c) => BigInt(c.seq)), shape: [C] },
        targets: { data: targets, shape: [C, X, V] },
        inv_temperature: { data: new Float32Array([1 / samplingTemperature(completions.map((c) => c.record))]), shape: [1] },
      });
      Object.assign(terms, {
        lm_old: { data: old, shape: lmShape }, lm_mask: { data: mask, shape: lmShape },
        lm_adv: { data: Float32Array.from(completions, (c) => c.advantage), shape: [C] },
      });
    }
    const R = rows.length;
    const rowShape = [R, ditTokens, ditPatchDim];
    if (useDm) {
      const f = { x: new Float32Array(R * per), xNext: new Float32Array(R * per), ref: new Float32Array(R * per), t: new Float32Array(R), dt: new Float32Array(R), sigma: new Float32Array(R), old: new Float32Array(R), std: new Float32Array(R), adv: new Float32Array(R) };
      rows.forEach(({ trajectory: dm, source, k, advantage }, r) => {
        const t = dm.times[k]!;
        const tNext = dm.times[k + 1]!;
        f.x.set(dm.latents[k]!, r * per);
        f.xNext.set(dm.latents[k + 1]!, r * per);
        f.ref.set(source, r * per);
        f.t[r] = t;
        f.dt[r] = tNext - t;
        f.sigma[r] = sdeSigma(t, tNext, dm.noiseLevel);
        f.old[r] = dm.logProbs[k]!;
        f.std[r] = dm.stds[k]!;
        f.adv[r] = advantage;
      });
      Object.assign(inputs, {
        row_sample: { data: BigInt64Array.from(rows, (r) => BigInt(r.seq)), shape: [R] },
        x: { data: f.x, shape: rowShape }, x_next: { data: f.xNext, shape: rowShape }, ref: { data: f.ref, shape: rowShape },
        t: { data: f.t, shape: [R] }, dt: { data: f.dt, shape: [R] }, sigma: { data: f.sigma, shape: [R] },
      });
      Object.assign(terms, { dm_old: { data: f.old, shape: [R] }, dm_std: { data: f.std, shape: [R] }, dm_adv: { data: f.adv, shape: [R] } });
    }
    return { inputs, terms, lmShape, rowShape, useLm, useDm, completions: C, rows: R };
  }

  /** DiT reference patches [N·pd] of a source image, exactly as the rollout fed them. */
  private sourcePatches(source: ImageRGB): Float32Array {
    return referencePatches(this.model, [{ text: '', querySet: 'edit', source: toFloat(source).data }]);
  }

  /**
   * The graph of the model's forward pass to the policy's log-probs (and step means), with the
   * objective and its gradients w.r.t. `wrt` when `terms` is given, else the forward outputs alone
   * (lm_logp, dm_mean) for the reference pass.
   */
  private graph(useLm: boolean, useDm: boolean, terms: ObjectiveTerms | undefined, wrt: readonly string[]): BuiltGraph {
    const key = `rl/${this.scenario}/${useLm ? 'lm' : ''}${useDm ? 'dm' : ''}/${terms ? JSON.stringify(terms) + wrt.join(',') : 'forward'}`;
    const cached = this.graphs.get(key);
    if (cached) return cached;
    const { config } = this.model;
    const shape = this.model.lmShape;
    const { ditTokens, ditPatchDim } = layoutOf(config);
    const g = new GraphBuilder(terms ? 'grpo_objective' : 'grpo_forward');
    const seq = sequenceInputs(g, config);
    let hidden: Tensor;
    let cond: Tensor | undefined;
    if (this.shape.dm) {
      const c = conditionSubgraph(g, this.model.parts, config, seq, g.input('edit_flag', 'float32', ['batch']));
      hidden = c.hidden;
      cond = c.cond;
    } else {
      hidden = textSubgraph(g, this.model.parts, config, seq).textHidden;
    }
    const X = this.shape.dm ? 'seq' : 'text';
    // The policy's forward values: token log-probs [C, X] (and the scaled logits), step means and log-probs.
    let lmForward: { logits: Tensor; logProbs: Tensor } | undefined;
    if (useLm) {
      const completionHidden = g.gather(hidden, g.input('lm_seq', 'int64', ['completions']), 0); // [C, X, D]
      const logits = g.mul(this.model.parts.lmHead(g, completionHidden), g.input('inv_temperature', 'float32', [1])); // [C, X, V]
      const targets = g.input('targets', 'float32', ['completions', X, shape.vocabSize]);
      lmForward = { logits, logProbs: g.reduceSum(g.mul(g.logSoftmax(logits, -1), targets), [-1], false) };
    }
    const rows = (name: string) => g.input(name, 'float32', ['rows', ditTokens, ditPatchDim]);
    const scalars = (name: string) => g.input(name, 'float32', ['rows']);
    let dmForward: { mean: Tensor; logProb: Tensor } | undefined;
    if (useDm) {
      const x = rows('x');
      const t = scalars('t');
      const condRows = g.gather(cond!, g.input('row_sample', 'int64', ['rows']), 0); // [R, Q, Dc]
      const v = this.model.parts.velocity(g, { x, t, cond: condRows, ref: rows('ref') });
      dmForward = sdeStepGraph(g, { x, v, t, xNext: rows('x_next'), dt: scalars('dt'), sigma: scalars('sigma') });
    }
    const params = g.params.map((p) => p.name);
    let model: ModelProto;
    if (!terms) {
      if (lmForward) g.output(lmForward.logProbs, 'lm_logp');
      if (dmForward) g.output(dmForward.mean, 'dm_mean');
      model = g.build();
    } else {
      const parts: Parameters<typeof grpoObjective>[1] = {};
      if (lmForward) {
        const lm: LmTermInputs = {
          logProbs: lmForward.logProbs, oldLogProbs: g.input('lm_old', 'float32', ['completions', X]), refLogProbs: g.input('lm_ref', 'float32', ['completions', X]),
          mask: g.input('lm_mask', 'float32', ['completions', X]), advantages: g.input('lm_adv', 'float32', ['completions']),
        };
        parts.lm = { ...(terms.lm as ClipKl), inputs: lm, logits: lmForward.logits, weight: g.input('lm_weight', 'float32', []) };
      }
      if (dmForward) {
        const dm: DmTermInputs = {
          logProbs: dmForward.logProb, means: dmForward.mean,
          oldLogProbs: scalars('dm_old'), refMeans: rows('dm_ref_mean'), stds: scalars('dm_std'), advantages: scalars('dm_adv'),
        };
        parts.dm = { ...(terms.dm as ClipKl), inputs: dm, weight: g.input('dm_weight', 'float32', []) };
      }
      outputObjective(g, grpoObjective(g, parts));
      model = grad(g.build(), { loss: 'loss', wrt: wrt.filter((name) => params.includes(name)) });
    }
    const built = { key, model, params };
    this.graphs.set(key, built);
    return built;
  }

  // ----- evaluation and features -------------------------------------------------------------------------

  /** ODE images: cot reasons first; edit edits the item's source; t2i and reflect (its single-shot first image) generate. */
  async generate(items: readonly TaskItem[], odeSteps: number, seed: number): Promise<ImageRGB[]> {
    if (!this.shape.dm) throw new Error(`UnifiedPolicy.generate: scenario '${this.scenario}' draws no images`);
    let texts = items.map((it) => this.shape.prompt(it));
    if (this.scenario === 'cot') {
      const reasoning = await sampleText(this.model, texts.map((text) => ({ text })), { maxTokens: this.model.config.textLength, temperature: 0, seed });
      texts = texts.map((t, i) => `${t} ${reasoning.texts[i]}`);
    }
    const edit = this.scenario === 'edit';
    return this.drawOde(items.map((it, i) => ({
      text: texts[i]!, querySet: edit ? 'edit' : 'generate', ...(edit ? { source: toFloat(it.image ?? fail(`edit item '${it.text}' has no source image`)).data } : {}),
    })), odeSteps, seed);
  }

  async reflectGreedy(items: readonly TaskItem[], odeSteps: number, rounds: number, seed: number): Promise<{ images: ImageRGB[]; verdicts: Verdict[] }[]> {
    if (this.scenario !== 'reflect') throw new Error(`UnifiedPolicy.reflectGreedy: scenario '${this.scenario}' is not reflect`);
    const cycles = await reflectCycles(items.map((it) => ({ prompt: it.text, rounds })), {
      draw: (prompts, round) => this.drawOde(prompts, odeSteps, round === 0 ? seed : mixSeeds(seed, round)),
      decode: async (prompts) => (await sampleText(this.model, prompts, { maxTokens: this.model.config.textLength, temperature: 0, seed })).texts,
    });
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
    const out = await this.model.runModel('rl/features', () => {
      const g = new GraphBuilder('image_features');
      const patches = g.input('vision_patches', 'float32', ['batch', imageTokens, visionPatchDim]);
      g.output(g.reduceMean(visionEncode(g, config.vision, patches, { tokens: imageTokens, lmWidth: config.lm.width }), [1], false), 'features');
      return g.build();
    }, { vision_patches: { data: imagesToPatches(batch, B, config.imageSize, config.vision.patch), shape: [B, imageTokens, visionPatchDim] } });
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

function lmRecord(samples: { tokens: number[][]; logProbs: number[][] }, b: number, temperature: number): LmRecord {
  return { tokenIds: Int32Array.from(samples.tokens[b]!), logProbs: Float32Array.from(samples.logProbs[b]!), temperature };
}

/** The sampling temperature of the batch's completions (their log-probs are under it). */
function samplingTemperature(records: readonly LmRecord[]): number {
  const temperatures = new Set(records.map((r) => r.temperature));
  if (temperatures.size !== 1) throw new Error(`UnifiedPolicy.objective: the batch mixes sampling temperatures (${[...temperatures].join(', ')})`);
  const [temperature] = temperatures;
  // Greedy decoding (0) recorded log-probs of the untempered distribution.
  return temperature! > 0 ? temperature! : 1;
}

const METRIC_PREFIX = metricOutput('');

/** Checkpoint metadata a run keeps from its starting weights: how they should be sampled (models/generator.ts). */
const INHERITED_METADATA = ['cfg_scale', 'time_shift'] as const;

function fail(message: string): never {
  throw new Error(`UnifiedPolicy: ${message}`);
}
