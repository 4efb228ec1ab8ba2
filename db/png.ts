// PNG encoding of sample images through pngjs. (main/world/ had no PNG helper when the store was written;
// if ShapeWorld grows one, one of the two should go.)
import { PNG } from 'pngjs';
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
  const png = new PNG({ width, height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}

export function decodePng(png: Buffer): RgbImage {
  const { width, height, data } = PNG.sync.read(png); // data: RGBA [height, width, 4]
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    rgb[3 * p] = data[4 * p];
    rgb[3 * p + 1] = data[4 * p + 1];
    rgb[3 * p + 2] = data[4 * p + 2];
  }
  return { width, height, rgb };
}
