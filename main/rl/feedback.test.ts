import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../world/rng.ts';
import { resolveTrainConfig } from './config.ts';
import { automaticAdvantages, humanPart, humanShare, kendallTau, queueChoice, withFeedback } from './feedback.ts';

const weights = resolveTrainConfig('reflect', { human: { mode: 'async' } }).rewards;

test("people's answers replace the feedback components, each with the run's weight; the rest stays", () => {
  const feedback = { humanRank: new Map([[7, 1]]), critiqueMark: new Map([[7, -1]]), editMark: new Map<number, number>() };
  const before = [
    { name: 'shapeEval', value: 0.5, weight: 1 },
    { name: 'humanRank', value: -1, weight: 0.25 },
  ];
  assert.deepEqual(withFeedback(before, 7, feedback, weights), [
    { name: 'shapeEval', value: 0.5, weight: 1 },
    { name: 'humanRank', value: 1, weight: 0.25 },
    { name: 'critiqueMark', value: -1, weight: 0.5 },
  ]);
  assert.deepEqual(
    withFeedback(before, 8, feedback, weights),
    [{ name: 'shapeEval', value: 0.5, weight: 1 }],
    'no answer about sample 8: no feedback component',
  );
});

test("the human share of an update and a group's advantages without people", () => {
  const a = [
    { name: 'shapeEval', value: 1, weight: 1 },
    { name: 'humanRank', value: -1, weight: 0.25 },
  ];
  const b = [
    { name: 'shapeEval', value: 0, weight: 1 },
    { name: 'preference', value: 0.5, weight: 0.5 },
  ];
  assert.equal(humanPart(a), -0.25);
  assert.equal(humanShare([a, b]), 0.5 / 1.5);
  assert.equal(humanShare([[{ name: 'shapeEval', value: 0, weight: 1 }]]), 0);
  // Totals 0.75 and 0.25: without the human parts 1 and 0, i.e. +1 / -1 with std scaling.
  const before = automaticAdvantages([0.75, 0.25], [humanPart(a), humanPart(b)], { stdEps: 0 });
  assert.deepEqual(
    before.map((x) => Math.round(x * 1e9) / 1e9),
    [1, -1],
  );
});

test('queue policies score a group and say why; model-based ones fall back to the spread without a model', () => {
  const rng = new Rng(1);
  const random = queueChoice('random', [0, 1], null, rng);
  assert.ok(random.score >= 0 && random.score < 1 && random.reason === 'random pick');
  assert.deepEqual(queueChoice('spread', [0, 1, 0, 1], null, rng), { score: 0.5, reason: 'reward spread 0.500' });
  assert.equal(queueChoice('uncertain', [0, 1], null, rng).reason, 'reward spread 0.500 (no preference model yet)');
  const sure = queueChoice('uncertain', [0, 0, 0], [10, 0, -10], rng);
  const unsure = queueChoice('uncertain', [0, 0, 0], [0.1, 0, -0.1], rng);
  assert.ok(unsure.score > sure.score, `an unsure model scores higher (${unsure.score} > ${sure.score})`);
  assert.match(unsure.reason, /preference model unsure/);
  const agree = queueChoice('disagreement', [1, 2, 3], [1, 2, 3], rng);
  const disagree = queueChoice('disagreement', [1, 2, 3], [3, 2, 1], rng);
  assert.deepEqual([agree.score, disagree.score], [0, 1]);
  assert.match(disagree.reason, /Kendall's tau -1.00/);
  assert.equal(kendallTau([1, 2, 2], [1, 2, 3]), 2 / 3, 'a tie counts as neither');
});
