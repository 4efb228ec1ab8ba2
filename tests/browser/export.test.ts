// Exports and the cluster hand-off in the browser, on a real nano run (a scripted annotator ranked its
// groups): the Export screen downloads a zip whose Parquet rows hold the images' bytes, and a cluster's
// rollout dump imported with `unirl import` is ranked on the Ranking screen.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { encodePng, openStore, resolveDataDir } from '../../db/index.ts';
import { readParquetFile } from '../../main/export/read-parquet.ts';
import { toUint8 } from '../../main/world/image.ts';
import { parsePrompt, sampleSceneForSpec } from '../../main/world/prompts.ts';
import { renderScene } from '../../main/world/render.ts';
import { Rng } from '../../main/world/rng.ts';
import type { PromptSpec } from '../../main/world/spec.ts';
import { downloadAndUnzip } from './downloads.ts';
import { repoRoot, screenshotDir, startHarness, type Harness } from './harness.ts';

let h: Harness;
let work: string;

function unirl(args: string[]): string {
  const run = spawnSync(process.execPath, [join(repoRoot, 'bin', 'unirl.js'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (run.status !== 0) throw new Error(`unirl ${args.join(' ')} failed:\n${run.stdout}${run.stderr}`);
  return run.stdout;
}

/**
 * A cluster's verl dump of one step for the nano run's first two prompts (their ShapeEval specs are the
 * ground truth the verl export hands out): two images each, drawn by the cluster, the second one wrong.
 */
function writeClusterDump(dataDir: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const store = openStore(resolveDataDir({ cliDir: dataDir }).dbPath);
  try {
    const groups = store.groups.list({ runId: 1, limit: 2 }).items;
    const lines = groups.flatMap((group, g) => {
      const spec = store.prompts.get(group.promptId).spec as unknown as PromptSpec;
      return [spec, parsePrompt('four purple circles')].map((drawn, k) => {
        const image = toUint8(renderScene(sampleSceneForSpec(drawn, new Rng(g * 2 + k)), { width: 64 }));
        writeFileSync(join(dir, `${g}-${k}.png`), encodePng(image.data, image.width, image.height));
        return JSON.stringify({
          input: `<|im_start|>user\n${group.prompt}<|im_end|>\n`,
          output: `${g}-${k}.png`,
          gts: JSON.stringify(spec),
          score: 1 - k,
          step: 7,
        });
      });
    });
    writeFileSync(join(dir, '7.jsonl'), lines.join('\n') + '\n');
  } finally {
    store.close();
  }
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'unirl-export-browser-'));
  h = await startHarness({
    prepare(dataDir) {
      unirl([
        'train',
        '--scenario',
        't2i',
        '--preset',
        'nano',
        '--steps',
        '2',
        '--human',
        'sync',
        '--annotator',
        'larger',
        '--name',
        'nano ranked',
        '--data-dir',
        dataDir,
      ]);
      writeClusterDump(dataDir, join(work, 'dump'));
      unirl(['import', '--rollouts', join(work, 'dump'), '--name', 'cluster rollouts', '--data-dir', dataDir]);
    },
  });
});
after(async () => {
  await h?.close();
  rmSync(work, { recursive: true, force: true });
});

test("the Export screen downloads a zip; its Pick-a-Pic and TRL Parquet hold the ranked images' bytes", async () => {
  const { page } = h;
  await h.open('runs/1', 'Runs');
  const card = page.getByRole('region', { name: 'Export' });
  await card.getByLabel('Export format').selectOption('all');
  const { name, dir } = await downloadAndUnzip(page, work, () => card.getByRole('button', { name: 'Export' }).click());
  assert.match(name, /^run-1-all-.*\.zip$/);
  await card.getByRole('link', { name: /^Download run-1-all-.*\.zip$/ }).waitFor();
  mkdirSync(screenshotDir, { recursive: true });
  await card.screenshot({ path: join(screenshotDir, 'export.png'), animations: 'disabled' });

  const out = join(dir, name.replace(/\.zip$/, ''));
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  const listed = manifest.files.map((f: { path: string }) => f.path);
  assert.deepEqual(listed, [
    'rollouts.parquet',
    'pairs.trl.parquet',
    'pickapic.parquet',
    'rankings.jsonl',
    'reflections.jsonl',
    'edits.jsonl',
    'verl.train.parquet',
    'unirl_reward.py',
  ]);
  for (const f of manifest.files) assert.ok(Object.keys(f.schema).length > 0, `${f.path} states its schema`);

  const pick = readParquetFile(join(out, 'pickapic.parquet'));
  assert.ok(pick.rows.length > 0, 'the scripted annotator ranked groups, so there are pairs');
  for (const row of pick.rows) {
    assert.ok([0, 0.5, 1].includes(row.label_0 as number) && (row.label_0 as number) + (row.label_1 as number) === 1);
    assert.equal(PNG.sync.read(Buffer.from(row.jpg_0 as Uint8Array)).width, 32, 'jpg_0 holds the image bytes (a PNG)');
  }
  const pairs = readParquetFile(join(out, 'pairs.trl.parquet'));
  const chosen = pairs.rows[0]!.chosen as { bytes: Uint8Array; path: string };
  assert.match(chosen.path, /^sample-\d+\.png$/);
  assert.equal(PNG.sync.read(Buffer.from(chosen.bytes)).height, 32);
  assert.deepEqual(h.pageErrors, []);
});

test("a cluster's imported rollouts show on the Rollouts screen with its scores, and wait on the Ranking screen", async () => {
  const { page } = h;
  await h.open('runs/2', 'Runs');
  await page.getByRole('row').filter({ hasText: 'cluster rollouts' }).waitFor();
  await h.open('rollouts/2', 'Rollouts');
  const grid = page.getByRole('region', { name: 'Group', exact: true });
  await grid.getByRole('img').first().waitFor();
  assert.equal(await grid.getByRole('img').count(), 2);
  await page.waitForFunction(() =>
    [...document.querySelectorAll<HTMLImageElement>('section[aria-label="Group"] img')].every(
      (img) => img.complete && img.naturalWidth === 64,
    ),
  );
  assert.match(await grid.innerText(), /cluster/);
  await h.screenshot('rollouts-cluster');
  await h.open('ranking', 'Ranking');
  const store = openStore(resolveDataDir({ cliDir: h.server.dataDir }).dbPath);
  const imported = store.groups.list({ runId: 2 }).items;
  store.close();
  assert.equal(imported.length, 2);
  const images = page.getByRole('list', { name: 'Samples in display order' }).locator('img');
  // The queue shows groups oldest first: the nano run's pending ones (if any are left), then the cluster's.
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const sources = await images.evaluateAll((els) => els.map((el) => el.getAttribute('src') ?? ''));
    if (sources.length === 2) break;
    await page.keyboard.press('s');
    await page.waitForTimeout(200);
  }
  assert.equal(await images.count(), 2);
  // A skip pressed while the next group was still drawing may have passed over the first cluster group:
  // whichever of the two shows, its prompt, task and step are the imported ones.
  const shownPrompt = await page.getByRole('region', { name: 'Prompt' }).innerText();
  const group = imported.find((g) => shownPrompt.includes(g.prompt));
  assert.ok(group, `the Ranking screen shows a cluster group (it shows: ${shownPrompt})`);
  await page.getByText(new RegExp(`Prompt · ${group.task} · run #\\d+ step ${group.step}`)).waitFor();
  assert.notEqual(group.task, 'verl', 'the task comes from the ground-truth spec');
  await h.screenshot('ranking-cluster');
  assert.deepEqual(h.pageErrors, []);
});
