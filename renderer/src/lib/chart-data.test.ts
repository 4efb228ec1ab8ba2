import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignSeries, appendPoint, chartGroups } from './chart-data.ts';

test('metric names group into the charts practitioners look at, in that order', () => {
  const groups = chartGroups(['eval/shapeeval', 'kl/dm', 'reward/format', 'frac_reward_zero_std', 'reward/shapeeval', 'clip_frac/dm', 'loss/policy_dm', 'entropy/lm', 'approx_kl', 'time/step', 'time/rollout']);
  assert.deepEqual(groups.map((g) => [g.title, g.names]), [
    ['Reward per component', ['reward/format', 'reward/shapeeval']],
    ['Groups with zero reward std', ['frac_reward_zero_std']],
    ['KL', ['approx_kl', 'kl/dm']],
    ['Clip fraction', ['clip_frac/dm']],
    ['Losses', ['loss/policy_dm']],
    ['Entropy', ['entropy/lm']],
    ['Evaluation score', ['eval/shapeeval']],
    ['time', ['time/rollout', 'time/step']],
  ]);
});

test('series align on the union of steps with gaps as null (NaN too)', () => {
  assert.deepEqual(alignSeries([{ steps: [1, 2, 4], values: [0.1, NaN, 0.4] }, { steps: [2, 3], values: [5, 6] }]), [
    [1, 2, 3, 4], [0.1, null, null, 0.4], [null, 5, 6, null],
  ]);
});

test('a live point appends, or replaces a step logged again, or slots in order', () => {
  const s = { name: 'm', steps: [1, 3], values: [1, 3] };
  assert.deepEqual(appendPoint(s, 4, 4), { name: 'm', steps: [1, 3, 4], values: [1, 3, 4] });
  assert.deepEqual(appendPoint(s, 3, 9), { name: 'm', steps: [1, 3], values: [1, 9] });
  assert.deepEqual(appendPoint(s, 2, 2), { name: 'm', steps: [1, 2, 3], values: [1, 2, 3] });
  assert.deepEqual(s, { name: 'm', steps: [1, 3], values: [1, 3] }, 'the input is not changed');
});
