import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../../contract/domain.ts';
import { resolveTrainConfig } from '../../../main/rl/config.ts';
import { markReach } from './mark-reach.ts';

// The reflect preset as the trainer stores it: critiqueMark 0.5, staleness limit 4.
const config = JSON.parse(JSON.stringify(resolveTrainConfig('reflect'))) as JsonObject;

test('a mark trains its group again while the group is within the staleness limit of a running run', () => {
  const running = { status: 'running' as const, step: 10, config };
  assert.deepEqual(markReach(running, 10, 'critiqueMark'), {
    trains: true,
    text: 'a mark now trains this group again at the next step (for 5 more steps)',
  });
  assert.equal(markReach(running, 6, 'critiqueMark').trains, true);
  assert.match(markReach(running, 6, 'critiqueMark').text, /for 1 more step\)$/);
  assert.deepEqual(markReach(running, 5, 'critiqueMark'), {
    trains: false,
    text: '5 steps old (limit 4): a mark changes the stored reward only',
  });
});

test('a mark only changes stored rewards when the run is not training, and nothing with weight 0', () => {
  assert.deepEqual(markReach({ status: 'paused', step: 10, config }, 10, 'critiqueMark'), {
    trains: false,
    text: 'run paused: a mark changes the stored reward only',
  });
  // The reflect preset gives edit marks no weight.
  assert.deepEqual(markReach({ status: 'running', step: 10, config }, 10, 'editMark'), {
    trains: false,
    text: 'kept only: editMark weight 0',
  });
});
