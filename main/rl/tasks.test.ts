import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../world/rng.ts';
import { sampleVaguePrompt } from '../world/vague.ts';
import { rewriteSatisfies } from '../world/vague.ts';
import { shapeWorldTasks } from './tasks.ts';

test('each scenario draws deterministic prompts with what its rewards need', () => {
  const t2i = shapeWorldTasks('t2i', { seed: 3 });
  assert.deepEqual(
    t2i.next(6, 2).map((i) => i.text),
    shapeWorldTasks('t2i', { seed: 3 })
      .next(6, 2)
      .map((i) => i.text),
  );
  assert.notDeepEqual(
    t2i.next(6, 2).map((i) => i.text),
    t2i.next(6, 3).map((i) => i.text),
  );
  assert.deepEqual(
    t2i.next(6, 0).map((i) => i.task),
    ['single_object', 'two_object', 'counting', 'colors', 'position', 'color_attr'],
  );
  assert.equal(t2i.heldout().length, 48);
  assert.ok(
    shapeWorldTasks('cot')
      .next(2, 1)
      .every((i) => i.task === 'vague' && i.target.spec && i.target.format === 'reasoned'),
  );
  const vqa = shapeWorldTasks('vqa').next(2, 0);
  assert.deepEqual(
    vqa.map((i) => i.target.answer),
    ['yes', 'no'],
  );
  assert.equal(vqa[0]!.image!.width, 32);
  assert.ok(shapeWorldTasks('text').next(1, 0)[0]!.target.answerCheck);
  const edits = shapeWorldTasks('edit').next(5, 0);
  assert.deepEqual(
    edits.map((i) => i.task),
    ['edit_recolor', 'edit_remove', 'edit_add', 'edit_move', 'edit_reshape'],
  );
  for (const e of edits) {
    assert.equal(e.text, e.target.edit!.edit.instruction);
    assert.ok(e.target.edit!.edit.inverse.length > 0);
    assert.equal(e.image, e.target.edit!.source, 'the model is shown the source it is scored against');
  }
  assert.equal(shapeWorldTasks('edit', { heldoutPerTask: 2 }).heldout().length, 10);
  const reflect = shapeWorldTasks('reflect').next(6, 0);
  assert.deepEqual(
    reflect.map((i) => i.task),
    ['single_object', 'two_object', 'counting', 'colors', 'position', 'color_attr'],
  );
  assert.ok(reflect.every((i) => i.target.spec && !i.image));
});

test("a concrete rewrite is checked against the vague prompt's constraints", () => {
  const vague = sampleVaguePrompt(new Rng(11));
  assert.equal(rewriteSatisfies(vague.rewrite, vague.spec), true, vague.rewrite);
  assert.equal(rewriteSatisfies('not a prompt at all', vague.spec), false);
  assert.equal(rewriteSatisfies('four squares left of four circles', vague.spec), false, 'a scene that cannot be drawn');
  const rng = new Rng(12);
  let wrong = 0;
  for (let i = 0; i < 20; i++) {
    const a = sampleVaguePrompt(rng);
    const b = sampleVaguePrompt(rng);
    if (!rewriteSatisfies(b.rewrite, a.spec)) wrong++;
    assert.ok(rewriteSatisfies(a.rewrite, a.spec), a.rewrite);
  }
  assert.ok(wrong >= 10, `another prompt's rewrite usually fails (${wrong}/20)`);
});
