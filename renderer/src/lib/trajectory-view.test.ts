import { test } from 'node:test';
import assert from 'node:assert/strict';
import { latentsFilmstrip, tokenProbability } from './trajectory-view.ts';

test('latents [S+1,3,H,W] in [-1,1] become RGBA frames, clipped, channel planes interleaved', () => {
  // 2 steps of a 1x2 image: step 0 = (-1, 1) in R, 0 in G and B; step 1 = 2 (clipped) everywhere.
  const data = [-1, 1, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2];
  const strip = latentsFilmstrip({ dtype: 'float32', shape: [2, 3, 1, 2], data });
  assert.equal(strip.steps, 2);
  assert.deepEqual([...strip.frames[0]!], [0, 128, 128, 255, 255, 128, 128, 255]);
  assert.deepEqual([...strip.frames[1]!], [255, 255, 255, 255, 255, 255, 255, 255]);
});

test('latents of another shape are refused naming it', () => {
  assert.throws(() => latentsFilmstrip({ dtype: 'float32', shape: [3, 16, 12], data: [] }), /shape \[3, 16, 12\] are not frames/);
  assert.throws(() => latentsFilmstrip({ dtype: 'float32', shape: [1, 3, 1, 1], data: [0] }), /hold 1 values, shape needs 3/);
});

test('token probability is exp(log-prob) within [0, 1]', () => {
  assert.equal(tokenProbability(0), 1);
  assert.ok(Math.abs(tokenProbability(Math.log(0.25)) - 0.25) < 1e-12);
  assert.equal(tokenProbability(-Infinity), 0);
  assert.equal(tokenProbability(NaN), 0);
});
