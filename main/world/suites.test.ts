import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evalCommand } from '../cli/eval.ts';
import { runSuite } from './benchmark.ts';
import { noiseGenerator, oracleGenerator, type Generator } from './generators.ts';
import { runSuiteJob } from './jobs.ts';
import { buildSuite, GENEVAL_SIZES, listSuites, SUITE_NAMES } from './suites.ts';

test('suites are fixed by their seed and GenEval-sized', () => {
  const a = buildSuite('geneval');
  assert.deepEqual(a, buildSuite('geneval'));
  assert.notDeepEqual(a.tasks[0]!.items, buildSuite('geneval', { seed: 1 }).tasks[0]!.items);
  assert.deepEqual(a.tasks.map((t) => t.items.length), Object.values(GENEVAL_SIZES));
  assert.equal(a.samplesPerItem, 4);
  const colorAttr = a.tasks.find((t) => t.name === 'color_attr')!;
  assert.equal(new Set(colorAttr.items.map((i) => (i as { prompt: string }).prompt)).size, 100, 'color_attr prompts are distinct');
});

test('geneval: the oracle scores >= 0.99 and noise <= 0.05', async () => {
  const suite = buildSuite('geneval');
  const oracle = await runSuite(suite, oracleGenerator);
  assert.ok(oracle.overall >= 0.99, `oracle overall ${oracle.overall}`);
  const noise = await runSuite(suite, noiseGenerator);
  assert.ok(noise.overall <= 0.05, `noise overall ${noise.overall}`);
  assert.equal(oracle.tasks.length, 6);
});

test('every suite: the oracle is near perfect and noise images fail', async () => {
  for (const name of ['vague', 'edit', 'question', 'reflection']) {
    const suite = buildSuite(name, { limit: 10 });
    const oracle = await runSuite(suite, oracleGenerator);
    assert.ok(oracle.overall >= 0.99, `${name}: oracle ${oracle.overall}`);
    const noise = await runSuite(suite, noiseGenerator);
    for (const t of noise.tasks.filter((t) => t.kind === 'text_to_image' || t.kind === 'edit')) assert.equal(t.accuracy, 0, `${name}/${t.task}: noise ${t.accuracy}`);
  }
  assert.ok(SUITE_NAMES.includes('geneval'));
});

test('tasks a generator cannot do are skipped and left out of the overall score', async () => {
  const imagesOnly: Generator = { name: 'images-only', textToImage: oracleGenerator.textToImage! };
  const report = await runSuite(buildSuite('reflection', { limit: 5 }), imagesOnly);
  assert.equal(report.tasks.find((t) => t.task === 'reflection_critique')!.skipped, 'generator has no critique');
  assert.equal(report.overall, 1);
});

test('unirl eval writes the summary and per-image JSONL with reasons', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shapeeval-'));
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => { out.push(String(chunk)); return true; }) as typeof process.stdout.write;
  try {
    const code = await evalCommand(['--suite', 'counting', '--generator', 'noise', '--limit', '5', '--json', join(dir, 's.json'), '--jsonl', join(dir, 'r.jsonl')]);
    assert.equal(code, 0);
    assert.equal(await evalCommand(['--list']), 0);
  } finally {
    process.stdout.write = write;
  }
  assert.match(out.join(''), /counting\s+5\s+20\s+0\.000/);
  assert.match(out.join(''), /geneval\s+6 tasks\s+553 items/);
  const summary = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8'));
  assert.equal(summary.overall, 0);
  const lines = readFileSync(join(dir, 'r.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 20);
  assert.equal(lines[0].correct, false);
  assert.ok(lines[0].reason.length > 0);
  await assert.rejects(evalCommand(['--suite', 'counting']), /--generator is required/);
  await assert.rejects(evalCommand(['--suite', 'counting', '--generator', 'nope']), /unknown generator "nope"/);
  rmSync(dir, { recursive: true });
});

test('the eval job reports progress over all requests and stops when cancelled', async () => {
  const seen: number[] = [];
  const report = await runSuiteJob({ suite: 'counting', generator: 'oracle', limit: 3 }, {
    progress: (p) => { seen.push(p.done); assert.equal(p.total, 12); },
    checkCancelled: () => {},
  });
  assert.equal(report.overall, 1);
  assert.equal(seen.at(-1), 12);
  await assert.rejects(runSuiteJob({ suite: 'geneval', generator: 'oracle' }, {
    progress: () => {},
    checkCancelled: () => { throw new Error('job cancelled'); },
  }), /job cancelled/);
});

test('listSuites gives every suite with its item count', () => {
  const suites = listSuites();
  assert.deepEqual(suites.map((s) => s.name), [...SUITE_NAMES]);
  assert.equal(suites.find((s) => s.name === 'geneval')!.prompts, 553);
  assert.equal(suites.find((s) => s.name === 'reflection')!.prompts, 120);
});

test('a task scores the same samples alone and inside geneval', async () => {
  const alone: string[] = [];
  const inside: string[] = [];
  await runSuite(buildSuite('position', { limit: 3 }), noiseGenerator, { onRecord: (r) => alone.push(`${r.seed} ${r.reason}`) });
  await runSuite(buildSuite('geneval', { limit: 3 }), noiseGenerator, { onRecord: (r) => { if (r.task === 'position') inside.push(`${r.seed} ${r.reason}`); } });
  assert.deepEqual(alone, inside);
});
