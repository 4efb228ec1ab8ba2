import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Ranking } from '../../contract/domain.ts';
import { humanRankRewards, krippendorffAlpha, pairsFromRanks, rankingAgreement, rankRewards } from './ranking.ts';

const entries = (ranks: number[], firstId = 10) => ranks.map((rank, i) => ({ sampleId: firstId + i, rank }));
const ranking = (annotator: string, ranks: number[], skipped = false): Ranking => ({
  id: 0,
  groupId: 1,
  annotator,
  skipped,
  ranks: skipped ? [] : entries(ranks),
  createdAt: 0,
  durationMs: 0,
});

test('ranks map to evenly spaced rewards in [-1, 1]', () => {
  // 5 samples, a strict order: positions 0..4 -> 1, 0.5, 0, -0.5, -1
  assert.deepEqual(
    [...rankRewards(entries([3, 1, 5, 2, 4]))],
    [
      [11, 1],
      [13, 0.5],
      [10, 0],
      [14, -0.5],
      [12, -1],
    ],
  );
});

test('ties share the mean of the positions they cover; only the order of rank numbers matters', () => {
  // 4 samples, two tied for best: positions 0,1 -> (1 + 1/3) / 2 = 2/3; then -1/3, -1
  const r = rankRewards(entries([1, 1, 2, 3]));
  assert.ok(Math.abs(r.get(10)! - 2 / 3) < 1e-12 && Math.abs(r.get(11)! - 2 / 3) < 1e-12);
  assert.ok(Math.abs(r.get(12)! + 1 / 3) < 1e-12);
  assert.equal(r.get(13), -1);
  assert.deepEqual(rankRewards(entries([1, 1, 3, 4])), r);
  assert.deepEqual([...rankRewards(entries([2, 2, 2])).values()], [0, 0, 0]);
  assert.deepEqual([...rankRewards(entries([1])).values()], [0]);
  // rewards of a ranking always sum to 0
  const s = [...rankRewards(entries([2, 1, 2, 4, 4, 6])).values()].reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(s) < 1e-12);
});

test('several annotators are averaged, skips ignored', () => {
  const r = humanRankRewards([ranking('ann', [1, 2, 3]), ranking('bob', [3, 2, 1]), ranking('cy', [], true), ranking('dee', [1, 3, 2])]);
  // sample 10: (1 - 1 + 1) / 3; sample 11: (0 + 0 - 1) / 3; sample 12: (-1 + 1 + 0) / 3
  assert.deepEqual(
    [...r],
    [
      [10, 1 / 3],
      [11, -1 / 3],
      [12, 0],
    ],
  );
});

test('pairs: C(k, 2) minus ties, winner first', () => {
  assert.equal(pairsFromRanks(entries([1, 2, 3, 4])).length, 6);
  assert.deepEqual(pairsFromRanks(entries([2, 1, 2])), [
    { winner: 11, loser: 10 },
    { winner: 11, loser: 12 },
  ]);
  assert.throws(
    () =>
      pairsFromRanks([
        { sampleId: 1, rank: 1 },
        { sampleId: 1, rank: 2 },
      ]),
    /sample 1 is ranked twice/,
  );
});

test("Krippendorff's alpha matches the published example (Krippendorff 2011)", () => {
  const _ = null;
  // 4 coders x 12 units, values 1-5, missing as null: alpha nominal 0.743, ordinal 0.815, interval 0.849.
  const data = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
  ];
  assert.equal(krippendorffAlpha(data, 'nominal')!.toFixed(3), '0.743');
  assert.equal(krippendorffAlpha(data, 'ordinal')!.toFixed(3), '0.815');
  assert.equal(krippendorffAlpha(data, 'interval')!.toFixed(3), '0.849');
  assert.equal(
    krippendorffAlpha([
      [1, 1],
      [1, 1],
    ]),
    null,
  );
});

test('agreement: identical annotators agree fully, reversed ones disagree', () => {
  const same = rankingAgreement([ranking('a', [1, 2, 3, 4]), ranking('b', [1, 2, 3, 4])]);
  assert.deepEqual(same, { annotators: 2, pairwise: 1, alpha: 1 });
  const reversed = rankingAgreement([ranking('a', [1, 2, 3, 4]), ranking('b', [4, 3, 2, 1])]);
  assert.equal(reversed.pairwise, 0);
  assert.ok(reversed.alpha! < 0);
  // a tie is left out of pairwise agreement: b ties 10 and 11, so 5 of the 6 pairs count, all agree
  assert.equal(rankingAgreement([ranking('a', [1, 2, 3, 4]), ranking('b', [1, 1, 3, 4])]).pairwise, 1);
  assert.deepEqual(rankingAgreement([ranking('a', [1, 2])]), { annotators: 1, pairwise: null, alpha: null });
});
