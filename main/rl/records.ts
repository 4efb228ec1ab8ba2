// What the trainer writes for one rolled-out sample: its stored form (image, text, trajectories as
// tensors), what the reward components look at, and, for the multi-turn scenarios, the images derived
// from the member with the records the screens show:
//   edit     member = edited image (DM 'forward'); derived = reconstruction (DM 'reverse'); an `edits` row
//   reflect  member = first image (DM 'generate', LM 'critique1'); derived = each refined image (DM 'refine<k>',
//            LM 'critique<k+1>' when it was judged again); a `reflections` cycle, one row per round
import type { RewardComponent, Tensor } from '../../contract/domain.ts';
import { patchDims } from '../../contract/tensors.ts';
import { concatFloat32 } from '../engine/runtime/arrays.ts';
import type { RgbImage } from '../../db/png.ts';
import type { SampleInput, TrajectoryInput } from '../../db/repos/samples.ts';
import type { CompactEncoding } from '../../db/tensor.ts';
import type { Store } from '../../db/store.ts';
import { scoreEdit } from '../world/edits.ts';
import { score } from '../world/evaluate.ts';
import { toUint8, type ImageRGB } from '../world/image.ts';
import { mixSeeds } from '../world/rng.ts';
import type { TrainConfig } from './config.ts';
import type { DmTrajectory, LmRecord, SampleResult, TaskItem } from './policy.ts';
import { imageSimilarity } from '../world/image.ts';
import { scorerVerdict, type RewardSample } from './rewards.ts';

export function lmTrajectory(lm: LmRecord, label?: string): TrajectoryInput {
  return {
    kind: 'lm', ...(label ? { label } : {}),
    tensors: { tokenIds: tensor('int32', [lm.tokenIds.length], lm.tokenIds), logProbs: tensor('float32', [lm.logProbs.length], lm.logProbs) },
  };
}

/** What a stored DM trajectory keeps besides its log-probs, times and seeds (the run's storage policy). */
export interface LatentStorage {
  latents: boolean;
  means: boolean;
  compact?: CompactEncoding;
}

export const SEEDS_ONLY: LatentStorage = { latents: false, means: false };

/**
 * The storage policy for one group (config.storage): full latents for groups people will look at (sent to
 * ranking, or in the sampled fraction, drawn from the run's seed, the step and the group's index), seeds only
 * for the rest; 'all' keeps the SDE means too.
 */
export function latentStorageOf(cfg: TrainConfig, group: { step: number; index: number; ranked: boolean }): LatentStorage {
  const { trajectories, sampledFraction, encoding } = cfg.storage;
  const compact = encoding === 'float32' ? {} : { compact: encoding };
  if (!cfg.rollout.storeLatents || trajectories === 'none') return SEEDS_ONLY;
  if (trajectories === 'all') return { latents: true, means: true, ...compact };
  const sampled = mixSeeds(cfg.seed, group.step, group.index, 0x57023) / 2 ** 32 < sampledFraction;
  return group.ranked || sampled ? { latents: true, means: false, ...compact } : SEEDS_ONLY;
}

/** S steps: log-probs [S], times [S+1], step indices [S] and the seeds; by `storage` latents [S+1, N, p·p·3] and means [S, N, p·p·3] (contract/tensors.ts). */
export function dmTrajectory(dm: DmTrajectory, storage: LatentStorage, label?: string): TrajectoryInput {
  const S = dm.logProbs.length;
  const image = patchDims(dm.grid);
  const tensors: Record<string, Tensor> = {
    logProbs: tensor('float32', [S], dm.logProbs),
    times: tensor('float32', [S + 1], Float32Array.from(dm.times)),
    steps: tensor('int32', [S], Int32Array.from({ length: S }, (_, k) => k)),
  };
  if (storage.latents) tensors.latents = tensor('float32', [S + 1, ...image], concatFloat32(dm.latents));
  if (storage.means) tensors.means = tensor('float32', [S, ...image], concatFloat32(dm.means));
  return { kind: 'dm', ...(label ? { label } : {}), tensors, seeds: dm.seeds, ...(storage.compact ? { compact: storage.compact } : {}) };
}

function storedImage(image: ImageRGB): RgbImage {
  const bytes = toUint8(image);
  return { width: bytes.width, height: bytes.height, rgb: bytes.data };
}

/** The images a reflection cycle went through: the first, then each refinement. */
function reflectionImages(s: SampleResult): ImageRGB[] {
  return [s.image ?? fail('a reflection sample has no first image'), ...(s.rounds ?? []).flatMap((r) => (r.refined ? [r.refined.image] : []))];
}

/**
 * What the reward components see of a sample. Editing adds the reconstruction; reflection shows the
 * final image as `image` (ShapeEval scores where the cycle ended) and every judged image with its verdict.
 */
export function rewardSampleOf(s: SampleResult, features?: ArrayLike<number>): RewardSample {
  const base: RewardSample = {
    ...(s.image ? { image: s.image } : {}), ...(s.text !== undefined ? { text: s.text } : {}), ...(features ? { features } : {}),
    ...(s.reverse ? { reconstruction: s.reverse.image } : {}),
  };
  if (!s.rounds) return base;
  const images = reflectionImages(s);
  return {
    ...base,
    image: images[images.length - 1]!,
    reflection: { firstImage: images[0]!, judged: s.rounds.map((r, k) => ({ image: images[k]!, verdict: r.verdict })) },
  };
}

/** The group member's stored form: its image, text, rewards, advantage and trajectories. */
export function memberInput(s: SampleResult, rewards: RewardComponent[], advantage: number, storage: LatentStorage): SampleInput {
  const trajectories: TrajectoryInput[] = [];
  const firstCritique = s.rounds?.[0];
  if (s.lm) trajectories.push(lmTrajectory(s.lm));
  if (s.dm) trajectories.push(dmTrajectory(s.dm, storage, s.reverse ? 'forward' : s.rounds ? 'generate' : undefined));
  if (firstCritique) trajectories.push(lmTrajectory(firstCritique.lm, 'critique1'));
  const text = s.text ?? firstCritique?.text ?? null;
  return { seed: s.seed, text, rewards, advantage, trajectories, image: s.image ? storedImage(s.image) : null };
}

/**
 * Writes the derived images and the edit or reflection record of a stored member (nothing for the
 * single-turn scenarios). The caller holds the transaction, so a group is stored whole or not at all.
 */
export function recordCycle(store: Store, memberId: number, item: TaskItem, s: SampleResult, storage: LatentStorage): void {
  if (item.target.edit && s.image) recordEdit(store, memberId, item, s, storage);
  if (s.rounds) recordReflection(store, memberId, item, s, storage);
}

function recordEdit(store: Store, memberId: number, item: TaskItem, s: SampleResult, storage: LatentStorage): void {
  const { edit, source } = item.target.edit!;
  const forward = scoreEdit(s.image!, source, edit);
  const reconstructionSampleId = s.reverse
    ? store.samples.insertDerived(memberId, { seed: s.seed, text: edit.inverse, image: storedImage(s.reverse.image), trajectories: [dmTrajectory(s.reverse.dm, storage, 'reverse')] })
    : null;
  store.edits.insert({
    editedSampleId: memberId, sourceImage: storedImage(source), instruction: edit.instruction, inverseInstruction: edit.inverse,
    reconstructionSampleId, compliance: forward.objectTerm, preservation: forward.similarity,
    cycleScore: s.reverse ? imageSimilarity(s.reverse.image, source) : null,
  });
}

/** Round k judges image k (the member for k = 0) and leaves refined image k+1; its reward is the ShapeEval reward of the image it leaves. */
function recordReflection(store: Store, memberId: number, item: TaskItem, s: SampleResult, storage: LatentStorage): void {
  const spec = item.target.spec ?? fail('a reflection item has no prompt spec');
  const rounds = s.rounds!;
  const images = reflectionImages(s);
  const imageIds = [memberId];
  rounds.forEach((round, k) => {
    if (!round.refined) return;
    const next = rounds[k + 1];
    imageIds.push(store.samples.insertDerived(memberId, {
      seed: s.seed, text: next?.text ?? null, image: storedImage(round.refined.image),
      trajectories: [dmTrajectory(round.refined.dm, storage, `refine${k + 1}`), ...(next ? [lmTrajectory(next.lm, `critique${k + 2}`)] : [])],
    }));
  });
  store.reflections.insert(memberId, rounds.map((round, k) => ({
    judgedSampleId: imageIds[k]!, refinedSampleId: round.refined ? imageIds[k + 1]! : null,
    critique: round.text, verdict: round.verdict, scorerVerdict: scorerVerdict(images[k]!, spec),
    reward: score(images[round.refined ? k + 1 : k]!, spec).reward,
  })));
}

function tensor<D extends Tensor['dtype']>(dtype: D, shape: number[], data: Tensor['data']): Tensor {
  return { dtype, shape, data } as Tensor;
}

function fail(message: string): never {
  throw new Error(`records: ${message}`);
}
