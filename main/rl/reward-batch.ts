// Scores images drawn anywhere (a cluster's rollouts, another model) the way this app rewards its own:
// ShapeEval against the prompt's spec, the learned preference model of a run, and, where people ranked a
// group holding the very same image, their rank reward. The reward service (main/server/reward-service.ts)
// runs it in the compute worker.
import { readFileSync } from 'node:fs';
import type { Store } from '../../db/index.ts';
import type { JobContext } from '../compute/job-context.ts';
import { UnifiedModel } from '../models/unified.ts';
import { resizeSquare, type ImageRGB } from '../world/image.ts';
import { score as shapeEval } from '../world/evaluate.ts';
import { decodePng } from '../world/png.ts';
import { parsePrompt } from '../world/prompts.ts';
import { validateSpec, type PromptSpec } from '../world/spec.ts';
import { PreferenceModel, preferenceReward } from './preference.ts';
import { humanRankRewards } from './ranking.ts';
import { UnifiedPolicy } from './unified.ts';

export const REWARD_COMPONENTS = ['shapeeval', 'preference', 'human_rank'] as const;
export type RewardComponentName = (typeof REWARD_COMPONENTS)[number];

export interface RewardItem {
  prompt: string;
  /** The ShapeEval spec as JSON (a verl row's reward_model.ground_truth); empty = parse the prompt. */
  groundTruth?: string;
  /** PNG bytes. */
  png: Uint8Array;
}

export interface RewardBatchParams {
  items: RewardItem[];
  /** The run whose latest preference model scores the images; default: the newest model of any run. */
  preferenceRunId?: number;
  /** Weight of each component in `reward`; default 1 each. A component an item lacks adds nothing. */
  weights?: Partial<Record<RewardComponentName, number>>;
}

export interface ItemScore {
  /** The weighted sum of the components present. */
  reward: number;
  /** ShapeEval's graded reward in [0, 1] and its verdict. */
  shapeeval: number;
  correct: boolean;
  /** 2 sigmoid(score) - 1 in (-1, 1); null when no run has a preference model. */
  preference: number | null;
  /** Mean normalised rank reward in [-1, 1] over the people who ranked this image's group; null when unranked. */
  human_rank: number | null;
  rankers: number;
}

export interface RewardBatchResult {
  scores: ItemScore[];
  preferenceModel: { runId: number; version: number } | null;
}

/** Bad input, named by its place in the request (the service answers 400 with it). */
export class RewardInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'RewardInputError';
  }
}

function specOf(item: RewardItem, field: string): PromptSpec {
  try {
    return item.groundTruth ? validateSpec(JSON.parse(item.groundTruth) as PromptSpec) : parsePrompt(item.prompt);
  } catch (err) {
    const what = item.groundTruth
      ? 'ground_truth is not a ShapeEval spec'
      : 'no ground_truth, and the prompt is not in the ShapeWorld grammar';
    throw new RewardInputError(field, `${what} (${(err as Error).message})`);
  }
}

function decode(png: Uint8Array, field: string): ImageRGB & { data: Uint8Array } {
  try {
    return decodePng(Buffer.from(png.buffer, png.byteOffset, png.byteLength));
  } catch (err) {
    throw new RewardInputError(field, `not a PNG image (${(err as Error).message})`);
  }
}

function sameImage(a: ImageRGB & { data: Uint8Array }, b: ImageRGB & { data: Uint8Array }): boolean {
  return a.width === b.width && a.height === b.height && Buffer.compare(Buffer.from(a.data), Buffer.from(b.data)) === 0;
}

/** The human rank reward of an image: found by prompt text, then by identical pixels among the ranked groups' members. */
function humanRank(store: Store, prompt: string, image: ImageRGB & { data: Uint8Array }): { value: number | null; rankers: number } {
  for (const groupId of store.groups.rankedWithPrompt(prompt)) {
    const group = store.groups.detail(groupId);
    for (const sample of group.samples) {
      const png = sample.image && store.samples.imagePng(sample.id);
      if (!png || !sameImage(decodePng(png), image)) continue;
      const ranked = group.rankings.filter((r) => !r.skipped && r.ranks.some((e) => e.sampleId === sample.id));
      return { value: humanRankRewards(ranked).get(sample.id) ?? null, rankers: ranked.length };
    }
  }
  return { value: null, rankers: 0 };
}

/** The run's latest preference model (or the newest of any run) with the checkpoint whose vision encoder feeds it. */
function preferenceSource(
  store: Store,
  runId: number | undefined,
): { runId: number; version: number; model: PreferenceModel; checkpoint: string } | null {
  const runs = runId !== undefined ? [store.runs.get(runId)] : store.runs.list();
  const candidates = runs
    .flatMap((run) => {
      const pref = store.preferences.latest(run.id);
      const checkpoint = store.checkpoints.latest(run.id);
      return pref && checkpoint ? [{ pref, checkpoint }] : [];
    })
    .sort((a, b) => b.pref.createdAt - a.pref.createdAt);
  const found = candidates[0];
  if (!found) {
    if (runId !== undefined) throw new RewardInputError('run', `run ${runId} has no preference model with a checkpoint`);
    return null;
  }
  const weights = JSON.parse(readFileSync(found.pref.path, 'utf8'));
  return { runId: found.pref.runId, version: found.pref.version, model: new PreferenceModel(weights), checkpoint: found.checkpoint.path };
}

// The worker keeps the last checkpoint's model between batches: loading the base model takes ~0.4 s,
// its features for 16 images ~35 ms. Batches run one at a time, so a switch never disposes a model in use.
let encoder: { checkpoint: string; policy: UnifiedPolicy; dispose(): Promise<void> } | null = null;
let queue: Promise<unknown> = Promise.resolve();

async function encoderFor(checkpoint: string): Promise<UnifiedPolicy> {
  if (encoder?.checkpoint !== checkpoint) {
    await encoder?.dispose();
    encoder = null;
    const { model, metadata } = UnifiedModel.load(checkpoint);
    encoder = { checkpoint, policy: new UnifiedPolicy(model, 't2i', metadata), dispose: () => model.dispose() };
  }
  return encoder.policy;
}

async function preferenceScores(source: { model: PreferenceModel; checkpoint: string }, images: ImageRGB[]): Promise<number[]> {
  const policy = await encoderFor(source.checkpoint);
  const size = policy.model.config.imageSize;
  const features = await policy.features(images.map((im) => resizeSquare(im, size)));
  return features.map((f) => preferenceReward(source.model, f));
}

/** Scores a batch; batches queue behind each other (they share the cached encoder). */
export function scoreRewardBatch(store: Store, params: RewardBatchParams, ctx?: JobContext): Promise<RewardBatchResult> {
  const result = queue.then(() => scoreNow(store, params, ctx));
  queue = result.catch(() => undefined);
  return result;
}

async function scoreNow(store: Store, params: RewardBatchParams, ctx?: JobContext): Promise<RewardBatchResult> {
  const weights = { shapeeval: 1, preference: 1, human_rank: 1, ...params.weights };
  const images = params.items.map((item, i) => decode(item.png, `items[${i}].image`));
  const specs = params.items.map((item, i) => specOf(item, `items[${i}].ground_truth`));
  const source = preferenceSource(store, params.preferenceRunId);
  const preference = source ? await preferenceScores(source, images) : null;
  const scores = params.items.map((item, i): ItemScore => {
    ctx?.checkCancelled();
    const evaluated = shapeEval(images[i]!, specs[i]!);
    const human = humanRank(store, item.prompt, images[i]!);
    const components: Record<RewardComponentName, number | null> = {
      shapeeval: evaluated.reward,
      preference: preference?.[i] ?? null,
      human_rank: human.value,
    };
    const reward = REWARD_COMPONENTS.reduce((sum, name) => sum + (components[name] === null ? 0 : weights[name] * components[name]), 0);
    return {
      reward,
      shapeeval: evaluated.reward,
      correct: evaluated.correct,
      preference: components.preference,
      human_rank: human.value,
      rankers: human.rankers,
    };
  });
  return { scores, preferenceModel: source ? { runId: source.runId, version: source.version } : null };
}
