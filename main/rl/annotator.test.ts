import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../../db/store.ts';
import { renderScene } from '../world/render.ts';
import { toUint8 } from '../world/image.ts';
import { CRITERIA, isCriterion } from '../world/criteria.ts';
import { rankQueue } from './annotator.ts';

const scene = (size: number, x = 0.5) => renderScene({ background: 'grey', objects: [{ shape: 'square', color: 'red', size, x, y: 0.5 }] });

test('the scripted annotator ranks queued groups by the hidden criterion, ties equal', () => {
  const store = openStore(':memory:');
  try {
    const run = store.runs.create({ name: 'r', scenario: 't2i', config: {} });
    const prompt = store.prompts.ensure(run.id, { text: 'a red square', task: 'single_object' });
    const images = [scene(0.22), scene(0.3), scene(0.26), scene(0.3, 0.4)].map((im) => toUint8(im));
    const { sampleIds } = store.groups.insert({
      runId: run.id,
      step: 1,
      promptId: prompt.id,
      ranking: 'pending',
      samples: images.map((im, i) => ({ seed: i, image: { width: im.width, height: im.height, rgb: im.data } })),
    });
    assert.ok(CRITERIA.larger(scene(0.3)) > CRITERIA.larger(scene(0.22)));
    assert.equal(rankQueue(store, 'larger'), 1);
    const [ranking] = store.rankings.forGroup(store.groups.list({ runId: run.id }).items[0]!.id);
    assert.equal(ranking!.annotator, 'script:larger');
    const rankOf = new Map(ranking!.ranks.map((r) => [r.sampleId, r.rank]));
    assert.deepEqual(
      sampleIds.map((id) => rankOf.get(id)),
      [3, 1, 2, 1],
      'the two equal big squares tie for first',
    );
    assert.equal(rankQueue(store, 'larger'), 0, 'a ranked group leaves the queue');
    assert.ok(isCriterion('greener') && !isCriterion('bluer'));
  } finally {
    store.close();
  }
});
