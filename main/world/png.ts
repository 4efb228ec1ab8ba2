// PNG encoding of ShapeWorld images through pngjs, with optional nearest-neighbour upscaling for display.
import { PNG } from 'pngjs';
import { assertImage, toUint8, type ImageRGB } from './image.ts';

/** Encodes an RGB image as PNG; `scale` > 1 repeats each pixel scale x scale times (for docs and the UI). */
export function encodePng(image: ImageRGB, scale = 1): Buffer {
  assertImage(image);
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`encodePng: scale must be a positive integer, got ${scale}`);
  const { width, height, data } = toUint8(image);
  const w = width * scale, h = height * scale;
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const src = (Math.floor(y / scale) * width + Math.floor(x / scale)) * 3;
      const dst = (y * w + x) * 4;
      png.data[dst] = data[src]!;
      png.data[dst + 1] = data[src + 1]!;
      png.data[dst + 2] = data[src + 2]!;
      png.data[dst + 3] = 255;
    }
  }
  return PNG.sync.write(png, { colorType: 2 });
}

/** Decodes a PNG (any colour type and depth pngjs reads) into an 8-bit RGB image, transparency over white. */
export function decodePng(buffer: Buffer): ImageRGB & { data: Uint8Array } {
  const { width, height, data } = PNG.sync.read(buffer);
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    const alpha = data[p * 4 + 3]! / 255;
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = Math.round(data[p * 4 + c]! * alpha + 255 * (1 - alpha));
  }
  return { width, height, data: rgb };
}
