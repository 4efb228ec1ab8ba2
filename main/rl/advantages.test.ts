import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADVANTAGE_MODES, batchAdvantages, groupAdvantages, winRates } from './advantages.ts';

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

test("mode 'none' (Dr. GRPO): advantages are r - mean in reward units, still clamped", () => {
  const none = { mode: 'none' } as const;
  close(groupAdvantages([1, 0, 0, 1], none).advantages, [0.5, -0.5, -0.5, 0.5]);
  // a group apart by a little stays a little, where GRPO would blow it up to +-1
  close(groupAdvantages([6.02, 6.0], none).advantages, [0.01, -0.01]);
  close(groupAdvantages([6.02, 6.0]).advantages, [0.01 / 0.0101, -0.01 / 0.0101]);
  assert.equal(groupAdvantages([0, 20], { mode: 'none', clip: 5 }).advantages[1], 5);
});

test("mode 'globalStd': the group's mean, the batch's population std, by hand", () => {
  // rewards 1, 0 | 0.6, 0.4 | 0.5, 0.5: batch mean 0.5, squared deviations 0.25·2 + 0.01·2 + 0 -> std sqrt(0.52/6)
  const b = batchAdvantages(
    [
      [1, 0],
      [0.6, 0.4],
      [0.5, 0.5],
    ],
    { mode: 'globalStd' },
  );
  const s = Math.sqrt(0.52 / 6);
  assert.ok(Math.abs(b.batchStd - s) < 1e-12);
  close(b.groups[0]!.advantages, [0.5 / (s + 1e-4), -0.5 / (s + 1e-4)]);
  // the narrow group stays narrow (groupStd would give it +-1 like the first)
  close(b.groups[1]!.advantages, [0.1 / (s + 1e-4), -0.1 / (s + 1e-4)]);
  close(batchAdvantages([[0.6, 0.4]]).groups[0]!.advantages, [0.1 / 0.1001, -0.1 / 0.1001]);
  assert.deepEqual(b.groups[2], { advantages: [0, 0], mean: 0.5, std: 0, zeroStd: true });
  assert.deepEqual([b.fracZeroStd, b.trainedGroups], [1 / 3, 2]);
  // a group recomputed alone (a ranking reached it) divides by its batch's std when given it
  close(groupAdvantages([0.6, 0.4], { mode: 'globalStd', batchStd: s }).advantages, b.groups[1]!.advantages);
  close(batchAdvantages([[0.6, 0.4]], { mode: 'globalStd', batchStd: s }).groups[0]!.advantages, b.groups[1]!.advantages);
  assert.throws(() => groupAdvantages([0.6, 0.4], { mode: 'globalStd' }), /needs the batch's std/);
  // clamped like the rest: one outlier in a batch of near-equal rewards
  const outlier = batchAdvantages([[10, 0], ...Array.from({ length: 50 }, () => [0, 0.001])], { mode: 'globalStd' });
  assert.deepEqual(outlier.groups[0]!.advantages, [5, -5]);
});

test("mode 'winRate': 2·(share of pairwise wins in the group, ties half) - 1, by hand", () => {
  // 0.9 beats all 3 -> 1; 0.5 and 0.5 beat 0.1 and tie each other -> 1.5/3; 0.1 loses all -> 0
  assert.deepEqual(winRates([0.9, 0.5, 0.5, 0.1]), [1, 0.5, 0.5, 0]);
  const g = groupAdvantages([0.9, 0.5, 0.5, 0.1], { mode: 'winRate' });
  close(g.advantages, [1, 0, 0, -1]);
  // only the order counts: a strict order of 5 gives 1 - 2p/(G-1) however far apart the rewards are
  close(groupAdvantages([3, 0.001, 1000, 0.002, -7], { mode: 'winRate' }).advantages, [0.5, -0.5, 1, 0, -1]);
  // advantages of a group sum to 0 (the win rates' mean is 1/2)
  const sum = groupAdvantages([0.2, 0.7, 0.2, 0.9, 0.4, 0.4], { mode: 'winRate' }).advantages.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum) < 1e-12);
  // rewards within the tolerance tie; the clamp applies when it is below 1
  close(groupAdvantages([1, 1 + 1e-12, 0], { mode: 'winRate' }).advantages, [0.5, 0.5, -1]);
  close(groupAdvantages([1, 0], { mode: 'winRate', clip: 0.5 }).advantages, [0.5, -0.5]);
});

test('zero-spread groups are detected, counted and given no advantage', () => {
  const b = batchAdvantages([
    [0.3, 0.3, 0.3],
    [0, 1, 0],
    [1, 1, 1],
    [0.1 + 0.2, 0.3, 0.3],
  ]);
  assert.deepEqual(
    b.groups.map((g) => g.zeroStd),
    [true, false, true, true],
  );
  assert.equal(b.fracZeroStd, 0.75);
  assert.equal(b.trainedGroups, 1);
  assert.deepEqual(b.groups[0]!.advantages, [0, 0, 0]);
  for (const mode of ADVANTAGE_MODES) {
    const m = batchAdvantages(
      [
        [0.3, 0.3, 0.3],
        [0, 1, 0],
      ],
      { mode },
    );
    assert.deepEqual(m.groups[0]!.advantages, [0, 0, 0], `${mode}: a zero-spread group has no advantage`);
    assert.equal(m.trainedGroups, 1, mode);
  }
  const equalGroups = batchAdvantages(
    [
      [1, 1],
      [2, 2],
    ],
    { mode: 'globalStd' },
  );
  assert.equal(equalGroups.trainedGroups, 0, 'equal groups stay zero-spread under a non-zero batch std');
});

test('bad rewards are refused with a reason', () => {
  assert.throws(() => groupAdvantages([1]), /at least 2 rewards/);
  assert.throws(() => groupAdvantages([1, NaN]), /reward 1 is not finite/);
  assert.throws(() => batchAdvantages([]), /no groups/);
});
