import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imagesToPatches } from '../main/models/patches.ts';
import { frameImage, patchDims, patchGridOf, trajectoryTensorProblems } from './tensors.ts';

test('a DM trajectory as the trainer writes it passes; frames and steps must agree', () => {
  const [N, P] = patchDims({ size: 32, patch: 4 });
  assert.deepEqual([N, P], [64, 48]);
  const ok = {
    latents: { dtype: 'float32', shape: [11, N, P] },
    means: { dtype: 'float32', shape: [10, N, P] },
    logProbs: { dtype: 'float32', shape: [10] },
    times: { dtype: 'float32', shape: [11] },
    steps: { dtype: 'int32', shape: [10] },
  };
  assert.deepEqual(trajectoryTensorProblems('dm', ok), []);
  assert.deepEqual(trajectoryTensorProblems('dm', { ...ok, times: { dtype: 'float32', shape: [10] } }), [
    'times: frame 10 disagrees with latents',
  ]);
  assert.deepEqual(trajectoryTensorProblems('dm', { latents: { dtype: 'float32', shape: [11, 3072] } }), [
    'latents: shape [11, 3072] is not [frame, patch, patchValue]',
  ]);
  assert.deepEqual(trajectoryTensorProblems('dm', { latents: { dtype: 'float64', shape: [2, 64, 47] } }), [
    'latents: dtype float64, expected float32',
    'latents: [64, 47] is no square image of RGB patches [(size/p)², p·p·3]',
  ]);
  assert.deepEqual(trajectoryTensorProblems('lm', { tokens: { dtype: 'int32', shape: [3] } }), [
    'tokens: not a lm tensor (known: tokenIds, logProbs)',
  ]);
});

test('a frame reads back the image the model put in patches', () => {
  const image = Float32Array.from({ length: 8 * 8 * 3 }, (_, i) => (i % 11) / 10);
  const patches = imagesToPatches(image, 1, 8, 4);
  const { size, rgb } = frameImage(patches, [1, 4, 48], 0);
  assert.equal(size, 8);
  rgb.forEach((v, i) => assert.ok(Math.abs(v - (image[i]! * 2 - 1)) < 1e-6, `value ${i}`));
  assert.deepEqual(patchGridOf(4, 48), { size: 8, patch: 4 });
  assert.equal(patchGridOf(5, 48), null);
});
