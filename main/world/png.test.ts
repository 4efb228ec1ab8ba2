import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { decodePng, encodePng } from './png.ts';
import { renderScene } from './render.ts';
import { Rng } from './rng.ts';
import { sampleScene } from './scene.ts';
import { toUint8 } from './image.ts';

test('encodePng writes PNGs that decode to the same pixels, upscaled by repeating pixels', () => {
  const image = toUint8(renderScene(sampleScene(new Rng(3))));
  assert.deepEqual(decodePng(encodePng(image)).data, image.data);
  // pngjs reads it too (its own checks of chunk CRCs and the zlib stream).
  const read = PNG.sync.read(encodePng(image));
  assert.equal(read.width, image.width);
  const big = decodePng(encodePng({ width: 2, height: 1, data: Uint8Array.of(10, 20, 30, 40, 50, 60) }, 2));
  assert.deepEqual([big.width, big.height], [4, 2]);
  assert.deepEqual(Array.from(big.data), [10, 20, 30, 10, 20, 30, 40, 50, 60, 40, 50, 60, 10, 20, 30, 10, 20, 30, 40, 50, 60, 40, 50, 60]);
});
