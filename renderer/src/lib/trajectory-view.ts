// Pure helpers for the per-sample details: DM latents as RGBA frames for a filmstrip, and the
// shading of LM tokens by their log-probability.
import type { TensorView } from '../../../contract/api.ts';
import { checkTrajectoryTensors, frameImage } from '../../../contract/tensors.ts';

export interface Filmstrip {
  steps: number;
  width: number;
  height: number;
  /** One RGBA frame per step (latents[0] = noise ... latents[S] = the sample), width x height x 4. */
  frames: Uint8ClampedArray[];
}

/**
 * DM latents (contract/tensors.ts: [frame, patch, patchValue], pixel values in [-1, 1]) as RGBA frames;
 * values outside [-1, 1] (early noisy steps) are clipped. Anything else is an Error naming what is wrong.
 */
export function latentsFilmstrip(latents: TensorView): Filmstrip {
  checkTrajectoryTensors('dm', { latents });
  const steps = latents.shape[0]!;
  if (latents.data.length !== steps * latents.shape[1]! * latents.shape[2]!) {
    throw new Error(
      `latents hold ${latents.data.length} values, ` +
        `shape [${latents.shape.join(', ')}] needs ${steps * latents.shape[1]! * latents.shape[2]!}`,
    );
  }
  let size = 0;
  const frames = Array.from({ length: steps }, (_, f) => {
    const frame = frameImage(latents.data, latents.shape, f);
    size = frame.size;
    const rgba = new Uint8ClampedArray(size * size * 4);
    for (let p = 0; p < size * size; p++) {
      for (let c = 0; c < 3; c++) rgba[p * 4 + c] = ((frame.rgb[p * 3 + c]! + 1) / 2) * 255;
      rgba[p * 4 + 3] = 255;
    }
    return rgba;
  });
  return { steps, width: size, height: size, frames };
}

/** Probability of a token (exp of its log-prob), clamped to [0, 1]: 1 = confident, shaded lightly. */
export function tokenProbability(logProb: number): number {
  return Number.isFinite(logProb) ? Math.min(1, Math.max(0, Math.exp(logProb))) : 0;
}
