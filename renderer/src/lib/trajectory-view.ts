// Pure helpers for the per-sample details: DM latents as RGBA frames for a filmstrip, and the
// shading of LM tokens by their log-probability.
import type { TensorView } from '../../../contract/api.ts';

export interface Filmstrip {
  steps: number;
  width: number;
  height: number;
  /** One RGBA frame per step (latents[0] = noise ... latents[S] = the sample), width x height x 4. */
  frames: Uint8ClampedArray[];
}

/**
 * Latents [S+1, 3, H, W] (the store's DM convention, pixel space in [-1, 1]) as RGBA frames; values
 * outside [-1, 1] (early noisy steps) are clipped. Anything else is an Error naming the shape.
 */
export function latentsFilmstrip(latents: TensorView): Filmstrip {
  const [steps, channels, height, width] = latents.shape;
  if (latents.shape.length !== 4 || channels !== 3 || !steps || !height || !width) {
    throw new Error(`latents of shape [${latents.shape.join(', ')}] are not frames [S+1, 3, H, W]`);
  }
  const plane = height * width;
  if (latents.data.length !== steps * 3 * plane) throw new Error(`latents hold ${latents.data.length} values, shape needs ${steps * 3 * plane}`);
  const frames = Array.from({ length: steps }, (_, s) => {
    const rgba = new Uint8ClampedArray(plane * 4);
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) rgba[p * 4 + c] = ((latents.data[(s * 3 + c) * plane + p]! + 1) / 2) * 255;
      rgba[p * 4 + 3] = 255;
    }
    return rgba;
  });
  return { steps, width, height, frames };
}

/** Probability of a token (exp of its log-prob), clamped to [0, 1]: 1 = confident, shaded lightly. */
export function tokenProbability(logProb: number): number {
  return Number.isFinite(logProb) ? Math.min(1, Math.max(0, Math.exp(logProb))) : 0;
}
