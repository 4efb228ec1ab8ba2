import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignSeries, appendPoint, axisLabels, chartGroups, chartedMetrics } from './chart-data.ts';

test('metric names group into the charts practitioners look at, in that order', () => {
  const groups = chartGroups([
    'eval/shapeeval',
    'kl/dm',
    'reward/format',
    'frac_reward_zero_std',
    'reward/shapeeval',
    'clip_frac/dm',
    'loss/policy_dm',
    'entropy/lm',
    'approx_kl',
    'time/step',
    'time/rollout',
    'update/dm_steps_per_sample',
  ]);
  assert.deepEqual(
    groups.map((g) => [g.title, g.names]),
    [
      ['Reward per component', ['reward/format', 'reward/shapeeval']],
      ['Groups with zero reward std', ['frac_reward_zero_std']],
      ['KL', ['approx_kl', 'kl/dm']],
      ['Clip fraction', ['clip_frac/dm']],
      ['Losses', ['loss/policy_dm']],
      ['Entropy', ['entropy/lm']],
      ['Evaluation score', ['eval/shapeeval']],
      ['Denoising steps trained per image', ['update/dm_steps_per_sample']],
      ['time', ['time/rollout', 'time/step']],
    ],
  );
});

test('series align on the union of steps with gaps as null (NaN too)', () => {
  assert.deepEqual(
    alignSeries([
      { steps: [1, 2, 4], values: [0.1, NaN, 0.4] },
      { steps: [2, 3], values: [5, 6] },
    ]),
    [
      [1, 2, 3, 4],
      [0.1, null, null, 0.4],
      [null, 5, 6, null],
    ],
  );
});

test('a live point appends, or replaces a step logged again, or slots in order', () => {
  const s = { name: 'm', steps: [1, 3], values: [1, 3] };
  assert.deepEqual(appendPoint(s, 4, 4), { name: 'm', steps: [1, 3, 4], values: [1, 3, 4] });
  assert.deepEqual(appendPoint(s, 3, 9), { name: 'm', steps: [1, 3], values: [1, 9] });
  assert.deepEqual(appendPoint(s, 2, 2), { name: 'm', steps: [1, 2, 3], values: [1, 2, 3] });
  assert.deepEqual(s, { name: 'm', steps: [1, 3], values: [1, 3] }, 'the input is not changed');
});

test('axis labels tell small, large and ordinary ticks apart, and never read "-0"', () => {
  // KL near zero and a flat learning rate: the default formatting printed "0, 0, 0".
  assert.deepEqual(axisLabels([0, 5e-7, 1e-6, 1.5e-6]), ['0', '5.0e-7', '1.0e-6', '1.5e-6']);
  assert.deepEqual(axisLabels([2.9e-6, 3e-6, 3.1e-6]), ['2.9e-6', '3.0e-6', '3.1e-6']);
  assert.deepEqual(axisLabels([-0.0000000001, 0.5, 1]), ['0', '0.5', '1.0']);
  assert.deepEqual(axisLabels([-0.2, -0.1, -0, 0.1]), ['-0.2', '-0.1', '0', '0.1']);
  assert.deepEqual(axisLabels([0, 0.02, 0.04]), ['0', '0.02', '0.04']);
  assert.deepEqual(axisLabels([0, 500, 1000]), ['0', '500', '1000']);
  assert.deepEqual(axisLabels([0, 2e6, 4e6]), ['0', '2e6', '4e6']);
  for (const ticks of [
    [1e-9, 2e-9, 3e-9],
    [0.1, 0.15, 0.2],
    [1, 1.0001, 1.0002],
  ]) {
    const labels = axisLabels(ticks);
    assert.equal(new Set(labels).size, ticks.length, labels.join());
    assert.ok(labels.every((l) => l !== '-0'));
  }
});

test('a run without human feedback gets no human chart', () => {
  const names = ['human/replayed_groups', 'kl/dm', 'reward/mean'];
  assert.deepEqual(chartedMetrics(names, { human: { mode: 'off' } }), ['kl/dm', 'reward/mean']);
  assert.deepEqual(chartedMetrics(names, {}), ['kl/dm', 'reward/mean']);
  assert.deepEqual(chartedMetrics(names, { human: { mode: 'async' } }), names);
});
