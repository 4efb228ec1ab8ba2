import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imagesToPatches, patchesToImages } from '../../../main/models/patches.ts';
import { latentsFilmstrip, tokenProbability } from './trajectory-view.ts';

test("latents in the trainer's patch layout become the images it drew, as RGBA frames, clipped", () => {
  // Two frames of a 4x4 image in 2x2 patches, written by the model's own conversion (what the trainer stores).
  const image = Float32Array.from({ length: 4 * 4 * 3 }, (_, i) => (i % 7) / 6);
  const patches = imagesToPatches(image, 1, 4, 2);
  const data = [...patches, ...patches.map(() => 2)];
  const strip = latentsFilmstrip({ dtype: 'float32', shape: [2, 4, 12], data });
  assert.deepEqual([strip.steps, strip.width, strip.height], [2, 4, 4]);
  const drawn = patchesToImages(patches, 1, 4, 2);
  for (let p = 0; p < 16; p++) {
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(strip.frames[0]![p * 4 + c]! - drawn[p * 3 + c]! * 255) <= 1, `pixel ${p} channel ${c}`);
    assert.equal(strip.frames[0]![p * 4 + 3], 255);
  }
  assert.ok(
    strip.frames[1]!.every((v) => v === 255),
    'values above 1 clip to white',
  );
});

test('latents of another shape are refused naming it', () => {
  assert.throws(
    () => latentsFilmstrip({ dtype: 'float32', shape: [11, 3072], data: [] }),
    /latents: shape \[11, 3072\] is not \[frame, patch, patchValue\]/,
  );
  assert.throws(() => latentsFilmstrip({ dtype: 'float32', shape: [2, 3, 5], data: [] }), /no square image of RGB patches/);
  assert.throws(() => latentsFilmstrip({ dtype: 'float32', shape: [1, 1, 3], data: [0] }), /hold 1 values, shape \[1, 1, 3\] needs 3/);
});

test('token probability is exp(log-prob) within [0, 1]', () => {
  assert.equal(tokenProbability(0), 1);
  assert.ok(Math.abs(tokenProbability(Math.log(0.25)) - 0.25) < 1e-12);
  assert.equal(tokenProbability(-Infinity), 0);
  assert.equal(tokenProbability(NaN), 0);
});
