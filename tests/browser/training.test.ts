// The whole loop from the browser: create a nano run, start it, watch the live chart fill in as
// the trainer (in the compute worker) reports steps, and find its rollout groups in the viewer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
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
  assert.deepEqual(h.pageErrors, []);
});
