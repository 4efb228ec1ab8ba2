import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scoreImageFolder, specOf, writePromptFolder } from './folder.ts';
import { encodePng } from './png.ts';
import { sampleSceneForSpec } from './prompts.ts';
import { renderScene } from './render.ts';
import { Rng } from './rng.ts';
import { buildSuite } from './suites.ts';
import type { PromptSpec } from './spec.ts';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'unirl-folder-'));
}

test('write-prompts writes GenEval metadata per prompt; right drawings pass and blank ones fail, per tag', () => {
  const dir = tempDir();
  try {
    const suite = buildSuite('geneval', { limit: 2 });
    const { prompts, tasks } = writePromptFolder(suite, dir);
    assert.equal(prompts, 12);
    assert.deepEqual(tasks, ['single_object', 'two_object', 'counting', 'colors', 'position', 'color_attr']);
    const counting = JSON.parse(readFileSync(join(dir, '00004', 'metadata.jsonl'), 'utf8'));
    assert.equal(counting.tag, 'counting');
    assert.equal(counting.exclude[0].count, counting.include[0].count + 1, 'exactly N: an exclusion of N+1, as GenEval writes it');
    assert.throws(() => writePromptFolder(suite, dir), /already holds prompt folders/);

    // Another model's answers: two right drawings (64 and 100 px) and a blank per prompt.
    const items = suite.tasks.flatMap((t) => t.items as { spec: PromptSpec }[]);
    items.forEach((item, i) => {
      const samples = join(dir, String(i).padStart(5, '0'), 'samples');
      const scene = sampleSceneForSpec(item.spec, new Rng(i));
      writeFileSync(join(samples, '0000.png'), encodePng(renderScene(scene, { width: 64, height: 64 })));
      writeFileSync(join(samples, '0001.png'), encodePng(renderScene(scene, { width: 100, height: 100 })));
      writeFileSync(join(samples, '0002.png'), encodePng(renderScene({ background: 'white', objects: [] }, { width: 48, height: 48 })));
    });
    const records: { correct: boolean; output?: string }[] = [];
    const report = scoreImageFolder(dir, { onRecord: (r) => records.push(r) });
    assert.deepEqual(
      report.tasks.map((t) => [t.task, t.items, t.samples]),
      tasks.map((t) => [t, 2, 6]),
    );
    for (const task of report.tasks)
      assert.ok(Math.abs(task.accuracy - 2 / 3) < 1e-9, `${task.task}: the two drawings pass, the blank fails (${task.accuracy})`);
    assert.equal(records.filter((r) => r.output === '0002.png' && r.correct).length, 0);
    assert.match(report.generator, /sizes 64x64, 100x100, 48x48/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("GenEval's rule ignores an object the prompt does not mention; the strict rule fails it", () => {
  const dir = tempDir();
  try {
    mkdirSync(join(dir, '00000', 'samples'), { recursive: true });
    writeFileSync(
      join(dir, '00000', 'metadata.jsonl'),
      JSON.stringify({ tag: 'single_object', prompt: 'a photo of a circle', include: [{ class: 'circle', count: 1 }] }) + '\n',
    );
    const scene = {
      background: 'grey' as const,
      objects: [
        { shape: 'circle' as const, color: 'red' as const, size: 0.25, x: 0.3, y: 0.3 },
        { shape: 'square' as const, color: 'blue' as const, size: 0.25, x: 0.7, y: 0.7 },
      ],
    };
    writeFileSync(join(dir, '00000', 'samples', '0000.png'), encodePng(renderScene(scene, { width: 64, height: 64 })));
    assert.equal(scoreImageFolder(dir).overall, 1);
    assert.equal(scoreImageFolder(dir, { rule: 'strict' }).overall, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad metadata and missing images are errors naming the file and the field', () => {
  const at = 'x/metadata.jsonl';
  assert.throws(
    () => specOf({ prompt: 'a dog', include: [{ class: 'dog', count: 1 }] }, 'geneval', at),
    /x\/metadata.jsonl: include\[0\]\.class "dog" is not a ShapeWorld shape/,
  );
  assert.throws(
    () => specOf({ prompt: 'p', include: [{ class: 'circle', count: 0 }] }, 'geneval', at),
    /include\[0\]\.count must be a positive integer/,
  );
  assert.throws(
    () => specOf({ prompt: 'p', include: [{ class: 'circle', count: 1, color: 'pink' }] }, 'geneval', at),
    /color "pink" is not a ShapeWorld colour/,
  );
  assert.throws(
    () => specOf({ prompt: 'p', include: [{ class: 'circle', count: 1, position: ['near', 0] }] }, 'geneval', at),
    /include\[0\]\.position must be \[relation, target\]/,
  );
  assert.throws(() => specOf({ include: [] }, 'geneval', at), /"prompt" must be a string/);
  const dir = tempDir();
  try {
    assert.throws(() => scoreImageFolder(dir), /no prompt folders/);
    mkdirSync(join(dir, '00000', 'samples'), { recursive: true });
    writeFileSync(
      join(dir, '00000', 'metadata.jsonl'),
      JSON.stringify({ tag: 't', prompt: 'a circle', include: [{ class: 'circle', count: 1 }] }) + '\n',
    );
    assert.throws(() => scoreImageFolder(dir), /00000\/samples: no PNG images \(draw the prompt "a circle" into it\)/);
    writeFileSync(join(dir, '00000', 'samples', 'a.png'), 'not a png');
    assert.throws(() => scoreImageFolder(dir), /a\.png: not a readable PNG/);
    assert.deepEqual(readdirSync(join(dir, '00000', 'samples')), ['a.png'], 'nothing written or removed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('suites whose prompts GenEval cannot express are refused by name', () => {
  const dir = tempDir();
  try {
    assert.throws(() => writePromptFolder(buildSuite('question', { limit: 1 }), dir), /suite "question" has no text-to-image prompts/);
    assert.throws(
      () => writePromptFolder(buildSuite('vague', { limit: 1 }), join(dir, 'vague')),
      /GenEval's layout names one class and at most one colour per object/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
