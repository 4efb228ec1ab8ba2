// The image type every ShapeWorld module exchanges, plus conversions and the degradations used in tests.
import type { Rng } from './rng.ts';

/** RGB image, row-major [height, width, 3]. Float32Array holds [0,1]; Uint8Array holds 0..255. */
export interface ImageRGB {
  width: number;
  height: number;
  data: Float32Array | Uint8Array;
}

export function assertImage(image: ImageRGB, what = 'image'): void {
  const { width, height, data } = image ?? ({} as ImageRGB);
  if (!Number.isSafeInteger(width) || width < 1 || !Number.isSafeInteger(height) || height < 1) {
    throw new Error(`${what}: width and height must be positive integers, got ${width}x${height}`);
  }
  if (!(data instanceof Float32Array || data instanceof Uint8Array)) {
    throw new Error(`${what}.data: must be a Float32Array or Uint8Array`);
  }
  if (data.length !== width * height * 3) {
    throw new Error(`${what}.data: expected ${width}x${height}x3 = ${width * height * 3} values, got ${data.length}`);
  }
}

export function toUint8(image: ImageRGB): ImageRGB & { data: Uint8Array } {
  if (image.data instanceof Uint8Array) return image as ImageRGB & { data: Uint8Array };
  const src = image.data;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, src[i]!)) * 255);
  return { width: image.width, height: image.height, data: out };
}

export function toFloat(image: ImageRGB): ImageRGB & { data: Float32Array } {
  if (image.data instanceof Float32Array) return image as ImageRGB & { data: Float32Array };
  const src = image.data;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! / 255;
  return { width: image.width, height: image.height, data: out };
}

/** Adds N(0, std^2) to every value and clamps to [0,1]. Returns a new float image. */
export function addGaussianNoise(image: ImageRGB, std: number, rng: Rng): ImageRGB & { data: Float32Array } {
  const src = toFloat(image).data;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = Math.min(1, Math.max(0, src[i]! + std * rng.normal()));
  return { width: image.width, height: image.height, data: out };
}

/** Box blur with the given radius in pixels (radius 1 = 3x3 mean), edges clamped. Returns a new float image. */
export function boxBlur(image: ImageRGB, radius = 1): ImageRGB & { data: Float32Array } {
  const { width: w, height: h } = image;
  const src = toFloat(image).data;
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  const n = 2 * radius + 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let k = -radius; k <= radius; k++) sum += src[(y * w + Math.min(w - 1, Math.max(0, x + k))) * 3 + c]!;
        tmp[(y * w + x) * 3 + c] = sum / n;
      }
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let k = -radius; k <= radius; k++) sum += tmp[(Math.min(h - 1, Math.max(0, y + k)) * w + x) * 3 + c]!;
        out[(y * w + x) * 3 + c] = sum / n;
      }
    }
  }
  return { width: w, height: h, data: out };
}

/** Uniform random pixels in [0,1]. */
export function noiseImage(width: number, height: number, rng: Rng): ImageRGB & { data: Float32Array } {
  const data = new Float32Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.next();
  return { width, height, data };
}

/** Mean absolute difference per value over the pixels where `mask` is 1 (all pixels without a mask), in [0,1]. */
export function meanAbsDiff(a: ImageRGB, b: ImageRGB, mask?: Uint8Array): number {
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(`meanAbsDiff: sizes differ, ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  }
  const da = toFloat(a).data;
  const db = toFloat(b).data;
  let sum = 0;
  let count = 0;
  for (let p = 0; p < a.width * a.height; p++) {
    if (mask && !mask[p]) continue;
    for (let c = 0; c < 3; c++) sum += Math.abs(da[p * 3 + c]! - db[p * 3 + c]!);
    count += 3;
  }
  return count === 0 ? 0 : sum / count;
}

/** 1 - mean |a - b| / 0.25 over the pixels where `mask` is 1 (all pixels without a mask), clamped to [0,1]: ShapeEval's
 *  image similarity (edit preservation, and the cycle-edit reconstruction score of the edit suite and the RL cycle reward). */
export function imageSimilarity(a: ImageRGB, b: ImageRGB, mask?: Uint8Array): number {
  return Math.max(0, 1 - meanAbsDiff(a, b, mask) / 0.25);
}

/** Resizes to size x size by averaging the source pixels each target pixel covers (nearest when enlarging). */
export function resizeSquare(image: ImageRGB, size: number): ImageRGB & { data: Float32Array } {
  const src = toFloat(image);
  if (image.width === size && image.height === size) return src;
  const out = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    const y0 = Math.floor((y * image.height) / size);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * image.height) / size));
    for (let x = 0; x < size; x++) {
      const x0 = Math.floor((x * image.width) / size);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * image.width) / size));
      const n = (y1 - y0) * (x1 - x0);
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let sy = y0; sy < y1; sy++) for (let sx = x0; sx < x1; sx++) sum += src.data[(sy * image.width + sx) * 3 + c]!;
        out[(y * size + x) * 3 + c] = sum / n;
      }
    }
  }
  return { width: size, height: size, data: out };
}
