import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveTrainConfig } from '../../../main/rl/config.ts';
import { storagePolicyLines } from './storage-policy.ts';

test("a run's storage policy in words, from the config the trainer stores", () => {
  const config = JSON.parse(JSON.stringify(resolveTrainConfig('t2i')));
  assert.deepEqual(storagePolicyLines(config), [
    'Latents: groups sent to ranking and 2% of the others, stored as q8; the other filmstrips are re-drawn from their seeds on demand.',
    'Checkpoints: the latest 2 with optimizer state; as weights only the best by held-out evaluation and a snapshot every 250 steps; ' +
      'the rest are pruned as the run goes.',
  ]);
  const tight = JSON.parse(
    JSON.stringify(
      resolveTrainConfig('t2i', { storage: { keepLatest: 1, keepBest: false, snapshotEvery: 0 }, rollout: { storeLatents: false } }),
    ),
  );
  assert.match(storagePolicyLines(tight)[0]!, /none \(rollout.storeLatents is off\)/);
  assert.equal(storagePolicyLines(tight)[1], 'Checkpoints: the latest 1 with optimizer state; the rest are pruned as the run goes.');
  assert.match(storagePolicyLines({})[0]!, /predates them/);
});
