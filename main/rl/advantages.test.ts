import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchAdvantages, groupAdvantages } from './advantages.ts';

const close = (a: readonly number[], b: readonly number[], tol = 1e-9) =>
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) <= tol, `index ${i}: ${x} vs ${b[i]}`));

test('advantages are (r - mean) / (population std + 1e-4), by hand', () => {
  // rewards [1, 0, 0, 1]: mean 0.5, population std 0.5 -> +-0.5 / 0.5001
  const g = groupAdvantages([1, 0, 0, 1]);
  assert.equal(g.mean, 0.5);
  assert.equal(g.std, 0.5);
  close(g.advantages, [0.5 / 0.5001, -0.5 / 0.5001, -0.5 / 0.5001, 0.5 / 0.5001]);
  // rewards [0, 0.5, 1]: mean 0.5, std sqrt(1/6) = 0.408248...
  const h = groupAdvantages([0, 0.5, 1]);
  close(h.advantages, [-0.5 / (Math.sqrt(1 / 6) + 1e-4), 0, 0.5 / (Math.sqrt(1 / 6) + 1e-4)]);
});

test('advantages are clamped to [-5, 5]', () => {
  // one outlier in 100: (1 - 0.01) / (sqrt(0.0099) + 1e-4) = 9.94 -> 5
  const g = groupAdvantages([1, ...Array<number>(99).fill(0)]);
  assert.equal(g.advantages[0], 5);
  close([g.advantages[1]!], [-0.01 / (Math.sqrt(0.0099) + 1e-4)]);
  assert.equal(groupAdvantages([0, 0, 0, 1], { clip: 1 }).advantages[3], 1);
});

test('without the std scale (Dr. GRPO) advantages are r - mean in reward units, still clamped', () => {
  close(groupAdvantages([1, 0, 0, 1], { scaleByStd: false }).advantages, [0.5, -0.5, -0.5, 0.5]);
  // a group apart by a little stays a little, where GRPO would blow it up to +-1
  close(groupAdvantages([6.02, 6.0], { scaleByStd: false }).advantages, [0.01, -0.01]);
  close(groupAdvantages([6.02, 6.0]).advantages, [0.01 / 0.0101, -0.01 / 0.0101]);
  assert.equal(groupAdvantages([0, 20], { scaleByStd: false, clip: 5 }).advantages[1], 5);
});

test('zero-spread groups are detected, counted and given no advantage', () => {
  const b = batchAdvantages([[0.3, 0.3, 0.3], [0, 1, 0], [1, 1, 1], [0.1 + 0.2, 0.3, 0.3]]);
  assert.deepEqual(b.groups.map((g) => g.zeroStd), [true, false, true, true]);
  assert.equal(b.fracZeroStd, 0.75);
  assert.equal(b.trainedGroups, 1);
  assert.deepEqual(b.groups[0]!.advantages, [0, 0, 0]);
});

test('bad rewards are refused with a reason', () => {
  assert.throws(() => groupAdvantages([1]), /at least 2 rewards/);
  assert.throws(() => groupAdvantages([1, NaN]), /reward 1 is not finite/);
  assert.throws(() => batchAdvantages([]), /no groups/);
});
