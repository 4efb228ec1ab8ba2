// The unified model (main/models) as a GRPO `Policy`: rollouts prompt it in the formats it was pretrained on
// (models/formats.ts), and the update builds one ONNX graph per scenario that runs the model, the
// Flow-GRPO SDE step and the joint objective (losses.ts), differentiated by the engine's autodiff.
//   t2i   prompt + generation queries -> condition -> DiT steps            (DM term)
//   cot   prompt -> LM reasoning; prompt + reasoning + queries -> DiT steps (LM term + DM term, one pass)
//   text  prompt -> LM reasoning and answer                                (LM term)
//   vqa   image + question -> LM answer                                    (LM term)
import type { Scenario } from '../../contract/domain.ts';
import { grad, gradName } from '../engine/autodiff/grad.ts';
import { GraphBuilder, type Tensor } from '../engine/graph/builder.ts';
import type { ModelProto } from '../engine/onnx/proto.ts';
import { Rng as EngineRng } from '../engine/runtime/rng.ts';
import type { Feed } from '../engine/runtime/session.ts';
import { layoutOf } from '../models/config.ts';
import { ditVelocity } from '../models/dit.ts';
import { sampleSde, sdeSigma, sdeStepGraph } from '../models/flow.ts';
import { formats } from '../models/formats.ts';
import { lmLogits } from '../models/lm.ts';
import { imagesToPatches, patchesToImages } from '../models/patches.ts';
import { sampleImages, sampleText, velocityFn } from '../models/sample.ts';
import { packSequences, type PackedSequences, type SequenceItem } from '../models/sequence.ts';
import { visionEncode } from '../models/vision.ts';
import { conditionSubgraph, sequenceFeeds, sequenceInputs, textSubgraph, type UnifiedModel } from '../models/unified.ts';
import { toFloat, type ImageRGB } from '../world/image.ts';
import { mixSeeds } from '../world/rng.ts';
import type { ModelPart } from './config.ts';
import { grpoObjective, metricOutput, outputObjective, type ClipKl, type DmTermInputs, type LmTermInputs } from './losses.ts';
import type { ObjectiveResult, ObjectiveTerms, Policy, RolloutOptions, SampleResult, TaskItem, UpdateSample } from './policy.ts';

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
  /** The LM writes a completion (its tokens get the LM term when the LM trains). */
  lm: boolean;
  /** The DM draws an image. */
  dm: boolean;
  /** The prompt text the model reads. */
  prompt: (item: TaskItem) => string;
}

const SCENARIOS: Partial<Record<Scenario, ScenarioShape>> = {
  t2i: { lm: false, dm: true, prompt: (it) => formats.generate(it.text) },
  cot: { lm: true, dm: true, prompt: (it) => formats.think(it.text) },
  text: { lm: true, dm: false, prompt: (it) => formats.think(it.text) },
  vqa: { lm: true, dm: false, prompt: (it) => formats.question(it.text) },
};

/** A built objective graph and the parameters it reads (fed from the store or the reference copy). */
interface BuiltGraph {
  key: string;
  model: ModelProto;
  params: string[];
}

export class UnifiedPolicy implements Policy {
  private readonly shape: ScenarioShape;
  /** The frozen reference: the weights the policy started from. */
  private readonly reference: Float32Array;
  private readonly graphs = new Map<string, BuiltGraph>();

  constructor(readonly model: UnifiedModel, readonly scenario: Scenario) {
    const shape = SCENARIOS[scenario];
    if (!shape) throw new Error(`UnifiedPolicy: scenario '${scenario}' is not supported yet (issue 7)`);
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
    return { preset: this.model.config.name, config: JSON.stringify(this.model.config), tokenizer: JSON.stringify(this.model.tokenizer.toJSON()) };
  }

  // ----- rollout -----------------------------------------------------------------------------------------

  async rollout(items: readonly TaskItem[], o: RolloutOptions): Promise<SampleResult[][]> {
    const rows = items.flatMap((item, i) => Array.from({ length: o.groupSize }, (_, k) => ({ item, group: i, seed: mixSeeds(o.seed, i, k) })));
    const promptIds = rows.map((r) => this.model.tokenizer.encode(this.shape.prompt(r.item)));
    const completions = this.shape.lm
      ? await sampleText(this.model, rows.map((r) => ({ text: this.shape.prompt(r.item), ...(r.item.image ? { image: toFloat(r.item.image).data } : {}) })), {
        maxTokens: o.maxNewTokens, temperature: o.temperature, topP: o.topP, seed: o.seed,
      })
      : undefined;
    const results: SampleResult[] = rows.map((r, b) => ({
      seed: r.seed,
      ...(completions ? { text: completions.texts[b]!, lm: { tokenIds: Int32Array.from(completions.tokens[b]!), logProbs: Float32Array.from(completions.logProbs[b]!), temperature: o.temperature } } : {}),
    }));
    if (this.shape.dm) {
      const conditionIds = promptIds.map((ids, b) => [...ids, ...(completions?.tokens[b] ?? [])]);
      await this.drawImages(rows, conditionIds, o, results);
    }
    return items.map((_, i) => results.slice(i * o.groupSize, (i + 1) * o.groupSize));
  }

  /** SDE images for every row, conditioned on its token ids; fills image and dm of `results`. */
  private async drawImages(rows: readonly { group: number }[], conditionIds: number[][], o: RolloutOptions, results: SampleResult[]): Promise<void> {
    const { config } = this.model;
    const { ditTokens, ditPatchDim } = layoutOf(config);
    const per = ditTokens * ditPatchDim;
    const B = rows.length;
    const packed = this.pack(conditionIds.map((text) => ({ text, querySet: 'generate' })), true);
    const cond = (await this.model.run('condition', sequenceFeeds(config, packed))).cond!.data as Float32Array;
    const noise = new Float32Array(B * per);
    rows.forEach((r, b) => {
      const rng = new EngineRng(o.sameNoisePerGroup ? mixSeeds(o.seed, r.group) : results[b]!.seed);
      for (let i = 0; i < per; i++) noise[b * per + i] = rng.normal();
    });
    const ref = new Float32Array(B * per); // no reference image: the grey image's patches are 0
    const trajectory = await sampleSde(velocityFn(this.model, B, cond, ref), noise, B, { steps: o.sdeSteps, noiseLevel: o.noiseLevel, rng: new EngineRng(mixSeeds(o.seed, 0x5de)) });
    const images = patchesToImages(trajectory.latents[o.sdeSteps]!, B, config.imageSize, config.dit.patch);
    const pixels = config.imageSize * config.imageSize * 3;
    results.forEach((res, b) => {
      const row = (a: Float32Array, size: number) => a.slice(b * size, (b + 1) * size);
      res.image = { width: config.imageSize, height: config.imageSize, data: row(images, pixels) };
      res.dm = {
        latents: trajectory.latents.map((l) => row(l, per)),
        means: trajectory.means.map((m) => row(m, per)),
        logProbs: Float32Array.from(trajectory.logProbs, (l) => l[b]!),
        times: trajectory.times,
        stds: trajectory.stds,
        noiseLevel: o.noiseLevel,
      };
    });
  }

  private pack(items: SequenceItem[], withQueries: boolean): PackedSequences {
    return packSequences(this.model.config, this.model.tokenizer, items, { withQueries });
  }

  // ----- update ------------------------------------------------------------------------------------------

  async objective(batch: readonly UpdateSample[], terms: ObjectiveTerms): Promise<ObjectiveResult> {
    if (batch.length === 0) throw new Error('UnifiedPolicy.objective: empty batch');
    const useLm = !!terms.lm && this.shape.lm;
    const useDm = !!terms.dm && this.shape.dm;
    if (!useLm && !useDm) throw new Error(`UnifiedPolicy.objective: scenario '${this.scenario}' has no term to train with [${Object.keys(terms).join(', ')}]`);
    const feeds = this.batchFeeds(batch, useLm, useDm);
    const wrt = this.model.store.trainable().map((p) => p.name);
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
    const out = await this.model.runModel(objective.key, () => objective.model, { ...feeds.inputs, ...feeds.terms });
    const metrics: Record<string, number> = {};
    for (const name of Object.keys(out)) if (name.startsWith(METRIC_PREFIX)) metrics[name.slice(METRIC_PREFIX.length)] = Number(out[name]!.data[0]);
    const grads: Record<string, Float32Array> = {};
    for (const p of this.model.store.trainable()) {
      // A trainable parameter this scenario's graph never reads gets a zero gradient.
      grads[p.name] = objective.params.includes(p.name) ? (out[gradName(p.name)]!.data as Float32Array) : new Float32Array(p.size);
    }
    return { loss: Number(out.loss!.data[0]), metrics, grads };
  }

  /**
   * Feeds of the objective (and the reference pass). LM arrays are [B, X] over the slots whose hidden state
   * predicts each completion token (X = text slots L without queries, all slots T with them); DM arrays
   * are rows, one per (sample, trained step).
   */
  private batchFeeds(batch: readonly UpdateSample[], useLm: boolean, useDm: boolean) {
    const { config, tokenizer } = this.model;
    const { imageTokens, ditTokens, ditPatchDim } = layoutOf(config);
    const promptIds = batch.map((u) => tokenizer.encode(this.shape.prompt(u.item)));
    const completions = batch.map((u) => (this.shape.lm ? Array.from(u.sample.lm?.tokenIds ?? fail(`sample ${u.sample.seed} has no LM tokens`)) : []));
    const packed = this.pack(batch.map((u, b) => ({
      text: [...promptIds[b]!, ...completions[b]!],
      ...(this.shape.dm ? { querySet: 'generate' as const } : {}),
      ...(u.item.image ? { image: toFloat(u.item.image).data } : {}),
    })), this.shape.dm);
    // `inputs` feed the model's forward pass; `terms` the objective's rollout records.
    const inputs: Record<string, Feed> = { ...sequenceFeeds(config, packed) };
    const terms: Record<string, Feed> = {};
    const B = batch.length;
    // With queries the LM term reads all T slots (image, text, queries); without, the L text slots.
    const X = this.shape.dm ? packed.length : packed.textLength;
    const offset = this.shape.dm ? imageTokens : 0;
    const lmShape = [B, X];
    if (useLm) {
      const V = tokenizer.vocabSize;
      const targets = new Float32Array(B * X * V);
      const old = new Float32Array(B * X);
      const mask = new Float32Array(B * X);
      batch.forEach((u, b) => {
        completions[b]!.forEach((token, j) => {
          const slot = b * X + offset + promptIds[b]!.length - 1 + j; // the slot whose output predicts token j
          targets[slot * V + token] = 1;
          old[slot] = u.sample.lm!.logProbs[j]!;
          mask[slot] = 1;
        });
      });
      Object.assign(inputs, {
        targets: { data: targets, shape: [B, X, V] },
        inv_temperature: { data: new Float32Array([1 / this.temperature(batch)]), shape: [1] },
      });
      Object.assign(terms, {
        lm_old: { data: old, shape: lmShape }, lm_mask: { data: mask, shape: lmShape },
        lm_adv: { data: Float32Array.from(batch, (u) => u.advantage), shape: [B] },
      });
    }
    const rows = useDm ? batch.flatMap((u, b) => u.dmSteps.map((k) => ({ u, b, k }))) : [];
    const per = ditTokens * ditPatchDim;
    const rowShape = [rows.length, ditTokens, ditPatchDim];
    if (useDm) {
      if (rows.length === 0) throw new Error('UnifiedPolicy.objective: no DM steps to train');
      const R = rows.length;
      const f = { x: new Float32Array(R * per), xNext: new Float32Array(R * per), t: new Float32Array(R), dt: new Float32Array(R), sigma: new Float32Array(R), old: new Float32Array(R), std: new Float32Array(R), adv: new Float32Array(R) };
      const rowSample = new BigInt64Array(R);
      rows.forEach(({ u, b, k }, r) => {
        const dm = u.sample.dm ?? fail(`sample ${u.sample.seed} has no DM trajectory`);
        const t = dm.times[k]!;
        const tNext = dm.times[k + 1]!;
        f.x.set(dm.latents[k]!, r * per);
        f.xNext.set(dm.latents[k + 1]!, r * per);
        f.t[r] = t;
        f.dt[r] = tNext - t;
        f.sigma[r] = sdeSigma(t, tNext, dm.noiseLevel);
        f.old[r] = dm.logProbs[k]!;
        f.std[r] = dm.stds[k]!;
        f.adv[r] = u.advantage;
        rowSample[r] = BigInt(b);
      });
      Object.assign(inputs, {
        row_sample: { data: rowSample, shape: [R] },
        x: { data: f.x, shape: rowShape }, x_next: { data: f.xNext, shape: rowShape }, ref: { data: new Float32Array(R * per), shape: rowShape },
        t: { data: f.t, shape: [R] }, dt: { data: f.dt, shape: [R] }, sigma: { data: f.sigma, shape: [R] },
      });
      Object.assign(terms, { dm_old: { data: f.old, shape: [R] }, dm_std: { data: f.std, shape: [R] }, dm_adv: { data: f.adv, shape: [R] } });
    }
    return { inputs, terms, lmShape, rowShape };
  }

  /** The sampling temperature of the batch's completions (their log-probs are under it). */
  private temperature(batch: readonly UpdateSample[]): number {
    const temperatures = new Set(batch.map((u) => u.sample.lm!.temperature));
    if (temperatures.size !== 1) throw new Error(`UnifiedPolicy.objective: the batch mixes sampling temperatures (${[...temperatures].join(', ')})`);
    const [temperature] = temperatures;
    // Greedy decoding (0) recorded log-probs of the untempered distribution.
    return temperature! > 0 ? temperature! : 1;
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
      const c = conditionSubgraph(g, config, shape, seq, g.input('edit_flag', 'float32', ['batch']));
      hidden = c.hidden;
      cond = c.cond;
    } else {
      hidden = textSubgraph(g, config, shape, seq).textHidden;
    }
    const X = this.shape.dm ? 'seq' : 'text';
    // The policy's forward values: token log-probs [B, X] (and the scaled logits), step means and log-probs.
    let lmForward: { logits: Tensor; logProbs: Tensor } | undefined;
    if (useLm) {
      const logits = g.mul(lmLogits(g, shape, hidden), g.input('inv_temperature', 'float32', [1])); // [B, X, V]
      const targets = g.input('targets', 'float32', ['batch', X, shape.vocabSize]);
      lmForward = { logits, logProbs: g.reduceSum(g.mul(g.logSoftmax(logits, -1), targets), [-1], false) };
    }
    const rows = (name: string) => g.input(name, 'float32', ['rows', ditTokens, ditPatchDim]);
    const scalars = (name: string) => g.input(name, 'float32', ['rows']);
    let dmForward: { mean: Tensor; logProb: Tensor } | undefined;
    if (useDm) {
      const x = rows('x');
      const t = scalars('t');
      const condRows = g.gather(cond!, g.input('row_sample', 'int64', ['rows']), 0); // [R, Q, Dc]
      const v = ditVelocity(g, config.dit, { x, t, cond: condRows, ref: rows('ref') }, { tokens: ditTokens });
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
          logProbs: lmForward.logProbs, oldLogProbs: g.input('lm_old', 'float32', ['batch', X]), refLogProbs: g.input('lm_ref', 'float32', ['batch', X]),
          mask: g.input('lm_mask', 'float32', ['batch', X]), advantages: g.input('lm_adv', 'float32', ['batch']),
        };
        parts.lm = { ...(terms.lm as ClipKl), inputs: lm, logits: lmForward.logits };
      }
      if (dmForward) {
        const dm: DmTermInputs = {
          logProbs: dmForward.logProb, means: dmForward.mean,
          oldLogProbs: scalars('dm_old'), refMeans: rows('dm_ref_mean'), stds: scalars('dm_std'), advantages: scalars('dm_adv'),
        };
        parts.dm = { ...(terms.dm as ClipKl), inputs: dm };
      }
      outputObjective(g, grpoObjective(g, parts));
      model = grad(g.build(), { loss: 'loss', wrt: wrt.filter((name) => params.includes(name)) });
    }
    const built = { key, model, params };
    this.graphs.set(key, built);
    return built;
  }

  // ----- evaluation and features -------------------------------------------------------------------------

  async generate(items: readonly TaskItem[], odeSteps: number, seed: number): Promise<ImageRGB[]> {
    if (!this.shape.dm) throw new Error(`UnifiedPolicy.generate: scenario '${this.scenario}' draws no images`);
    let texts = items.map((it) => this.shape.prompt(it));
    if (this.shape.lm) {
      const reasoning = await sampleText(this.model, texts.map((text) => ({ text })), { maxTokens: this.model.config.textLength, temperature: 0, seed });
      texts = texts.map((t, i) => `${t} ${reasoning.texts[i]}`);
    }
    const { images } = await sampleImages(this.model, texts.map((text) => ({ text, querySet: 'generate' as const })), { sampler: 'ode', steps: odeSteps, seed });
    const size = this.model.config.imageSize;
    const pixels = size * size * 3;
    return items.map((_, i) => ({ width: size, height: size, data: images.slice(i * pixels, (i + 1) * pixels) }));
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

const METRIC_PREFIX = metricOutput('');

function fail(message: string): never {
  throw new Error(`UnifiedPolicy.objective: ${message}`);
}
