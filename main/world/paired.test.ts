import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairedComparison } from './paired.ts';

test('a paired comparison clusters the standard error by item', () => {
  // Item a: two images both improved; item b: one got worse, one stayed; item c: unchanged.
  const result = pairedComparison([
    { item: 'a', before: 0, after: 1 },
    { item: 'a', before: 0, after: 1 },
    { item: 'b', before: 1, after: 0 },
    { item: 'b', before: 1, after: 1 },
    { item: 'c', before: 1, after: 1 },
    { item: 'c', before: 0, after: 0 },
  ]);
  assert.equal(result.samples, 6);
  assert.equal(result.items, 3);
  assert.equal(result.before, 3 / 6);
  assert.equal(result.after, 4 / 6);
  const mean = 1 / 6;
  // Per item: Σd = 2, -1, 0 with two images each.
  const se = Math.sqrt((2 - 2 * mean) ** 2 + (-1 - 2 * mean) ** 2 + (0 - 2 * mean) ** 2) / 6;
  assert.ok(Math.abs(result.difference - mean) < 1e-15);
  assert.ok(Math.abs(result.standardError - se) < 1e-15);
  // Identical evaluations: no difference, no error.
  assert.deepEqual(
    pairedComparison([
      { item: 'x', before: 1, after: 1 },
      { item: 'y', before: 0, after: 0 },
    ]).standardError,
    0,
  );
  assert.throws(() => pairedComparison([]), /no images scored by both/);
});
