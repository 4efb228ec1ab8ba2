// The screens of issue 8 against a real `unirl serve` whose store was filled through the store's
// repositories: dashboard charts (and more metrics after a reload), ranking by drag with undo and the
// rows in SQLite, the virtualised rollout list and a 64-image group (timed), sample details,
// recorded evaluations beside a baseline with failures first, export read back from
// disk, and labels on every control. Screenshots go to out/screens (docs/img/screens with UNIRL_SCREENSHOTS=docs).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { openStore, resolveDataDir, type Store } from '../../db/index.ts';
import { readParquetFile } from '../../main/export/read-parquet.ts';
import { shapeWorldTokenizer } from '../../main/models/data.ts';
import { seedCheckpoint, seedEvaluation, seedGroups, seedMetrics, seedRankings, withStore, type SeededRun } from './fixtures.ts';
import { downloadAndUnzip } from './downloads.ts';
import { startHarness, unlabelledControls, type Harness } from './harness.ts';

let h: Harness;
let rankRun: SeededRun;
let trainRun: SeededRun;
let compareRunId: number;
let bigRun: SeededRun;
let bigGroupId: number;
const BIG_RUN_GROUPS = 3000;

before(async () => {
  h = await startHarness({
    prepare(dataDir) {
      withStore(dataDir, (store) => {
        rankRun = seedGroups(store, { groups: 3, groupSize: 4, seed: 11, runName: 'ranking run' });
        trainRun = seedGroups(store, { groups: 12, groupSize: 4, seed: 12, runName: 'dashboard run', trajectories: true, pending: false });
        seedMetrics(store, trainRun.runId, 20);
        seedCheckpoint(store, dataDir, trainRun.runId, 20);
        seedRankings(store, trainRun, ['ann', 'bob'], 3);
        compareRunId = store.runs.create({ name: 'compare run', scenario: 't2i', config: {} }).id;
        seedMetrics(store, compareRunId, 20, { offset: -0.1 });
        bigRun = seedGroups(store, { groups: BIG_RUN_GROUPS, groupSize: 2, seed: 13, runName: 'big run', pending: false, images: false });
        bigGroupId = seedGroups(store, {
          runId: bigRun.runId,
          groups: 1,
          groupSize: 64,
          seed: 14,
          firstStep: BIG_RUN_GROUPS + 1,
          pending: false,
        }).groupIds[0]!;
        seedEvaluation(store, { accuracy: 0.5, seed: 1 });
        seedEvaluation(store, { runId: trainRun.runId, checkpointPath: '/ckpt/step-20.safetensors', accuracy: 0.75, seed: 2 });
      });
    },
  });
});
after(async () => {
  await h?.close();
});

function readStore<T>(fn: (store: Store) => T): T {
  const store = openStore(resolveDataDir({ cliDir: h.server.dataDir }).dbPath);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

/** Waits until the locator's text matches (innerText, so what a person reads). */
async function waitForText(locator: Locator, pattern: RegExp, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await locator.innerText();
    if (pattern.test(text)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`text ${JSON.stringify(text)} never matched ${pattern}`);
}

async function chartPoints(page: Page, title: string): Promise<number> {
  return Number(await page.getByRole('figure', { name: `Chart: ${title}` }).getAttribute('data-points'));
}

test('the dashboard charts every metric family, shows values on hover, overlays a second run, and picks up new steps', async () => {
  const { page } = h;
  await h.open(`dashboard/${trainRun.runId}`, 'Dashboard');
  const titles = ['Reward per component', 'Groups with zero reward std', 'KL', 'Clip fraction', 'Losses', 'Entropy', 'Evaluation score'];
  for (const title of titles)
    await page
      .getByRole('figure', { name: `Chart: ${title}` })
      .locator('canvas')
      .waitFor();
  assert.equal(await chartPoints(page, 'Reward per component'), 20);
  assert.equal(await chartPoints(page, 'Evaluation score'), 4);

  // Hover: the legend shows the values under the cursor.
  const reward = page.getByRole('figure', { name: 'Chart: Reward per component' });
  const over = reward.locator('.u-over');
  const box = (await over.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  const legendValue = reward.locator('.u-legend .u-series').nth(1).locator('.u-value');
  await page.waitForFunction((el) => /\d/.test(el?.textContent ?? ''), await legendValue.elementHandle());

  // Compare: the other run's lines join each chart (dashed), labelled with their run.
  await page.getByText(/^Compare with/).click();
  await page.getByRole('group', { name: 'Runs to compare with' }).getByLabel(`#${compareRunId} compare run`).check();
  await reward.getByText(`#${compareRunId} reward/shapeeval`).waitFor();
  await page.getByText('pairwise agreement').waitFor();
  assert.equal(await page.getByTestId('pairwise').innerText(), '83.3%');
  await h.screenshot('dashboard', { fullPage: true });

  // More steps arrive in the store (as the trainer writes them); the dashboard shows them after a reload.
  withStore(h.server.dataDir, (store) => seedMetrics(store, trainRun.runId, 25, { firstStep: 21 }));
  await page.reload();
  await page.getByRole('figure', { name: 'Chart: Reward per component' }).locator('canvas').waitFor();
  await page.waitForFunction(
    () => document.querySelector('figure[aria-label="Chart: Reward per component"]')?.getAttribute('data-points') === '25',
  );
  assert.deepEqual(h.pageErrors, []);
});

/** Sample ids in the order the ranking screen shows them (key 1 = first). */
async function displayedSampleIds(page: Page): Promise<number[]> {
  const sources = await page
    .getByRole('list', { name: 'Samples in display order' })
    .locator('img')
    .evaluateAll((images) => images.map((img) => (img as HTMLImageElement).getAttribute('src') ?? ''));
  return sources.map((src) => Number(/\/media\/sample\/(\d+)\.png/.exec(src)?.[1]));
}

test('a group ranked by dragging (with a tie and an undo) lands in SQLite; arrows, space and synced zoom work', async () => {
  const { page } = h;
  await h.open('ranking', 'Ranking');
  await page.getByText('Group 1 of 3').waitFor();
  const group = rankRun.groupIds[0]!;
  await page.waitForFunction((n) => document.querySelectorAll('ol[aria-label="Samples in display order"] img').length === n, 4);
  const shown = await displayedSampleIds(page);
  const sample = (position: number) => page.getByRole('button', { name: new RegExp(`^Sample ${position}(,|$)`) });
  const nextBest = page.getByRole('listitem', { name: 'Drop here for the next best' });

  await sample(3).dragTo(nextBest);
  await sample(1).dragTo(nextBest);
  await sample(2).dragTo(page.getByRole('region', { name: 'Drop here to tie with rank 2' }));
  await page.getByRole('listitem', { name: 'Rank 2: sample 2' }).waitFor();
  await page.keyboard.press('u'); // undo the tie
  await page.getByRole('listitem', { name: 'Rank 2: sample 2' }).waitFor({ state: 'detached' });
  await sample(4).dragTo(page.getByRole('region', { name: 'Drop here to tie with rank 2' }));
  await page.getByRole('listitem', { name: 'Rank 2: sample 4' }).waitFor();
  await h.screenshot('ranking-drag');
  await page.getByRole('button', { name: 'Submit (Enter)' }).click();
  await page.getByText('Group 2 of 3').waitFor();

  const [saved] = readStore((store) => store.rankings.forGroup(group));
  const rankOf = new Map(saved!.ranks.map((r) => [r.sampleId, r.rank]));
  // Display positions 3 > 1 = 4 > 2.
  assert.deepEqual(
    [shown[2], shown[0], shown[3], shown[1]].map((id) => rankOf.get(id!)),
    [1, 2, 2, 4],
  );

  // Keyboard focus: arrows move over the samples, Space picks the focused one.
  await page.waitForFunction((n) => document.querySelectorAll('ol[aria-label="Samples in display order"] img').length === n, 4);
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Sample 2');
  await page.keyboard.press(' ');
  await page.getByRole('button', { name: 'Sample 2, rank 1' }).waitFor();
  const focusRing = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
  assert.equal(focusRing, 'solid', 'the focused sample shows a focus ring');

  // Enlarge with synced zoom: one scale for every image.
  await page.keyboard.press('z');
  const compare = page.getByRole('region', { name: 'Enlarged images with synced zoom' });
  await compare.waitFor();
  await page.keyboard.press('+');
  await page.keyboard.press('+');
  await compare.getByText('Zoom 1.56×').waitFor();
  const transforms = await compare.locator('img').evaluateAll((images) => images.map((img) => getComputedStyle(img).transform));
  assert.equal(transforms.length, 4);
  assert.ok(
    transforms.every((t) => t === transforms[0] && t !== 'none'),
    transforms.join(' | '),
  );
  await h.screenshot('ranking-zoom');
  await page.keyboard.press('z');
  assert.deepEqual(h.pageErrors, []);
});

test('rollouts: thousands of groups in a virtualised list, jump to a step, a 64-image group, sample details', async () => {
  const { page } = h;
  await h.open(`rollouts/${bigRun.runId}`, 'Rollouts');
  const list = page.getByRole('list', { name: 'Groups, newest step first' });
  await list.getByRole('button', { name: new RegExp(`^Step ${BIG_RUN_GROUPS + 1} ·`) }).waitFor();
  const rendered = await list.getByRole('listitem').count();
  assert.ok(rendered < 80, `only the rows in view are in the DOM (${rendered} of ${BIG_RUN_GROUPS + 1})`);
  await page.getByText(`${BIG_RUN_GROUPS + 1} groups in ${BIG_RUN_GROUPS + 1} steps`).waitFor();

  // The newest group (G = 64) opens first; time its grid from a click until all 64 cards are in the DOM.
  const grid = page.getByTestId('group-grid');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="group-grid"] figure').length === 64);
  await page.getByText(`group #${bigGroupId} · step ${BIG_RUN_GROUPS + 1} · G = 64`).waitFor();
  await list.getByRole('button', { name: new RegExp(`^Step ${BIG_RUN_GROUPS} ·`) }).click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="group-grid"] figure').length === 2);
  const gridMs = await page.evaluate(async (step) => {
    const button = [...document.querySelectorAll<HTMLButtonElement>('button.group')].find((b) =>
      b.textContent?.startsWith(`Step ${step} ·`),
    )!;
    const t0 = performance.now();
    button.click();
    while (document.querySelectorAll('[data-testid="group-grid"] figure').length !== 64) await new Promise(requestAnimationFrame);
    return performance.now() - t0;
  }, BIG_RUN_GROUPS + 1);
  const visibleLoadedMs = await page.evaluate(async () => {
    const t0 = performance.now();
    const inView = [...document.querySelectorAll<HTMLImageElement>('[data-testid="group-grid"] img')].filter(
      (img) => img.getBoundingClientRect().top < innerHeight,
    );
    await Promise.all(inView.map((img) => img.decode().catch(() => undefined)));
    return { ms: performance.now() - t0, count: inView.length };
  });
  console.log(
    `# 64-image group grid: ${gridMs.toFixed(1)} ms from click to 64 cards in the DOM (API call included); ` +
      `${visibleLoadedMs.count} images in view decoded ${visibleLoadedMs.ms.toFixed(1)} ms later (lazy loading)`,
  );
  assert.equal(await grid.locator('figure').count(), 64);
  const lazy = await grid.locator('img').evaluateAll((images) => images.every((img) => (img as HTMLImageElement).loading === 'lazy'));
  assert.ok(lazy, 'group images load lazily');

  // Jump to a step far down the list.
  await page.getByLabel('Jump to step').fill('1500');
  await page.getByLabel('Jump to step').press('Enter');
  await list.getByRole('button', { name: /^Step 1500 ·/ }).waitFor();
  await list.getByRole('button', { name: /^Step 1500 ·/ }).click();
  await page.getByText(/step 1500 · G = 2/).waitFor();
  assert.ok((await list.getByRole('listitem').count()) < 80);
  await h.screenshot('rollouts-virtual');

  // Sample details: LM tokens shaded by log-prob, the denoising filmstrip, the seed.
  await h.open(`rollouts/${trainRun.runId}`, 'Rollouts');
  await page.getByRole('button', { name: 'Details of sample 1' }).click();
  const details = page.getByRole('region', { name: 'Sample details' });
  const tokens = details.getByRole('list', { name: 'LM tokens shaded by log-probability' }).getByRole('listitem');
  await tokens.first().waitFor();
  assert.ok((await tokens.count()) >= 6);
  // Each token reads as its word in the run's tokenizer (from the run's checkpoint); the id is in the tooltip.
  const shown = await tokens.evaluateAll((items) => items.map((li) => ({ text: li.textContent.trim(), title: li.getAttribute('title')! })));
  const vocab = shapeWorldTokenizer();
  for (const { text, title } of shown) {
    const id = Number(/^token (\d+) ·/.exec(title)?.[1]);
    assert.equal(text, vocab.decode([id]), `token ${id} shows its word`);
  }
  assert.ok(
    shown.some(({ text }) => /^[a-z]+$/.test(text)),
    shown.map((t) => t.text).join(' '),
  );
  await details.getByText(/Tokens as words/).waitFor();
  const strip = details.getByRole('list', { name: /Denoising filmstrip/ });
  assert.equal(await strip.locator('canvas').count(), 7);
  // The last frame is the clean image: not blank, not uniform.
  const spread = await strip
    .locator('canvas')
    .last()
    .evaluate((canvas: HTMLCanvasElement) => {
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      if (data[3] !== 255) return -1; // never drawn
      let spread = 0;
      for (let c = 0; c < 3; c++) {
        let min = 255;
        let max = 0;
        for (let i = c; i < data.length; i += 4) {
          min = Math.min(min, data[i]!);
          max = Math.max(max, data[i]!);
        }
        spread = Math.max(spread, max - min);
      }
      return spread;
    });
  assert.ok(spread > 50, `the final frame has contrast (${spread})`);
  assert.match(await details.innerText(), /Seed\s+13200/);
  await h.screenshot('rollout-details', { fullPage: true });

  // A group ranked by two annotators shows how much they agree.
  await page.getByLabel('Jump to step').fill('1');
  await page.getByLabel('Jump to step').press('Enter');
  await page
    .getByRole('list', { name: 'Groups, newest step first' })
    .getByRole('button', { name: /^Step 1 ·/ })
    .click();
  await page.getByText('2 ranking(s) · annotators agree on 83.3% of pairs, α 0.825').waitFor();
  assert.deepEqual(h.pageErrors, []);
});

test('evaluations: per-task table beside the base model, failures first with reasons, and a new run recorded', async () => {
  const { page } = h;
  await h.open('evaluation', 'Evaluation');
  const table = page.getByRole('table', { name: 'Per-task accuracy beside the baseline' });
  const single = table.getByRole('row').filter({ hasText: 'single_object' });
  await single.waitFor();
  assert.match(await single.innerText(), /75\.0%\s+50\.0%\s+\+25\.0/);
  const examples = page.getByRole('region', { name: 'Examples of single_object' });
  await examples.getByRole('listitem').first().waitFor();
  const items = await examples.getByRole('listitem').allInnerTexts();
  assert.match(items[0]!, /wrong[\s\S]*expected 1 \w+ \w+, found 0/);
  assert.match(items[items.length - 1]!, /correct/);
  await page.waitForFunction(() =>
    [...document.querySelectorAll('section[aria-label^="Examples of"] img')].every(
      (img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth === 32,
    ),
  );
  await h.screenshot('evaluation-records', { fullPage: true });

  await page.getByLabel('Generator').selectOption('oracle');
  await page.getByLabel('Prompts (limit)').fill('2');
  await page.getByRole('button', { name: 'Start evaluation' }).click();
  const job = page.getByRole('listitem', { name: /^Evaluation .+ with oracle$/ });
  await job.getByText(/^(succeeded|failed|cancelled)$/).waitFor({ timeout: 60_000 });
  const recorded = readStore((store) => store.evaluations.list()[0]!);
  assert.equal(recorded.status, 'completed');
  assert.equal(recorded.summary?.generator, 'oracle');
  await waitForText(page.getByLabel('Evaluation to show'), /#\d+ geneval · oracle/);
  assert.deepEqual(h.pageErrors, []);
});

test('export from the Runs page downloads a zip whose rows read back, the tie made by drag among them', async () => {
  const { page } = h;
  await h.open(`runs/${rankRun.runId}`, 'Runs');
  await page.getByLabel('Export format').selectOption('all');
  const { name, dir } = await downloadAndUnzip(page, h.server.dataDir, () =>
    page.getByRole('button', { name: 'Export', exact: true }).click(),
  );
  const out = join(dir, name.replace(/\.zip$/, ''));
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  assert.equal(manifest.run.id, rankRun.runId);
  const rankings = readFileSync(join(out, 'rankings.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.equal(rankings.length, 1, 'the ranking made by drag');
  assert.deepEqual(rankings[0].ranks.map((r: { rank: number }) => r.rank).sort(), [1, 2, 2, 4]);
  assert.ok(existsSync(join(out, rankings[0].ranks[0].image)));
  const pickapic = readParquetFile(join(out, 'pickapic.parquet')).rows;
  assert.equal(pickapic.length, 6);
  assert.equal(pickapic.filter((r) => r.label_0 === 0.5).length, 1, 'the tie');
  await page
    .getByRole('status', { name: 'Export result' })
    .getByRole('link', { name: /^Download / })
    .waitFor();
  await h.screenshot('runs-export');
  assert.deepEqual(h.pageErrors, []);
});

test('every control on the new screens has a label, in light and dark', async () => {
  const { page } = h;
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const [route, heading] of [
      [`dashboard/${trainRun.runId}`, 'Dashboard'],
      ['ranking', 'Ranking'],
      [`rollouts/${trainRun.runId}`, 'Rollouts'],
      ['evaluation', 'Evaluation'],
      [`runs/${rankRun.runId}`, 'Runs'],
    ] as const) {
      await h.open(route, heading);
      await page.waitForTimeout(150);
      assert.deepEqual(await unlabelledControls(page), [], `${route} (${scheme})`);
    }
  }
  await h.open(`dashboard/${trainRun.runId}`, 'Dashboard');
  await page.getByRole('figure', { name: 'Chart: Reward per component' }).locator('canvas').waitFor();
  await h.screenshot('dashboard-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  assert.deepEqual(h.pageErrors, []);
});
