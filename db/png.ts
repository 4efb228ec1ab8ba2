// Sample images are stored as PNG. The codec is ShapeWorld's (main/world/png.ts); this wrapper adds
// the store's validation (errors name the field) and its flat {width, height, rgb} shape.
import { decodePng as decodeImage, encodePng as encodeImage } from '../main/world/png.ts';
import { invalid } from './errors.ts';

export interface RgbImage {
  width: number;
  height: number;
  /** 8-bit RGB, row-major: [height, width, 3]. */
  rgb: Uint8Array;
}

export function encodePng(rgb: Uint8Array, width: number, height: number): Buffer {
  if (!Number.isSafeInteger(width) || width < 1 || !Number.isSafeInteger(height) || height < 1) {
    throw invalid('image', `size must be positive integers, got ${width}x${height}`);
  }
  if (!(rgb instanceof Uint8Array) || rgb.length !== width * height * 3) {
    throw invalid('image.rgb', `must be a Uint8Array of ${width}x${height}x3 = ${width * height * 3} bytes, got ${rgb?.length}`);
  }
  return encodeImage({ width, height, data: rgb });
}

export function decodePng(png: Buffer): RgbImage {
  const { width, height, data } = decodeImage(png);
  return { width, height, rgb: data };
}
