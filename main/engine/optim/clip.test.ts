import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clipGradNorm, globalGradNorm } from './clip.ts';

test('clipGradNorm scales all gradients together and returns the pre-clip norm', () => {
  const grads = { a: new Float32Array([3, 0]), b: new Float32Array([4]) };
  const norm = clipGradNorm(grads, 1);
  assert.equal(norm, 5);
  const scale = 1 / (5 + 1e-6);
  assert.ok(Math.abs(grads.a[0]! - 3 * scale) < 1e-7);
  assert.ok(Math.abs(grads.b[0]! - 4 * scale) < 1e-7);
  assert.ok(Math.abs(globalGradNorm(Object.values(grads)) - 1) < 1e-6);
});

test('clipGradNorm leaves gradients under the limit untouched', () => {
  const grads = [new Float32Array([0.3, 0.4])];
  assert.ok(Math.abs(clipGradNorm(grads, 1) - 0.5) < 1e-7);
  assert.deepEqual(grads[0], new Float32Array([0.3, 0.4]));
});

test('clipGradNorm reports a non-finite norm without scaling, and rejects a bad limit', () => {
  const grads = [new Float32Array([NaN, 1])];
  assert.ok(Number.isNaN(clipGradNorm(grads, 1)));
  assert.equal(grads[0]![1], 1);
  assert.throws(() => clipGradNorm(grads, 0), /maxNorm must be > 0/);
});
