// PNG encoding of ShapeWorld images (written directly: 8-bit RGB, no row filter, zlib's default level), with
// optional nearest-neighbour upscaling for display; decoding through pngjs.
// Why not pngjs for encoding: its adaptive filters and level-9 RLE deflate took ~0.4 ms for a 32x32 image, the
// largest cost of storing a sample (bench/db.ts). Unfiltered rows at level 6 take ~0.05 ms and come out smaller
// on ShapeWorld's flat colours (282 vs 390 bytes) and on noisy model samples (2,173 vs 2,250 bytes).
import { deflateSync, crc32 } from 'node:zlib';
import { PNG } from 'pngjs';
import { assertImage, toUint8, type ImageRGB } from './image.ts';

const SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);

/** Encodes an RGB image as PNG; `scale` > 1 repeats each pixel scale x scale times (for docs and the UI). */
export function encodePng(image: ImageRGB, scale = 1): Buffer {
  assertImage(image);
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`encodePng: scale must be a positive integer, got ${scale}`);
  const { width, height, data } = toUint8(image);
  const w = width * scale,
    h = height * scale;
  const stride = w * 3 + 1;
  // Each row: filter type 0 (None), then its RGB bytes.
  const rows = Buffer.alloc(stride * h);
  for (let y = 0; y < h; y++) {
    const src = Math.floor(y / scale) * width * 3;
    if (scale === 1) rows.set(data.subarray(src, src + width * 3), y * stride + 1);
    else
      for (let x = 0; x < w; x++)
        rows.set(data.subarray(src + Math.floor(x / scale) * 3, src + Math.floor(x / scale) * 3 + 3), y * stride + 1 + x * 3);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(w, 0);
  header.writeUInt32BE(h, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type RGB; compression, filter method and interlace stay 0
  return Buffer.concat([SIGNATURE, chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

function chunk(type: string, body: Buffer): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  body.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
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
