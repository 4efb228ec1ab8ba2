// The whole loop from the browser: create a nano run, start it, watch the live chart fill in as
// the trainer (in the compute worker) reports steps, and find its rollout groups in the viewer; and a
// human-in-the-loop run whose groups are ranked by keyboard while it waits.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { openStore, resolveDataDir, type Store } from '../../db/index.ts';
import { withStore } from './fixtures.ts';
import { startHarness, type Harness } from './harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.close();
});

test('a nano run started from the Runs page trains, and the dashboard updates live', async () => {
  const { page } = h;
  await h.open('runs', 'Runs');
  await page.getByLabel('Run name').fill('nano t2i');
  await page.getByLabel('Scenario').selectOption('t2i');
  await page.getByLabel('Model').selectOption('nano');
  await page.getByRole('button', { name: 'Create run' }).click();
  await page.getByRole('row').filter({ hasText: 'nano t2i' }).waitFor();

  // Watch the dashboard while it trains: no reload, the chart grows from metrics.appended events.
  await h.open('runs/1', 'Runs');
  await page.getByRole('button', { name: 'Start' }).click();
  await h.open('dashboard/1', 'Dashboard');
  const chart = page.locator('figure').filter({ hasText: 'Reward per component' }).first();
  await chart.waitFor({ timeout: 60_000 });
  await h.open('runs/1', 'Runs');
  const row = page.getByRole('row').filter({ hasText: 'nano t2i' });
  await row.filter({ hasText: /completed/ }).waitFor({ timeout: 90_000 });
  assert.match(await row.innerText(), /completed\s+2/);
  await page.getByText(/training ended at step 2 \(steps\)/).waitFor();
  await h.screenshot('runs-trained');

  await h.open('rollouts/1', 'Rollouts');
  await page.locator('img').first().waitFor();

  // A sample whose latents the storage policy did not keep (no ranking, not sampled): its filmstrip is
  // re-drawn from its seeds with the weights that drew it, S+1 frames.
  await expectFilmstrip(1, { redrawn: true });
  await h.screenshot('rollout-details-redrawn', { fullPage: true });
  assert.deepEqual(h.pageErrors, []);
});

/** Opens the details of sample 1 of the shown group of run `runId` and checks its filmstrip: S+1 frames of 32x32. */
async function expectFilmstrip(runId: number, { redrawn }: { redrawn: boolean }): Promise<void> {
  const { page } = h;
  const sdeSteps = readStore(h, (store) => (store.runs.get(runId).config.rollout as { sdeSteps: number }).sdeSteps);
  await h.open(`rollouts/${runId}`, 'Rollouts');
  await page.getByRole('button', { name: 'Details of sample 1' }).first().click();
  const details = page.getByRole('region', { name: 'Sample details' });
  const strip = details.getByRole('list', {
    name: redrawn ? /^Denoising filmstrip of sample 1 \(re-drawn\)$/ : /^Denoising filmstrip of sample 1$/,
  });
  await strip.waitFor({ timeout: 30_000 });
  assert.equal(await strip.locator('canvas').count(), sdeSteps + 1);
  const [width, height] = await strip
    .locator('canvas')
    .last()
    .evaluate((canvas: HTMLCanvasElement) => [canvas.width, canvas.height]);
  assert.deepEqual([width, height], [32, 32]);
  if (redrawn) await details.getByText(/Re-drawn from its seeds with .*\(the weights that drew it: the same trajectory\)/s).waitFor();
  assert.doesNotMatch(await details.innerText(), /are not frames|not a dm tensor|failed/);
}

/** Reads the data dir of the harness's server through a store of its own. */
const readStore = <T>(harness: Harness, read: (store: Store) => T): T => withStore(harness.server.dataDir, read);

test('human in the loop: a sync run waits for people, rankings typed in the browser become rewards', async () => {
  const { page } = h;
  await h.open('runs', 'Runs');
  await page.getByLabel('Run name').fill('nano with people');
  await page.getByLabel('Scenario').selectOption('t2i');
  await page.getByLabel('Model').selectOption('nano');
  await page.getByLabel('Human feedback').selectOption('sync');
  await page.getByRole('button', { name: 'Create run' }).click();
  const row = page.getByRole('row').filter({ hasText: 'nano with people' });
  await row.waitFor();
  const runId = Number((await row.getByRole('cell').first().innerText()).trim());
  await h.open(`runs/${runId}`, 'Runs');
  await page.getByRole('button', { name: 'Start' }).click();

  // The trainer waits for each step's groups: rank whatever the queue shows, by keyboard, until it finishes.
  const store = openStore(resolveDataDir({ cliDir: h.server.dataDir }).dbPath);
  try {
    const deadline = Date.now() + 120_000;
    const countRankings = () => (store.db.prepare('SELECT count(*) AS n FROM rankings').get() as { n: number }).n;
    let ranked = 0;
    while (store.runs.get(runId).status !== 'completed') {
      assert.ok(Date.now() < deadline, `run ${runId} did not finish; status ${store.runs.get(runId).status}, ${ranked} groups ranked`);
      // A fresh load asks for the queue again (the trainer's new groups arrive through the store).
      await h.open('ranking', 'Ranking');
      await page.reload();
      await page.getByRole('heading', { name: 'Ranking', level: 1 }).waitFor();
      await page.waitForTimeout(300);
      const samples = page.getByRole('list', { name: 'Samples in display order' });
      if (!(await samples.isVisible().catch(() => false))) {
        await page.waitForTimeout(500);
        continue;
      }
      await samples.locator('img').first().click(); // focus the grid (a click also picks: the keys below then rank the rest)
      for (const key of ['Escape', '1', '2', '3', '4', 'Enter']) await page.keyboard.press(key);
      const before = ranked;
      for (let i = 0; i < 40 && ranked === before; i++) {
        await page.waitForTimeout(250);
        ranked = countRankings();
      }
    }
    const groups = store.groups.list({ runId, limit: 50 }).items;
    assert.ok(groups.length >= 2 && ranked >= groups.length, `${ranked} rankings for ${groups.length} groups`);
    for (const group of groups) {
      assert.equal(store.rankings.forGroup(group.id).length, 1, `group ${group.id} has its ranking row`);
      const members = store.samples.members(group.id);
      const human = members.map((s) => s.rewards.find((r) => r.name === 'humanRank')?.value);
      assert.ok(
        human.every((v) => typeof v === 'number'),
        `every sample of group ${group.id} got a humanRank reward`,
      );
      assert.ok(Math.max(...(human as number[])) > Math.min(...(human as number[])), 'ranks spread the human reward');
    }
  } finally {
    store.close();
  }
  // Groups sent to ranking keep their latents (the storage policy): the filmstrip shows what the trainer stored.
  await expectFilmstrip(runId, { redrawn: false });
  await h.screenshot('rollout-details-stored', { fullPage: true });
  assert.deepEqual(h.pageErrors, []);
});

test("Settings shows each real run's disk use; Prune and Delete give the space back", { timeout: 120_000 }, async () => {
  const { page } = h;
  await h.open('settings', 'Settings');
  const table = page.getByRole('table', { name: 'Disk use per run' });
  const first = table.getByRole('row').filter({ hasText: '#1 nano t2i' });
  const second = table.getByRole('row').filter({ hasText: '#2 nano with people' });
  await first.waitFor();
  await second.waitFor();
  // 2 steps x 2 groups x 4 samples; both checkpoints kept (nano saves every step, the policy keeps the latest 2).
  assert.match(await first.innerText(), /^#1 nano t2i\s+16\s/);
  assert.equal(
    readStore(h, (store) => store.checkpoints.list(1).length),
    2,
  );
  await first.getByRole('button', { name: 'Prune' }).click();
  await page
    .getByRole('status')
    .filter({ hasText: /Run #1 pruned: 0 checkpoints deleted/ })
    .waitFor();

  const files = readStore(h, (store) => store.checkpoints.list(2).map((c) => c.path));
  assert.ok(files.length > 0 && files.every((p) => existsSync(p)));
  page.once('dialog', (dialog) => void dialog.accept());
  await second.getByRole('button', { name: 'Delete' }).click();
  await page
    .getByRole('status')
    .filter({ hasText: /Run #2 deleted: .* of files; database .* → / })
    .waitFor();
  await second.waitFor({ state: 'detached' });
  assert.ok(
    files.every((p) => !existsSync(p)),
    'its checkpoint files are gone',
  );
  assert.equal(
    readStore(h, (store) => store.runs.list().length),
    1,
  );
  await h.screenshot('settings-disk-use', { fullPage: true });
  assert.deepEqual(h.pageErrors, []);
});
