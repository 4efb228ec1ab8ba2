// The stored forms the scenarios' records are made of (scenarios/*.ts member and recordDerived): a
// trajectory as tensors by the run's storage policy, an image as bytes.
import type { Tensor } from '../../contract/domain.ts';
import { patchDims } from '../../contract/tensors.ts';
import { concatFloat32 } from '../engine/runtime/arrays.ts';
import type { RgbImage } from '../../db/png.ts';
import type { TrajectoryInput } from '../../db/repos/samples.ts';
import type { CompactEncoding } from '../../db/tensor.ts';
import { toUint8, type ImageRGB } from '../world/image.ts';
import { mixSeeds } from '../world/rng.ts';
import type { TrainConfig } from './config.ts';
import type { DmTrajectory, LmRecord } from './policy.ts';

export function lmTrajectory(lm: LmRecord, label?: string): TrajectoryInput {
  return {
    kind: 'lm',
    ...(label ? { label } : {}),
    tensors: {
      tokenIds: tensor('int32', [lm.tokenIds.length], lm.tokenIds),
      logProbs: tensor('float32', [lm.logProbs.length], lm.logProbs),
    },
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

/**
 * S steps: log-probs [S], times [S+1], step indices [S] and the seeds; by `storage` latents [S+1, N, p·p·3] and means
 * [S, N, p·p·3] (contract/tensors.ts).
 */
export function dmTrajectory(dm: DmTrajectory, storage: LatentStorage, label?: string): TrajectoryInput {
  const S = dm.logProbs.length;
  const image = patchDims(dm.grid);
  const tensors: Record<string, Tensor> = {
    logProbs: tensor('float32', [S], dm.logProbs),
    times: tensor('float32', [S + 1], Float32Array.from(dm.times)),
    steps: tensor(
      'int32',
      [S],
      Int32Array.from({ length: S }, (_, k) => k),
    ),
  };
  if (storage.latents) tensors.latents = tensor('float32', [S + 1, ...image], concatFloat32(dm.latents));
  if (storage.means) tensors.means = tensor('float32', [S, ...image], concatFloat32(dm.means));
  return { kind: 'dm', ...(label ? { label } : {}), tensors, seeds: dm.seeds, ...(storage.compact ? { compact: storage.compact } : {}) };
}

/** An image as the store keeps it (bytes). */
export function storedImage(image: ImageRGB): RgbImage {
  const bytes = toUint8(image);
  return { width: bytes.width, height: bytes.height, rgb: bytes.data };
}

function tensor<D extends Tensor['dtype']>(dtype: D, shape: number[], data: Tensor['data']): Tensor {
  return { dtype, shape, data } as Tensor;
}
