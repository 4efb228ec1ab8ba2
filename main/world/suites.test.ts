import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evalCommand } from '../cli/eval.ts';
import { formatReport, runSuite } from './benchmark.ts';
import { CRITERIA } from './criteria.ts';
import { noiseGenerator, oracleGenerator, type Generator, type ReflectRequest, type ReflectResult } from './generators.ts';
import { noiseImage } from './image.ts';
import { parsePrompt } from './prompts.ts';
import { CORRECT_CRITIQUE } from './reflection.ts';
import { Rng } from './rng.ts';
import { runSuiteJob } from './jobs.ts';
import { renderScene } from './render.ts';
import {
  buildSuite,
  GENEVAL_SIZES,
  listSuites,
  REFINE_PROMPTS_PER_TASK,
  REFINE_ROUNDS,
  SUITE_NAMES,
  type RewriteItem,
  type TextToImageItem,
} from './suites.ts';

test('suites are fixed by their seed and GenEval-sized', () => {
  const a = buildSuite('geneval');
  assert.deepEqual(a, buildSuite('geneval'));
  assert.notDeepEqual(a.tasks[0]!.items, buildSuite('geneval', { seed: 1 }).tasks[0]!.items);
  assert.deepEqual(
    a.tasks.map((t) => t.items.length),
    Object.values(GENEVAL_SIZES),
  );
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
  for (const name of ['vague', 'rewrite', 'edit', 'question', 'reflection', 'refine']) {
    const suite = buildSuite(name, { limit: 10 });
    const oracle = await runSuite(suite, oracleGenerator);
    assert.ok(oracle.overall >= 0.99, `${name}: oracle ${oracle.overall}`);
    const noise = await runSuite(suite, noiseGenerator);
    for (const t of noise.tasks.filter((t) => t.kind === 'text_to_image' || t.kind === 'edit' || t.kind === 'reflect'))
      assert.equal(t.accuracy, 0, `${name}/${t.task}: noise ${t.accuracy}`);
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
  process.stdout.write = ((chunk: string) => {
    out.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    const code = await evalCommand([
      '--suite',
      'counting',
      '--generator',
      'noise',
      '--limit',
      '5',
      '--json',
      join(dir, 's.json'),
      '--jsonl',
      join(dir, 'r.jsonl'),
    ]);
    assert.equal(code, 0);
    assert.equal(await evalCommand(['--list']), 0);
    assert.equal(
      await evalCommand([
        '--suite',
        'counting',
        '--generator',
        'oracle',
        '--limit',
        '2',
        '--criterion',
        'larger',
        '--json',
        join(dir, 'c.json'),
      ]),
      0,
    );
    assert.equal(await evalCommand(['--suite', 'rewrite', '--generator', 'oracle', '--limit', '2']), 0);
    assert.equal(await evalCommand(['--suite', 'refine', '--generator', 'oracle', '--limit', '2', '--json', join(dir, 'refine.json')]), 0);
    assert.equal(
      await evalCommand(['--suite', 'edit', '--generator', 'oracle', '--limit', '2', '--no-cycle', '--json', join(dir, 'nocycle.json')]),
      0,
    );
  } finally {
    process.stdout.write = write;
  }
  assert.match(out.join(''), /counting\s+5\s+20\s+0\.000/);
  assert.match(out.join(''), /geneval\s+6 tasks\s+553 items/);
  assert.match(out.join(''), /rewrite\s+4 tasks\s+100 items/);
  assert.match(out.join(''), /rewrite_relation\s+2\s+2\s+1\.000/);
  assert.match(out.join(''), /refine\s+6 tasks\s+120 items/);
  assert.match(out.join(''), /first\s+corrected\s+broken\s+agree\s+rounds\n/);
  assert.match(out.join(''), /refine_counting\s+2\s+4\s+1\.000\s+1\.000\s+1\.000\s+n\/a\s+0\.000\s+1\.000\s+1\.00\n/);
  const refine = JSON.parse(readFileSync(join(dir, 'refine.json'), 'utf8'));
  assert.deepEqual(refine.reflection, { firstAccuracy: 1, corrected: null, broken: 0, critiqueAgreement: 1, meanRounds: 1 });
  const noCycle = JSON.parse(readFileSync(join(dir, 'nocycle.json'), 'utf8'));
  assert.equal(noCycle.cycle, undefined);
  assert.ok(noCycle.tasks.every((t: { cycle?: number }) => t.cycle === undefined));
  const withCriterion = JSON.parse(readFileSync(join(dir, 'c.json'), 'utf8'));
  assert.equal(withCriterion.criterion.name, 'larger');
  assert.ok(withCriterion.tasks[0].criterion > 0);
  const summary = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8'));
  assert.equal(summary.overall, 0);
  const lines = readFileSync(join(dir, 'r.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 20);
  assert.equal(lines[0].correct, false);
  assert.ok(lines[0].reason.length > 0);
  await assert.rejects(evalCommand(['--suite', 'counting']), /--generator is required/);
  await assert.rejects(evalCommand(['--suite', 'counting', '--generator', 'nope']), /unknown generator "nope"/);
  await assert.rejects(
    evalCommand(['--suite', 'counting', '--generator', 'oracle', '--criterion', 'bluer']),
    /--criterion must be one of larger, greener/,
  );
  await assert.rejects(evalCommand(['--suite', 'question', '--generator', 'oracle', '--criterion', 'larger']), /generates none/);
  rmSync(dir, { recursive: true });
});

test('the eval job reports progress over all requests and stops when cancelled', async () => {
  const seen: number[] = [];
  const report = await runSuiteJob(
    { suite: 'counting', generator: 'oracle', limit: 3 },
    {
      progress: (p) => {
        seen.push(p.done);
        assert.equal(p.total, 12);
      },
      checkCancelled: () => {},
    },
  );
  assert.equal(report.overall, 1);
  assert.equal(seen.at(-1), 12);
  await assert.rejects(
    runSuiteJob(
      { suite: 'geneval', generator: 'oracle' },
      {
        progress: () => {},
        checkCancelled: () => {
          throw new Error('job cancelled');
        },
      },
    ),
    /job cancelled/,
  );
});

test('listSuites gives every suite with its item count', () => {
  const suites = listSuites();
  assert.deepEqual(
    suites.map((s) => s.name),
    [...SUITE_NAMES],
  );
  assert.equal(suites.find((s) => s.name === 'geneval')!.prompts, 553);
  assert.equal(suites.find((s) => s.name === 'reflection')!.prompts, 120);
  assert.equal(suites.find((s) => s.name === 'rewrite')!.prompts, 100);
  assert.equal(suites.find((s) => s.name === 'refine')!.prompts, 120);
  assert.deepEqual(SUITE_NAMES, [
    'geneval',
    'single_object',
    'two_object',
    'counting',
    'colors',
    'position',
    'color_attr',
    'vague',
    'rewrite',
    'rewrite-hard',
    'edit',
    'question',
    'reflection',
    'refine',
  ]);
  assert.equal(suites.find((s) => s.name === 'rewrite-hard')!.prompts, 120);
});

test('a task scores the same samples alone and inside geneval', async () => {
  const alone: string[] = [];
  const inside: string[] = [];
  await runSuite(buildSuite('position', { limit: 3 }), noiseGenerator, { onRecord: (r) => alone.push(`${r.seed} ${r.reason}`) });
  await runSuite(buildSuite('geneval', { limit: 3 }), noiseGenerator, {
    onRecord: (r) => {
      if (r.task === 'position') inside.push(`${r.seed} ${r.reason}`);
    },
  });
  assert.deepEqual(alone, inside);
});

test("rewrite: the vague prompts answered in text, scored by the RL text reward's check", async () => {
  const rewrite = buildSuite('rewrite');
  const vague = buildSuite('vague');
  assert.deepEqual(
    rewrite.tasks.map((t) => t.name),
    ['rewrite_object', 'rewrite_colored_object', 'rewrite_count', 'rewrite_relation'],
  );
  rewrite.tasks.forEach((t, k) => {
    assert.equal(t.kind, 'rewrite');
    assert.equal(t.items.length, 25);
    // Same prompts, in the same order, as the vague suite.
    assert.deepEqual(
      t.items.map((i) => (i as RewriteItem).prompt),
      vague.tasks[k]!.items.map((i) => (i as { prompt: string }).prompt),
    );
  });
  const oracle = await runSuite(buildSuite('rewrite', { limit: 5 }), oracleGenerator);
  assert.equal(oracle.overall, 1);
  assert.deepEqual(
    oracle.tasks.map((t) => t.samples),
    [5, 5, 5, 5],
    'one answer per item',
  );
  assert.ok(oracle.meanWords! > 1, `oracle words ${oracle.meanWords}`);
  assert.match(formatReport(oracle), /rewrite_count\s+5\s+5\s+1\.000\s+1\.000\s+\d+\.\d\n/);
  const noise = await runSuite(buildSuite('rewrite', { limit: 10 }), noiseGenerator);
  assert.ok(noise.overall <= 0.1, `noise overall ${noise.overall}`);

  // A hand-made right and wrong answer, in the LM's reasoning format and bare.
  const item =
    (rewrite.tasks[0]!.items.find((i) => (i as RewriteItem).prompt === 'a shape with three corners') as RewriteItem | undefined) ??
    ({
      id: 'x',
      prompt: 'a shape with three corners',
      spec: { task: 'vague', allowOthers: false, include: [{ shapes: ['triangle'], count: 1 }], exclude: [] },
      reference: 'a triangle',
    } as RewriteItem);
  const suite = { ...rewrite, tasks: [{ name: 'rewrite_object', kind: 'rewrite' as const, items: [item, item, item, item] }] };
  const answers = [
    'a shape with three corners is a triangle . </think> <answer> a blue triangle </answer>',
    'a shape with three corners is a square . </think> <answer> a blue square </answer>',
    'a green triangle',
    'triangle triangle blue',
  ];
  const handMade: Generator = { name: 'hand', rewrite: async () => answers };
  const seen: boolean[] = [];
  const report = await runSuite(suite, handMade, {
    onRecord: (r, image) => {
      seen.push(r.correct);
      assert.equal(image, undefined);
    },
  });
  assert.deepEqual(seen, [true, false, true, false]);
  assert.equal(report.tasks[0]!.meanWords, (12 + 12 + 3 + 3) / 4, 'the period counts as a word');
});

test('--criterion: the mean hidden-criterion score of the generated images, per task and overall', async () => {
  const black = { width: 32, height: 32, data: new Float32Array(32 * 32 * 3) };
  assert.equal(CRITERIA.larger(black), 0);
  assert.equal(CRITERIA.greener(black), 0);
  const suite = buildSuite('geneval', { limit: 2, samplesPerItem: 2 });
  const a = await runSuite(suite, oracleGenerator, { criterion: 'larger' });
  const b = await runSuite(suite, oracleGenerator, { criterion: 'larger' });
  assert.equal(a.criterion!.name, 'larger');
  assert.equal(a.criterion!.images, 24);
  assert.equal(a.criterion!.mean, b.criterion!.mean, 'oracle renders are deterministic');
  assert.ok(a.criterion!.mean > 0.01 && a.criterion!.mean < 0.5, `mean area ${a.criterion!.mean}`);
  const perTask = a.tasks.map((t) => t.criterion!);
  assert.ok(
    Math.abs(perTask.reduce((s, v) => s + v, 0) / perTask.length - a.criterion!.mean) < 1e-12,
    'equal-sized tasks: mean of the task means',
  );
  assert.ok(
    a.tasks.find((t) => t.task === 'counting')!.criterion! > a.tasks.find((t) => t.task === 'single_object')!.criterion!,
    'more objects, more area',
  );
  assert.match(formatReport(a), /larger[\s\S]*overall\s+1\.000\s+0\.\d{4}/);
  // A generator of black images scores 0; images it was shown (questions) are not counted.
  const blackGen: Generator = {
    name: 'black',
    textToImage: async (rs) => rs.map((r) => ({ width: r.width, height: r.height, data: new Float32Array(r.width * r.height * 3) })),
  };
  const dark = await runSuite(buildSuite('single_object', { limit: 3 }), blackGen, { criterion: 'larger' });
  assert.equal(dark.criterion!.mean, 0);
  const questions = await runSuite(buildSuite('question', { limit: 2 }), oracleGenerator, { criterion: 'greener' });
  assert.equal(questions.criterion!.images, 0);
  assert.equal(questions.tasks[0]!.criterion, undefined);
  assert.equal(
    a.tasks.every((t) => t.criterion !== undefined),
    true,
  );
  assert.ok(
    CRITERIA.greener(renderScene({ background: 'grey', objects: [{ shape: 'square', color: 'green', size: 0.3, x: 0.5, y: 0.5 }] })) > 0,
  );
});

test('edit: the cycle score edits each result back with the inverse instruction', async () => {
  const suite = buildSuite('edit', { limit: 2, samplesPerItem: 2 });
  const totals: number[] = [];
  const oracle = await runSuite(suite, oracleGenerator, { onProgress: (_d, total) => totals.push(total) });
  assert.equal(totals[0], 5 * 2 * 2 * 2, 'an edit and its way back per sample');
  assert.equal(oracle.cycle, 1);
  assert.ok(oracle.tasks.every((t) => t.cycle === 1));
  const without = await runSuite(suite, oracleGenerator, { cycle: false });
  assert.deepEqual(
    without.tasks.map((t) => [t.accuracy, t.meanReward]),
    oracle.tasks.map((t) => [t.accuracy, t.meanReward]),
    'compliance and preservation unchanged',
  );
  assert.equal(without.cycle, undefined);
  assert.doesNotMatch(formatReport(without), /cycle/);
  assert.match(formatReport(oracle), /edit_add\s+2\s+4\s+1\.000\s+1\.000\s+1\.000\n/);
  // The way back is asked with the inverse instruction and seeded apart from the forward edit.
  const asked: { instruction: string; seed: number }[] = [];
  const spy: Generator = {
    name: 'spy',
    edit: async (rs) => {
      asked.push(...rs.map((r) => ({ instruction: r.instruction, seed: r.seed })));
      return rs.map((r) => r.source);
    },
  };
  const one = buildSuite('edit', { limit: 1, samplesPerItem: 1 });
  const identity = await runSuite(one, spy);
  const edits = one.tasks.map((t) => (t.items[0] as { edit: { instruction: string; inverse: string } }).edit);
  assert.deepEqual(
    asked.map((a) => a.instruction),
    edits.flatMap((e) => [e.instruction, e.inverse]),
  );
  assert.ok(asked.every((a, i) => i % 2 === 0 || a.seed !== asked[i - 1]!.seed));
  assert.equal(identity.cycle, 1, 'an unchanged image comes back unchanged');
  const noise = await runSuite(suite, noiseGenerator);
  assert.ok(noise.cycle! < 0.1, `noise cycle ${noise.cycle}`);
});

test('refine: GenEval prompts with their single-shot seeds, up to K critique -> refine rounds', async () => {
  const suite = buildSuite('refine');
  const geneval = buildSuite('geneval');
  assert.equal(suite.samplesPerItem, 2);
  assert.deepEqual(
    suite.tasks.map((t) => t.name),
    geneval.tasks.map((t) => `refine_${t.name}`),
  );
  suite.tasks.forEach((t, k) => {
    assert.equal(t.kind, 'reflect');
    if (t.kind !== 'reflect') return;
    assert.equal(t.rounds, REFINE_ROUNDS);
    assert.equal(t.items.length, REFINE_PROMPTS_PER_TASK);
    assert.deepEqual(
      t.items.map((i) => i.prompt),
      geneval.tasks[k]!.items.slice(0, REFINE_PROMPTS_PER_TASK).map((i) => (i as TextToImageItem).prompt),
    );
  });
  // The first image of a cycle is the task's single-shot image: same seed.
  const firstSeeds: number[] = [];
  const shotSeeds: number[] = [];
  await runSuite(buildSuite('refine', { limit: 2 }), noiseGenerator, {
    onRecord: (r) => {
      if (r.task === 'refine_colors') firstSeeds.push(r.seed);
    },
  });
  await runSuite(buildSuite('colors', { limit: 2, samplesPerItem: 2 }), noiseGenerator, { onRecord: (r) => shotSeeds.push(r.seed) });
  assert.deepEqual(firstSeeds, shotSeeds);

  const oracle = await runSuite(buildSuite('refine', { limit: 3 }), oracleGenerator);
  assert.equal(oracle.overall, 1);
  for (const t of oracle.tasks)
    assert.deepEqual([t.firstAccuracy, t.corrected, t.broken, t.critiqueAgreement, t.meanRounds], [1, null, 0, 1, 1]);
  const noise = await runSuite(buildSuite('refine', { limit: 3 }), noiseGenerator);
  assert.equal(noise.reflection!.firstAccuracy, 0);
  assert.equal(noise.reflection!.broken, null);
  assert.ok(noise.reflection!.meanRounds >= 1 && noise.reflection!.meanRounds <= REFINE_ROUNDS);
});

test('refine: hand-made cycles score as corrected, broken, and critiques as agreeing or not', async () => {
  const prompt = 'a photo of a red circle';
  const spec = parsePrompt(prompt);
  const item = { id: 'refine_colors-0', prompt, spec };
  const suite = {
    ...buildSuite('refine'),
    samplesPerItem: 1,
    tasks: [{ name: 'refine_colors', kind: 'reflect' as const, items: [item, item, item, item], rounds: 2, seedTask: 'colors' }],
  };
  const right = (r: ReflectRequest) => oracleGenerator.textToImage!([{ ...r, truth: spec }]).then(([image]) => image!);
  const wrong = (r: ReflectRequest) => noiseImage(r.width, r.height, new Rng(r.seed));
  const cycles = async (rs: ReflectRequest[]): Promise<ReflectResult[]> => [
    // Round 1: the image is wrong and the critique says so; the refinement is right and round 2 says it matches: corrected.
    {
      images: [wrong(rs[0]!), await right(rs[0]!)],
      rounds: [
        { critique: 'there is no red circle', verdict: 'wrong', fix: 'add a red circle' },
        { critique: CORRECT_CRITIQUE, verdict: 'correct' },
      ],
    },
    // "Matches" on a wrong image: the cycle ends wrong, and the critique disagrees with ShapeEval.
    { images: [wrong(rs[1]!)], rounds: [{ critique: CORRECT_CRITIQUE, verdict: 'correct' }] },
    // A right image called wrong and refined into a wrong one: broken; then K rounds used up.
    {
      images: [await right(rs[2]!), wrong(rs[2]!), wrong(rs[2]!)],
      rounds: [
        { critique: 'the circle is blue', verdict: 'wrong', fix: 'make it red' },
        { critique: 'still wrong', verdict: 'wrong', fix: 'make it red' },
      ],
    },
    // A right image the critique accepts.
    { images: [await right(rs[3]!)], rounds: [{ critique: CORRECT_CRITIQUE, verdict: 'correct' }] },
  ];
  const records: { correct: boolean; agrees: boolean[] }[] = [];
  const report = await runSuite(
    suite,
    { name: 'hand', reflect: cycles },
    { onRecord: (r) => records.push({ correct: r.correct, agrees: r.reflection!.rounds.map((x) => x.agrees) }) },
  );
  assert.deepEqual(records, [
    { correct: true, agrees: [true, true] },
    { correct: false, agrees: [false] },
    { correct: false, agrees: [false, true] },
    { correct: true, agrees: [true] },
  ]);
  const t = report.tasks[0]!;
  assert.equal(t.accuracy, 0.5);
  assert.equal(t.firstAccuracy, 0.5);
  assert.equal(t.corrected, 0.5, 'one of the two wrong first images ends right');
  assert.equal(t.broken, 0.5, 'one of the two right first images ends wrong');
  assert.equal(t.critiqueAgreement, 4 / 6);
  assert.equal(t.meanRounds, 6 / 4);
  assert.match(formatReport(report), /refine_colors\s+4\s+4\s+0\.500\s+\d\.\d{3}\s+0\.500\s+0\.500\s+0\.500\s+0\.667\s+1\.50\n/);

  // A cycle that goes on after 'correct', or lacks a refinement, is the generator's bug.
  const one = { ...suite, tasks: [{ ...suite.tasks[0]!, items: [item] }] };
  const r0: ReflectRequest = { prompt, seed: 1, width: 32, height: 32, rounds: 2 };
  await assert.rejects(
    runSuite(one, { name: 'bad', reflect: async () => [{ images: [wrong(r0)], rounds: [{ critique: 'x', verdict: 'wrong' }] }] }),
    /1 images for 1 'wrong' verdicts/,
  );
  await assert.rejects(
    runSuite(one, {
      name: 'bad',
      reflect: async () => [
        {
          images: [wrong(r0)],
          rounds: [
            { critique: 'ok', verdict: 'correct' },
            { critique: 'ok', verdict: 'correct' },
          ],
        },
      ],
    }),
    /says correct but the cycle goes on/,
  );
  await assert.rejects(
    runSuite(one, {
      name: 'bad',
      reflect: async () => [
        {
          images: [wrong(r0), wrong(r0), wrong(r0), wrong(r0)],
          rounds: ['a', 'b', 'c'].map((c) => ({ critique: c, verdict: 'wrong' as const })),
        },
      ],
    }),
    /3 rounds, at most 2/,
  );
});
