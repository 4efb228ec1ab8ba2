import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../engine/runtime/rng.ts';
import { pairsFromRanks } from './ranking.ts';
import { PreferenceModel, trainPreferenceModel, type GroupedPair } from './preference.ts';

/** Groups of 8 random feature vectors ranked by a hidden linear preference, with some label noise. */
function synthetic(groups: number, dim: number, seed: number) {
  const rng = new Rng(seed);
  const hidden = Array.from({ length: dim }, () => rng.normal());
  const features = new Map<number, Float32Array>();
  const pairs: GroupedPair[] = [];
  for (let g = 0; g < groups; g++) {
    const ranks = Array.from({ length: 8 }, (_, i) => {
      const id = g * 8 + i;
      const f = new Float32Array(dim).map(() => rng.normal() * 2 + 1);
      features.set(id, f);
      const utility = f.reduce((s, v, k) => s + v * hidden[k]!, 0) + rng.normal() * 0.5;
      return { sampleId: id, utility };
    })
      .sort((a, b) => b.utility - a.utility)
      .map((e, i) => ({ sampleId: e.sampleId, rank: i + 1 }));
    for (const p of pairsFromRanks(ranks)) pairs.push({ ...p, group: g });
  }
  return { pairs, features: (id: number) => features.get(id)! };
}

test('a Bradley-Terry head recovers a hidden linear preference (held-out groups)', () => {
  const { pairs, features } = synthetic(30, 12, 7);
  for (const hidden of [0, 16]) {
    const r = trainPreferenceModel(pairs, features, { hidden, epochs: 150, seed: 1 });
    assert.equal(r.trainPairs + r.heldoutPairs, pairs.length);
    assert.equal(r.heldoutPairs, 6 * 28, 'the held-out pairs are whole groups (20% of 30 groups x 28 pairs)');
    assert.ok(r.lossAfter < r.lossBefore * 0.5, `loss ${r.lossBefore} -> ${r.lossAfter}`);
    assert.ok(r.heldoutAccuracy! > 0.85, `hidden ${hidden}: held-out accuracy ${r.heldoutAccuracy}`);
  }
});

test('with random labels the held-out accuracy stays near chance', () => {
  const { pairs, features } = synthetic(30, 12, 8);
  const rng = new Rng(3);
  const shuffled = pairs.map((p) => (rng.uniform() < 0.5 ? p : { winner: p.loser, loser: p.winner, group: p.group }));
  const r = trainPreferenceModel(shuffled, features, { hidden: 0, epochs: 150 });
  assert.ok(Math.abs(r.heldoutAccuracy! - 0.5) < 0.15, `accuracy ${r.heldoutAccuracy}`);
});

test('the model round-trips through JSON and refuses wrong sizes', () => {
  const { pairs, features } = synthetic(5, 4, 9);
  const { model } = trainPreferenceModel(pairs, features, { hidden: 3, epochs: 5 });
  const copy = new PreferenceModel(JSON.parse(JSON.stringify(model)));
  assert.equal(copy.score(features(3)), model.score(features(3)));
  assert.throws(() => model.score(new Float32Array(5)), /expected 4 features, got 5/);
  assert.throws(() => new PreferenceModel({ ...model.weights, b1: [1] }), /b1 has 1 values, expected 3/);
  assert.throws(() => trainPreferenceModel([], features), /no pairs/);
});
