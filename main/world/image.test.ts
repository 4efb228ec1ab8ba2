import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resizeSquare } from './image.ts';

test('resizeSquare averages the pixels each target pixel covers, and repeats them when enlarging', () => {
  // 4x2 grey levels (R = G = B): left half 0 and 255/255, right half 51 and 102 (/255).
  const levels = [0, 255, 51, 102, 255, 0, 102, 51];
  const image = { width: 4, height: 2, data: Uint8Array.from(levels.flatMap((v) => [v, v, v])) };
  const small = resizeSquare(image, 2);
  const greys = (im: { data: Float32Array }) => Array.from({ length: im.data.length / 3 }, (_, p) => Math.round(im.data[p * 3]! * 255));
  assert.deepEqual(greys(small), [128, 77, 128, 77]);
  const big = resizeSquare({ width: 1, height: 1, data: Uint8Array.from([255, 0, 0]) }, 3);
  assert.deepEqual(Array.from(big.data), Array(9).fill([1, 0, 0]).flat());
});
