/**
 * People in the loop through the real UI (issue 14): `unirl serve` and Chromium, as in the browser tests.
 * The Runs form creates a sync text-to-image run on the shipped base model with feedback's default
 * weights; a scripted annotator on the Ranking screen ranks every group it is shown by a hidden criterion
 * (the total area of the objects, world/criteria.ts 'larger', read from each image as the screen shows it)
 * and types the order with the keyboard. After --groups ranked groups the run is stopped from the Runs
 * screen, and the base and the final weights are evaluated on GenEval prompts with the criterion:
 * its ratio to the base and ShapeEval's change. Not a test: prints and writes JSON.
 *
 *   npm run bench:hitl -- [--groups 40] [--fraction 0.25] [--lr 3e-5] [--limit 16] [--threads 1] [--json out.json]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createModelGenerator, DEFAULT_CHECKPOINT } from '../main/models/generator.ts';
import { runSuite, type SampleRecord } from '../main/world/benchmark.ts';
import { CRITERIA } from '../main/world/criteria.ts';
import { pairedComparison } from '../main/world/paired.ts';
import { decodePng } from '../main/world/png.ts';
import { buildSuite } from '../main/world/suites.ts';
import { withStore } from '../tests/browser/fixtures.ts';
import { startHarness } from '../tests/browser/harness.ts';

const { values: flags } = parseArgs({
  options: {
    groups: { type: 'string', default: '40' },
    fraction: { type: 'string', default: '0.25' },
    lr: { type: 'string', default: '3e-5' },
    limit: { type: 'string', default: '16' },
    threads: { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});
const groups = Number(flags.groups);
if (!Number.isInteger(groups) || groups < 1 || groups > 100) throw new Error(`--groups must be an integer in 1..100, got ${flags.groups}`);
const fraction = Number(flags.fraction);
const promptsPerStep = 4;
const rankedPerStep = Math.round(fraction * promptsPerStep);
if (rankedPerStep < 1) throw new Error(`--fraction ${fraction} sends no group of ${promptsPerStep} to people`);
const steps = Math.ceil(groups / rankedPerStep);
const threads = Number(flags.threads);
const limit = Number(flags.limit);

/** The suite's score and the criterion's mean, and each image's record for the paired comparison. */
async function evaluate(checkpoint: string): Promise<{ shapeEval: number; criterion: number; records: SampleRecord[] }> {
  const generator = await createModelGenerator({ checkpoint, threads });
  try {
    const records: SampleRecord[] = [];
    const report = await runSuite(buildSuite('geneval', { limit }), generator, {
      criterion: 'larger',
      onRecord: (record) => records.push(record),
    });
    return { shapeEval: report.overall, criterion: report.criterion!.mean, records };
  } finally {
    await generator.dispose?.();
  }
}

/** After against before on the same prompts and seeds, the standard error clustered by prompt (main/world/paired.ts). */
function paired(before: SampleRecord[], after: SampleRecord[], value: (r: SampleRecord) => number) {
  const byKey = new Map(after.map((r) => [`${r.item}#${r.sample}`, r]));
  const { difference, standardError } = pairedComparison(
    before.map((b) => ({ item: b.item, before: value(b), after: value(byKey.get(`${b.item}#${b.sample}`)!) })),
  );
  return { difference, standardError };
}

const started = Date.now();
const h = await startHarness();
const { page } = h;
const dataDir = h.server.dataDir;
let ranked = 0;
let typed = 0;
/** Groups whose typed answer was not stored by the time the screen moved on (or 5 s passed). */
const notTaken: number[] = [];
let runId = 0;
try {
  // The experimenter's part: the form.
  await h.open('runs', 'Runs');
  await page.getByLabel('Run name').fill('hitl bench: larger objects');
  await page.getByLabel('Scenario').selectOption('t2i');
  await page.getByLabel('Model').selectOption('base');
  await page.getByLabel('Human feedback').selectOption('sync');
  await page.getByLabel('Steps', { exact: true }).fill(String(steps + 5));
  await page.getByLabel('Prompts per step').fill(String(promptsPerStep));
  await page.getByLabel('DM learning rate').fill(flags.lr);
  await page.getByLabel('Evaluate every (steps, 0 = never)').fill('0');
  await page.getByLabel('Share of groups sent to people').fill(String(fraction));
  await page.getByLabel('Threads (0 = one per core)').fill(String(threads));
  await page.getByRole('button', { name: 'Create run' }).click();
  const row = page.getByRole('row').filter({ hasText: 'hitl bench' });
  await row.waitFor();
  runId = Number((await row.getByRole('cell').first().innerText()).trim());
  const config = withStore(dataDir, (s) => s.runs.get(runId).config) as { rewards: Record<string, number> };
  await h.open(`runs/${runId}`, 'Runs');
  await page.getByRole('button', { name: 'Start' }).click();

  // The annotator's part: the Ranking screen, by keyboard, ordered by the hidden criterion.
  await h.open('ranking', 'Ranking');
  const grid = page.getByRole('list', { name: 'Samples in display order' });
  // Counted from the store: an answer the screen did not take is typed again, and the gap is reported.
  const storedRankings = () =>
    withStore(dataDir, (s) => (s.db.prepare('SELECT count(*) AS n FROM rankings WHERE skipped = 0').get() as { n: number }).n);
  while ((ranked = storedRankings()) < groups) {
    if (!(await grid.isVisible().catch(() => false))) {
      const status = withStore(dataDir, (s) => s.runs.get(runId).status);
      if (status !== 'running' && status !== 'created') throw new Error(`run ${runId} is ${status} after ${ranked} ranked groups`);
      await page.waitForTimeout(200);
      continue;
    }
    const prompt = await page.getByRole('region', { name: 'Prompt' }).innerText();
    const ids = await grid
      .locator('img')
      .evaluateAll((imgs) => imgs.map((img) => Number(/\/media\/sample\/(\d+)\.png/.exec((img as HTMLImageElement).src)?.[1])));
    // Between two groups the screen can show a group's header before its images: look again.
    if (ids.length === 0) {
      await page.waitForTimeout(100);
      continue;
    }
    const groupId = withStore(dataDir, (s) => s.samples.get(ids[0]!).groupId);
    const area = withStore(dataDir, (s) => ids.map((id) => CRITERIA.larger(decodePng(s.samples.imagePng(id)!))));
    const order = ids.map((_, i) => i).sort((a, b) => area[b]! - area[a]!);
    for (const position of order.slice(0, -1)) await page.keyboard.press(String(position + 1));
    await page.keyboard.press('Enter');
    typed++;
    for (
      let i = 0;
      i < 50 &&
      (await page
        .getByRole('region', { name: 'Prompt' })
        .innerText()
        .catch(() => '')) === prompt;
      i++
    )
      await page.waitForTimeout(100);
    if (withStore(dataDir, (s) => s.rankings.forGroup(groupId).length) === 0) notTaken.push(groupId);
  }

  await h.open(`runs/${runId}`, 'Runs');
  await page.getByRole('button', { name: 'Stop' }).click();
  for (let i = 0; withStore(dataDir, (s) => s.runs.get(runId).status) === 'running'; i++) {
    if (i > 600) throw new Error('the run did not stop');
    await page.waitForTimeout(500);
  }
  const trainSeconds = (Date.now() - started) / 1000;
  const { checkpoint, step, stored } = withStore(dataDir, (s) => {
    const rankings = s.db.prepare(`SELECT count(*) AS n FROM rankings WHERE skipped = 0`).get() as { n: number };
    return { checkpoint: s.checkpoints.latest(runId)!.path, step: s.runs.get(runId).step, stored: rankings.n };
  });
  const { records: baseRecords, ...base } = await evaluate(DEFAULT_CHECKPOINT);
  const { records: afterRecords, ...after } = await evaluate(checkpoint);
  const result = {
    command: `npm run bench:hitl -- --groups ${groups} --fraction ${fraction} --lr ${flags.lr} --limit ${limit} --threads ${threads}`,
    rankedGroups: stored,
    typedAnswers: typed,
    answersNotTaken: notTaken,
    steps: step,
    rewards: config.rewards,
    trainSeconds,
    eval: { suite: 'geneval', limitPerTask: limit, criterion: 'larger (object area)' },
    base,
    after,
    criterionRatio: after.criterion / base.criterion,
    shapeEvalChange: after.shapeEval - base.shapeEval,
    paired: {
      criterion: paired(baseRecords, afterRecords, (r) => r.criterion!),
      correct: paired(baseRecords, afterRecords, (r) => Number(r.correct)),
    },
    seconds: (Date.now() - started) / 1000,
  };
  console.log(JSON.stringify(result, null, 2));
  if (flags.json) writeFileSync(flags.json, JSON.stringify(result, null, 2) + '\n');
} finally {
  await h.close();
}
