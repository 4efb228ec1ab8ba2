import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concatFloat32, diffStats } from './arrays.ts';

test('concatFloat32 joins arrays in order', () => {
  assert.deepEqual(Array.from(concatFloat32([Float32Array.of(1, 2), new Float32Array(0), Float32Array.of(3)])), [1, 2, 3]);
});

test('diffStats: largest error, absolute and relative to the largest reference value', () => {
  assert.deepEqual(diffStats(Float32Array.of(1, -2.5, 4), Float32Array.of(1, -2, 4)), { maxAbs: 0.5, scale: 4, relative: 0.125 });
  assert.deepEqual(diffStats([0, 0], [0, 0]), { maxAbs: 0, scale: 0, relative: 0 });
  assert.equal(diffStats([1], [0]).relative, Infinity);
});

test('diffStats: a NaN anywhere is reported, not hidden by later values', () => {
  const d = diffStats([NaN, 1, 5], [1, 1, 1]);
  assert.ok(Number.isNaN(d.maxAbs) && Number.isNaN(d.relative));
});

test('diffStats refuses arrays of different lengths', () => {
  assert.throws(() => diffStats([1, 2], [1]), /lengths differ/);
});
