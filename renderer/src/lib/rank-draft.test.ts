import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RankDraft, hashString, shuffled } from './rank-draft.ts';

test('picks in order give ranks 1..n and the last unpicked sample comes last', () => {
  const draft = new RankDraft([10, 11, 12]).pick(12).pick(10);
  assert.equal(draft.complete, true);
  assert.deepEqual(draft.finalRanks(), [
    { sampleId: 12, rank: 1 },
    { sampleId: 10, rank: 2 },
    { sampleId: 11, rank: 3 },
  ]);
});

test('tie shares the previous rank and the next pick skips (competition ranking)', () => {
  const draft = new RankDraft([1, 2, 3, 4]).pick(2).tie().pick(4).pick(1).pick(3);
  assert.deepEqual(draft.finalRanks(), [
    { sampleId: 2, rank: 1 },
    { sampleId: 4, rank: 1 },
    { sampleId: 1, rank: 3 },
    { sampleId: 3, rank: 4 },
  ]);
});

test('undo takes back an armed tie first, then the last pick', () => {
  const armed = new RankDraft([1, 2, 3]).pick(1).tie();
  assert.equal(armed.tieArmed, true);
  const disarmed = armed.undo();
  assert.equal(disarmed.tieArmed, false);
  assert.deepEqual(disarmed.ranks(), [{ sampleId: 1, rank: 1 }]);
  assert.deepEqual(disarmed.undo().ranks(), []);
  assert.equal(disarmed.undo().canUndo, false);
});

test('picking a non-member or a sample twice changes nothing; tie before any pick is ignored', () => {
  const draft = new RankDraft([1, 2, 3]).tie().pick(1);
  assert.equal(draft.picks[0]!.tiedWithPrevious, false);
  assert.equal(draft.pick(1), draft);
  assert.equal(draft.pick(99), draft);
});

test('an incomplete draft refuses to produce final ranks, naming how many are missing', () => {
  assert.throws(() => new RankDraft([1, 2, 3]).pick(1).finalRanks(), /1 more picks needed/);
  assert.throws(() => new RankDraft([1, 1]), /duplicate sample ids/);
});

test('shuffled is a deterministic permutation that depends on the seed', () => {
  const items = Array.from({ length: 8 }, (_, i) => i);
  const a = shuffled(items, 42);
  assert.deepEqual(shuffled(items, 42), a);
  assert.deepEqual(
    [...a].sort((x, y) => x - y),
    items,
  );
  assert.notDeepEqual(shuffled(items, 43), a);
  assert.notEqual(hashString('alice'), hashString('bob'));
});

test('drag: placing inserts or moves a sample, untied, and breaks a tie it lands inside', () => {
  const draft = new RankDraft([1, 2, 3, 4]).pick(1).pick(2);
  assert.deepEqual(
    draft
      .placeAt(3, 0)
      .ranks()
      .map((e) => [e.sampleId, e.rank]),
    [
      [3, 1],
      [1, 2],
      [2, 3],
    ],
  );
  // Moving 2 to the front.
  assert.deepEqual(
    draft
      .placeAt(2, 0)
      .ranks()
      .map((e) => e.sampleId),
    [2, 1],
  );
  assert.deepEqual(
    draft
      .placeAt(4, 99)
      .ranks()
      .map((e) => e.sampleId),
    [1, 2, 4],
  );
  // 1 = 2 tied; dropping 3 between them leaves 2 with its own rank.
  const tied = new RankDraft([1, 2, 3]).pick(1).tie().pick(2);
  assert.deepEqual(
    tied
      .placeAt(3, 1)
      .ranks()
      .map((e) => [e.sampleId, e.rank]),
    [
      [1, 1],
      [3, 2],
      [2, 3],
    ],
  );
  assert.equal(draft.placeAt(99, 0), draft);
});

test('drag onto a ranked sample ties with it; dragging back to the pool unpicks', () => {
  const draft = new RankDraft([1, 2, 3]).pick(1).pick(2);
  assert.deepEqual(
    draft
      .tieWith(3, 1)
      .ranks()
      .map((e) => [e.sampleId, e.rank]),
    [
      [1, 1],
      [3, 1],
      [2, 3],
    ],
  );
  assert.equal(draft.tieWith(3, 3), draft, 'a sample cannot tie with itself');
  assert.equal(draft.tieWith(1, 3), draft, 'only with a ranked sample');
  // Removing the head of a tie gives the tied one its own rank, at the head's place.
  const tied = new RankDraft([1, 2, 3]).pick(3).pick(1).tie().pick(2);
  assert.deepEqual(
    tied
      .unpick(1)
      .ranks()
      .map((e) => [e.sampleId, e.rank]),
    [
      [3, 1],
      [2, 2],
    ],
  );
  assert.equal(tied.unpick(99), tied);
});

test('partial answers: the top k in order with the rest tied after; best and worst with the rest tied between', () => {
  const top2 = new RankDraft([1, 2, 3, 4, 5], [], false, { kind: 'topK', k: 2 }).pick(3);
  assert.equal(top2.complete, false);
  assert.deepEqual(top2.pick(5).finalRanks(), [
    { sampleId: 3, rank: 1 },
    { sampleId: 5, rank: 2 },
    { sampleId: 1, rank: 3 },
    { sampleId: 2, rank: 3 },
    { sampleId: 4, rank: 3 },
  ]);
  const bestWorst = new RankDraft([1, 2, 3, 4], [], false, { kind: 'bestWorst' }).pick(4).tie().pick(2);
  assert.equal(bestWorst.complete, true);
  assert.deepEqual(bestWorst.rankOf(2), 3, 'the second pick is the worst, never tied with the best');
  assert.deepEqual(bestWorst.finalRanks(), [
    { sampleId: 4, rank: 1 },
    { sampleId: 2, rank: 3 },
    { sampleId: 1, rank: 2 },
    { sampleId: 3, rank: 2 },
  ]);
  assert.throws(() => new RankDraft([1, 2, 3], [], false, { kind: 'bestWorst' }).pick(1).finalRanks(), /1 more picks needed/);
});
