import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectObjects } from './detect.ts';
import { score } from './evaluate.ts';
import { noiseImage, toUint8, type ImageRGB } from './image.ts';
import { samplePrompt, sampleSceneForSpec } from './prompts.ts';
import { measureReliability } from './reliability.ts';
import { renderScene } from './render.ts';
import { Rng } from './rng.ts';
import { COLORS, SHAPES, sampleScene } from './scene.ts';
import { GENEVAL_TASKS } from './spec.ts';

test('verdict agrees with the ground truth on >= 99.5% of 3000 clean renders', () => {
  const r = measureReliability(3000, 101, 'clean');
  assert.ok(r.positives > 0.25 && r.positives < 0.6, `the mix should hold both verdicts, positives ${r.positives}`);
  assert.ok(r.agreement >= 0.995, `agreement ${r.agreement}: ${JSON.stringify(r.disagreements)}`);
});

test('verdict agrees with the ground truth on >= 97% of 2000 renders with 3x3 blur and noise std 0.1', () => {
  const r = measureReliability(2000, 202, 'noise_blur');
  assert.ok(r.agreement >= 0.97, `agreement ${r.agreement}: ${JSON.stringify(r.disagreements)}`);
});

test('blank and pure-noise images are never scored correct', () => {
  const rng = new Rng(303);
  const blanks: ImageRGB[] = [
    { width: 32, height: 32, data: new Float32Array(32 * 32 * 3).fill(0.9) },
    { width: 32, height: 32, data: new Float32Array(32 * 32 * 3).fill(0) },
    { width: 32, height: 32, data: new Uint8Array(32 * 32 * 3).fill(255) },
  ];
  for (let i = 0; i < 3000; i++) {
    const { spec, text } = samplePrompt(GENEVAL_TASKS[i % GENEVAL_TASKS.length]!, rng);
    const image = i < blanks.length ? blanks[i]! : noiseImage(32, 32, rng);
    const verdict = score(image, spec);
    assert.equal(verdict.correct, false, `image ${i} scored correct for "${text}"`);
    if (i < blanks.length) assert.equal(verdict.reward, 0, 'a blank image earns no reward');
  }
});

test('every shape and colour is found with its box, from float and 8-bit images alike', () => {
  for (const shape of SHAPES) {
    for (const color of COLORS) {
      const scene = { background: 'grey' as const, objects: [{ shape, color, size: 0.25, x: 0.4, y: 0.6 }] };
      const image = renderScene(scene);
      for (const input of [image, toUint8(image)]) {
        const found = detectObjects(input);
        assert.equal(found.length, 1, `${color} ${shape}: ${found.length} objects`);
        assert.equal(found[0]!.shape, shape);
        assert.equal(found[0]!.color, color);
        const [x0, y0, x1, y1] = found[0]!.box;
        assert.ok(Math.abs(x0 - 0.275) <= 1.5 / 32 && Math.abs(x1 - 0.525) <= 1.5 / 32, `x box ${x0}..${x1}`);
        assert.ok(Math.abs(y0 - 0.475) <= 1.5 / 32 && Math.abs(y1 - 0.725) <= 1.5 / 32, `y box ${y0}..${y1}`);
      }
    }
  }
});

test('counts of up to four objects and any neutral background are read back from renders', () => {
  const rng = new Rng(404);
  for (let i = 0; i < 300; i++) {
    const scene = sampleScene(rng, 1 + (i % 4));
    const found = detectObjects(renderScene(scene, { width: 32 + 32 * (i % 2) }));
    const key = (o: { shape: string; color: string }) => `${o.color} ${o.shape}`;
    assert.deepEqual(found.map(key).sort(), scene.objects.map(key).sort());
  }
});

test('bad images are rejected with an error naming the problem', () => {
  assert.throws(() => detectObjects({ width: 4, height: 4, data: new Float32Array(10) }), /expected 4x4x3 = 48 values, got 10/);
  assert.throws(() => detectObjects({ width: 0, height: 4, data: new Float32Array(0) }), /positive integers/);
});

test('washed-out colours (60% contrast towards grey) are still read', () => {
  const rng = new Rng(505);
  let correct = 0;
  const n = 300;
  for (let i = 0; i < n; i++) {
    const { spec } = samplePrompt(GENEVAL_TASKS[i % GENEVAL_TASKS.length]!, rng);
    const image = renderScene(sampleSceneForSpec(spec, rng));
    for (let k = 0; k < image.data.length; k++) image.data[k] = 0.6 * image.data[k]! + 0.4 * 0.5;
    if (score(image, spec).correct) correct++;
  }
  assert.ok(correct / n >= 0.97, `accuracy ${correct / n}`);
});

test('touching objects of one colour are counted one by one, each with its shape', () => {
  for (const size of [32, 64, 128]) {
    for (const shape of SHAPES) {
      const s = 0.28;
      const layouts = {
        'side by side': [
          [0.5 - s / 2, 0.5],
          [0.5 + s / 2, 0.5],
        ],
        stacked: [
          [0.5, 0.5 - s / 2],
          [0.5, 0.5 + s / 2],
        ],
        diagonal: [
          [0.5 - s / 2, 0.4],
          [0.5 + s / 2, 0.4 + s / 2],
        ],
        'three in a row': [
          [0.5 - s, 0.5],
          [0.5, 0.5],
          [0.5 + s, 0.5],
        ],
      };
      for (const [layout, centres] of Object.entries(layouts)) {
        const objects = centres.map(([x, y]) => ({ shape, color: 'red' as const, size: s, x: x!, y: y! }));
        const image = renderScene({ background: 'grey', objects }, { width: size, height: size });
        const found = detectObjects(image);
        assert.deepEqual(
          found.map((o) => `${o.color} ${o.shape}`),
          objects.map(() => `red ${shape}`),
          `${size} px, ${shape}s ${layout}`,
        );
        const count = objects.length;
        const spec = {
          task: 'counting' as const,
          include: [{ shapes: [shape], count }],
          exclude: [{ shapes: [shape], count: count + 1 }],
          allowOthers: false,
        };
        assert.equal(score(image, spec).correct, true, `${size} px: ${count} touching ${shape}s pass "${count} ${shape}s"`);
      }
    }
  }
});

test('a single large shape is never split', () => {
  for (const shape of SHAPES) {
    for (const size of [32, 64, 128]) {
      const found = detectObjects(
        renderScene(
          { background: 'white', objects: [{ shape, color: 'blue', size: 0.45, x: 0.5, y: 0.5 }] },
          { width: size, height: size },
        ),
      );
      assert.deepEqual(
        found.map((o) => o.shape),
        [shape],
        `${size} px large ${shape}`,
      );
    }
  }
});
