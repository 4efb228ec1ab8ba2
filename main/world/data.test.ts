// Tests of the text side: grammar, vague prompts, edits, questions, reflection data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EDIT_KINDS, cycleEditReward, invertEdit, sampleEdit, scoreEdit } from './edits.ts';
import { groundTruth } from './evaluate.ts';
import { noiseImage } from './image.ts';
import { parsePrompt, promptText, samplePrompt, sampleSceneForSpec } from './prompts.ts';
import { QUESTION_TYPES, answerMatches, openQuestions, sampleQuestionPair } from './questions.ts';
import { REFLECTION_ERRORS, critiqueMentions, sampleReflection } from './reflection.ts';
import { renderScene } from './render.ts';
import { Rng } from './rng.ts';
import { objectBox, boxesSeparated } from './scene.ts';
import { GENEVAL_TASKS } from './spec.ts';
import { HARD_VAGUE_FORMS, rewriteSatisfies, sampleHardVaguePrompt, sampleVaguePrompt } from './vague.ts';

test('prompts of every task parse back to their spec, and their oracle scenes satisfy it', () => {
  const rng = new Rng(1);
  for (const task of GENEVAL_TASKS) {
    for (let i = 0; i < 60; i++) {
      const p = samplePrompt(task, rng);
      assert.deepEqual(parsePrompt(p.text), p.spec, p.text);
      const scene = sampleSceneForSpec(p.spec, rng);
      assert.equal(groundTruth(scene, p.spec).correct, true, p.text);
      scene.objects.forEach((a, j) =>
        scene.objects.slice(j + 1).forEach((b) => assert.ok(boxesSeparated(objectBox(a), objectBox(b)), 'objects overlap')),
      );
    }
  }
});

test('the grammar: examples parse to the documented specs, and text outside it is refused', () => {
  assert.deepEqual(parsePrompt('A photo of three red circles.'), {
    task: 'counting',
    include: [{ shapes: ['circle'], colors: ['red'], count: 3 }],
    exclude: [{ shapes: ['circle'], colors: ['red'], count: 4 }],
    allowOthers: false,
  });
  assert.equal(parsePrompt('a square to the left of a triangle').include[1]!.position!.relation, 'left of');
  assert.equal(promptText(parsePrompt('an orange triangle above a blue circle')), 'an orange triangle above a blue circle');
  assert.throws(() => parsePrompt('a pentagon'), /not in the ShapeWorld grammar/);
  assert.throws(() => parsePrompt('two circle'), /mixes singular and plural/);
});

test('the same seed gives the same prompts and scenes', () => {
  const draw = (seed: number) => {
    const rng = new Rng(seed);
    const p = samplePrompt('position', rng);
    return { p, scene: sampleSceneForSpec(p.spec, rng) };
  };
  assert.deepEqual(draw(7), draw(7));
  assert.notDeepEqual(draw(7), draw(8));
});

test('vague prompts: rewrites parse, satisfy the constraint set, and several answers can be right', () => {
  const rng = new Rng(2);
  let multiChoice = 0;
  for (let i = 0; i < 300; i++) {
    const v = sampleVaguePrompt(rng);
    assert.deepEqual(parsePrompt(v.rewrite).include, v.rewriteSpec.include, v.rewrite);
    assert.ok(v.reasoning.endsWith(`So: ${v.rewrite}.`));
    for (let k = 0; k < 3; k++) assert.equal(groundTruth(sampleSceneForSpec(v.spec, rng), v.spec).correct, true, v.text);
    assert.equal(groundTruth(sampleSceneForSpec(v.rewriteSpec, rng), v.spec).correct, true, `rewrite of ${v.text}`);
    if (v.spec.include.some((r) => r.shapes.length > 1 || (r.colors?.length ?? 1) > 1)) multiChoice++;
  }
  assert.ok(multiChoice > 30, `only ${multiChoice} prompts with several right answers`);
  const grass = sampleVaguePromptMatching(rng, (v) => v.text.includes('the colour of grass'));
  assert.deepEqual(grass.spec.include[0]!.colors, ['green']);
});

test('harder vague prompts: the reference rewrite satisfies the constraints, a half answer does not', () => {
  const rng = new Rng(4);
  for (const form of HARD_VAGUE_FORMS)
    for (let i = 0; i < 100; i++) {
      const v = sampleHardVaguePrompt(rng, form);
      assert.deepEqual(parsePrompt(v.rewrite).include, v.rewriteSpec.include, v.rewrite);
      assert.ok(rewriteSatisfies(v.rewrite, v.spec), `${v.text} -> ${v.rewrite}`);
      assert.ok(v.reasoning.endsWith(`So: ${v.rewrite}.`));
      // What the base writes for most of them: the first object alone, or the count without its colour.
      const half =
        form === 'riddled_count'
          ? v.rewrite.replace(/ (red|orange|yellow|green|blue|purple) /, ' ')
          : v.rewrite.split(/ and | left of | right of | above | below /)[0]!;
      assert.equal(rewriteSatisfies(half, v.spec), false, `half answer "${half}" to ${v.text}`);
    }
});

function sampleVaguePromptMatching(rng: Rng, ok: (v: ReturnType<typeof sampleVaguePrompt>) => boolean) {
  for (let i = 0; i < 5000; i++) {
    const v = sampleVaguePrompt(rng, 'colored_object');
    if (ok(v)) return v;
  }
  throw new Error('no matching vague prompt');
}

test('edits: the target scene passes, the source and noise fail, and the inverse restores the source', () => {
  const rng = new Rng(3);
  for (const kind of EDIT_KINDS) {
    for (let i = 0; i < 40; i++) {
      const edit = sampleEdit(rng, kind);
      const source = renderScene(edit.source);
      const target = renderScene(edit.target);
      const forward = scoreEdit(target, source, edit);
      assert.equal(forward.correct, true, `${edit.instruction}: ${forward.reason}`);
      assert.equal(forward.reward, 1);
      assert.equal(scoreEdit(source, source, edit).correct, false, `unedited image passed "${edit.instruction}"`);
      assert.equal(scoreEdit(noiseImage(32, 32, rng), source, edit).correct, false);
      const back = invertEdit(edit);
      assert.equal(back.instruction, edit.inverse);
      assert.equal(back.inverse, edit.instruction);
      const inverse = scoreEdit(source, target, back);
      assert.equal(inverse.correct, true, `${edit.inverse}: ${inverse.reason}`);
    }
  }
});

test('edits: changing an object that should stay put fails on the similarity or the object check', () => {
  const rng = new Rng(4);
  const edit = sampleEdit(rng, 'recolor');
  const source = renderScene(edit.source);
  const wrong = renderScene({ ...edit.target, background: edit.target.background === 'grey' ? 'white' : 'grey' });
  const result = scoreEdit(wrong, source, edit);
  assert.equal(result.correct, false);
  assert.ok(result.similarity < 1);
});

test('cycle edit reward: 1 for a perfect cycle, lower when the edit or the way back goes wrong', () => {
  const rng = new Rng(7);
  const edit = sampleEdit(rng, 'move');
  const source = renderScene(edit.source);
  const target = renderScene(edit.target);
  assert.equal(cycleEditReward(source, target, source, edit).reward, 1);
  const noEdit = cycleEditReward(source, source, source, edit);
  assert.equal(noEdit.forward.correct, false);
  assert.ok(noEdit.reward < 1);
  const lostWayBack = cycleEditReward(source, target, noiseImage(32, 32, rng), edit);
  assert.equal(lostWayBack.reconstruction, 0);
  assert.ok(Math.abs(lostWayBack.reward - 0.8) < 1e-9);
});

test('question pairs: one yes and one no per image, answers true of the scene', () => {
  const rng = new Rng(5);
  for (const type of QUESTION_TYPES) {
    for (let i = 0; i < 50; i++) {
      const pair = sampleQuestionPair(rng, type);
      assert.equal(pair.yes.answer, 'yes');
      assert.equal(pair.no.answer, 'no');
      assert.notEqual(pair.yes.text, pair.no.text);
    }
  }
  const scene = { background: 'grey' as const, objects: [{ shape: 'circle' as const, color: 'red' as const, size: 0.25, x: 0.3, y: 0.3 }] };
  assert.deepEqual(
    openQuestions(scene)
      .filter((q) => q.text.includes('circle'))
      .map((q) => q.answer),
    ['one', 'red'],
  );
  assert.ok(answerMatches('Yes, there is.', 'yes'));
  assert.ok(answerMatches('2', 'two'));
  assert.ok(!answerMatches('no', 'yes'));
});

test('reflection: the wrong scene fails in the named way, the critique names it, the right scene passes', () => {
  const rng = new Rng(6);
  for (const error of REFLECTION_ERRORS) {
    for (let i = 0; i < 30; i++) {
      const r = sampleReflection(rng, error);
      assert.equal(groundTruth(r.wrongScene, r.spec).correct, false, r.critique);
      assert.equal(groundTruth(r.rightScene, r.spec).correct, true);
      assert.ok(critiqueMentions(r.critique, r), r.critique);
      assert.ok(!critiqueMentions('The image looks fine.', r));
      assert.deepEqual(parsePrompt(r.correctedPrompt), r.spec);
    }
  }
});
