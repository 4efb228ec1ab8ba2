import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Ranking } from '../../contract/domain.ts';
import { groupAgreement, krippendorffAlphaOrdinal, poolAgreement } from './agreement.ts';

function ranking(annotator: string, ranks: number[], skipped = false): Ranking {
  return {
    id: 0,
    groupId: 1,
    annotator,
    skipped,
    createdAt: 0,
    durationMs: 0,
    ranks: skipped ? [] : ranks.map((rank, i) => ({ sampleId: 100 + i, rank })),
  };
}

test('ordinal alpha of two coders who swap the last two of three samples is 7/12 (worked by hand)', () => {
  // Units (1,1), (2,3), (3,2): o11 = 2, o23 = o32 = 2; n1 = n2 = n3 = 2, n = 6.
  // delta2: (1,2) = (4-2)^2 = 4, (2,3) = 4, (1,3) = (6-2)^2 = 16.
  // sum o delta2 = 16; sum nc nk delta2 = 2 (4*4 + 4*4 + 4*16) = 192; alpha = 1 - 5 * 16 / 192 = 7/12.
  const alpha = krippendorffAlphaOrdinal([
    [1, 1],
    [2, 3],
    [3, 2],
  ]);
  assert.ok(alpha !== null && Math.abs(alpha - 7 / 12) < 1e-12, `alpha = ${alpha}`);
});

test('ordinal alpha weighs a unit of m values by 1/(m-1) (worked by hand: 1/3)', () => {
  // Unit (1,1,2): o11 = 1, o12 = o21 = 1; unit (2,2): o22 = 2. n1 = 2, n2 = 3, n = 5, delta2(1,2) = 2.5^2.
  // alpha = 1 - 4 * (2 * 6.25) / (2 * 2 * 3 * 6.25) = 1/3.
  const alpha = krippendorffAlphaOrdinal([
    [1, 1, 2],
    [2, 2],
  ]);
  assert.ok(alpha !== null && Math.abs(alpha - 1 / 3) < 1e-12, `alpha = ${alpha}`);
});

test('alpha is 1 for identical rankings and undefined without pairable values or spread', () => {
  assert.equal(
    krippendorffAlphaOrdinal([
      [1, 1],
      [2, 2],
      [3, 3],
    ]),
    1,
  );
  assert.equal(krippendorffAlphaOrdinal([[1], [2]]), null);
  assert.equal(
    krippendorffAlphaOrdinal([
      [2, 2],
      [2, 2],
    ]),
    null,
  );
});

test('group agreement: pairwise share of sample pairs ordered alike, skips left out', () => {
  const result = groupAgreement([ranking('ann', [1, 2, 3]), ranking('bob', [1, 3, 2]), ranking('cy', [], true)]);
  assert.deepEqual(result.annotators, ['ann', 'bob']);
  assert.equal(result.rankings, 2);
  // (s0,s1) agree, (s0,s2) agree, (s1,s2) disagree.
  assert.ok(Math.abs(result.pairwise! - 2 / 3) < 1e-12);
  assert.ok(Math.abs(result.alpha! - 7 / 12) < 1e-12);
});

test('a tie agrees only with a tie; one annotator gives no pairwise agreement', () => {
  const tied = groupAgreement([ranking('ann', [1, 1]), ranking('bob', [1, 2])]);
  assert.equal(tied.pairwise, 0);
  assert.equal(groupAgreement([ranking('ann', [1, 2])]).pairwise, null);
});

test('pooling groups sums compared pairs over groups', () => {
  const pooled = poolAgreement([
    [ranking('ann', [1, 2, 3]), ranking('bob', [1, 3, 2])],
    [ranking('ann', [1, 2]), ranking('bob', [1, 2])].map((r) => ({
      ...r,
      groupId: 2,
      ranks: r.ranks.map((e) => ({ ...e, sampleId: e.sampleId + 10 })),
    })),
  ]);
  // 2 of 3 pairs agree in the first group, 1 of 1 in the second.
  assert.ok(Math.abs(pooled.pairwise! - 3 / 4) < 1e-12);
  assert.equal(pooled.rankings, 4);
});
