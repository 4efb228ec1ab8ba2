import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateObjects, relativePosition, score } from './evaluate.ts';
import { parsePrompt } from './prompts.ts';
import { renderScene } from './render.ts';
import type { Scene, SceneObject, Shape, ColorName } from './scene.ts';

const obj = (shape: Shape, color: ColorName, x: number, y: number, size = 0.24): SceneObject => ({ shape, color, x, y, size });
const image = (...objects: SceneObject[]) => renderScene({ background: 'grey', objects } satisfies Scene);

test('golden: right count passes with reward 1', () => {
  const r = score(
    image(obj('circle', 'red', 0.2, 0.2), obj('circle', 'blue', 0.7, 0.25), obj('circle', 'green', 0.45, 0.75)),
    parsePrompt('three circles'),
  );
  assert.equal(r.correct, true, r.reason);
  assert.equal(r.reason, 'ok');
  assert.equal(r.reward, 1);
});

test('golden: too few and too many objects fail with the count term 1 - |required - found| / required', () => {
  const two = score(image(obj('circle', 'red', 0.2, 0.2), obj('circle', 'blue', 0.7, 0.7)), parsePrompt('three circles'));
  assert.equal(two.correct, false);
  assert.equal(two.reason, 'expected circle>=3, found 2');
  assert.ok(Math.abs(two.reward - 2 / 3) < 1e-9, `reward ${two.reward}`);
  const four = score(
    image(
      obj('circle', 'red', 0.2, 0.2),
      obj('circle', 'blue', 0.75, 0.2),
      obj('circle', 'green', 0.2, 0.75),
      obj('circle', 'red', 0.75, 0.75),
    ),
    parsePrompt('three circles'),
  );
  assert.equal(four.correct, false);
  assert.equal(four.reason, 'expected circle<4, found 4');
  assert.ok(Math.abs(four.reward - 2 / 3) < 1e-9, `reward ${four.reward}`);
});

test('golden: wrong colour fails and names the colours found', () => {
  const r = score(image(obj('square', 'blue', 0.5, 0.5)), parsePrompt('a red square'));
  assert.equal(r.correct, false);
  assert.equal(r.reason, 'expected red square>=1, found 0; and 1 blue');
  assert.equal(r.reward, 0.5); // count term 1, colour term 0
});

test('golden: wrong position fails and names the relation found', () => {
  const spec = parsePrompt('a circle left of a square');
  const right = score(image(obj('circle', 'red', 0.2, 0.5), obj('square', 'blue', 0.75, 0.5)), spec);
  assert.equal(right.correct, true, right.reason);
  const wrong = score(image(obj('circle', 'red', 0.75, 0.5), obj('square', 'blue', 0.2, 0.5)), spec);
  assert.equal(wrong.correct, false);
  assert.equal(wrong.reason, 'expected circle left of square, found right of');
  assert.equal(wrong.reward, 2 / 3);
});

test('golden: an extra object fails ShapeWorld prompts but not GenEval-style specs that allow others', () => {
  const img = image(obj('triangle', 'yellow', 0.25, 0.3), obj('square', 'purple', 0.7, 0.7));
  const strict = score(img, parsePrompt('a yellow triangle'));
  assert.equal(strict.correct, false);
  assert.equal(strict.reason, 'unexpected purple square');
  assert.equal(strict.reward, 0); // one unexpected object per required object
  const lenient = score(img, { ...parsePrompt('a yellow triangle'), allowOthers: true });
  assert.equal(lenient.correct, true, lenient.reason);
});

test('golden: colour attribution swapped between two objects fails both colour checks', () => {
  const r = score(image(obj('circle', 'blue', 0.25, 0.3), obj('square', 'red', 0.7, 0.7)), parsePrompt('a red circle and a blue square'));
  assert.equal(r.correct, false);
  assert.match(r.reason, /expected red circle>=1, found 0; and 1 blue/);
  assert.match(r.reason, /expected blue square>=1, found 0; and 1 red/);
  assert.equal(r.reward, 0.5);
});

test('relativePosition follows GenEval: 0.1 x summed sizes margin, diagonal offsets give two relations', () => {
  const box = (x: number, y: number, s = 0.2) => [x - s / 2, y - s / 2, x + s / 2, y + s / 2] as const;
  assert.deepEqual([...relativePosition(box(0.2, 0.5), box(0.8, 0.5))], ['left of']);
  assert.deepEqual([...relativePosition(box(0.5, 0.9), box(0.5, 0.1))], ['below']);
  assert.deepEqual([...relativePosition(box(0.2, 0.2), box(0.8, 0.8))].sort(), ['above', 'left of']);
  // Offset 0.03 is inside the margin 0.1 * (0.2 + 0.2) = 0.04: no relation.
  assert.equal(relativePosition(box(0.5, 0.5), box(0.53, 0.5)).size, 0);
});

test('the ground-truth check and the image check agree on symbolic objects', () => {
  const spec = parsePrompt('two triangles');
  const verdict = evaluateObjects(
    [
      { shape: 'triangle', color: 'red', box: [0, 0, 0.2, 0.2] },
      { shape: 'triangle', color: 'red', box: [0.5, 0.5, 0.7, 0.7] },
    ],
    spec,
  );
  assert.equal(verdict.correct, true);
  assert.equal(verdict.reward, 1);
});
