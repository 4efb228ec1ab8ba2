// The app frame in Chromium against a real `unirl serve` on a fresh data dir: every page renders
// its heading and empty state, a run is created through the UI, a bad call is answered with an
// error naming the call and the field, the theme switches, and the banner shows a lost server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, startServer, type Harness } from './harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.close();
});

/** Route, heading, and the empty-state text a fresh data dir shows. */
const PAGES: [route: string, heading: string, empty: RegExp][] = [
  ['runs', 'Runs', /No runs yet — create one/],
  ['dashboard', 'Dashboard', /No runs yet/],
  ['rollouts', 'Rollouts', /No runs yet/],
  ['ranking', 'Ranking', /Nothing to rank/],
  ['reflections', 'Reflections', /No runs yet/],
  ['edits', 'Edits', /No runs yet/],
  ['evaluation', 'Evaluation', /No evaluations yet/],
  ['settings', 'Settings', /Annotator name/],
];

test('every page renders its heading and its empty state on a fresh data dir', async () => {
  const { page } = h;
  await page.getByRole('status', { name: /Connection: Connected/ }).waitFor();
  for (const [route, heading, empty] of PAGES) {
    await h.open(route, heading);
    await page.getByText(empty).first().waitFor({ timeout: 10_000 });
    const current = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: heading });
    assert.equal(await current.getAttribute('aria-current'), 'page', `nav marks ${heading} as current`);
  }
  assert.deepEqual(h.pageErrors, []);
});

test('a run created through the form is listed, and each page then shows it', async () => {
  const { page } = h;
  await h.open('runs', 'Runs');
  await page.getByLabel('Run name').fill('t2i from the browser');
  await page.getByLabel('Scenario').selectOption('t2i');
  await page.getByRole('button', { name: 'Create run' }).click();
  const row = page.getByRole('row').filter({ hasText: 't2i from the browser' });
  await row.waitFor();
  assert.match(await row.innerText(), /Text-to-image\s+created\s+0/);
  await page.getByLabel('Run name').fill('CoT on vague prompts');
  await page.getByLabel('Scenario').selectOption('cot');
  await page.getByRole('button', { name: 'Create run' }).click();
  await page.getByRole('row').filter({ hasText: 'CoT on vague prompts' }).waitFor();
  await h.open('runs/1', 'Runs');
  // It survives a reload: it came from the store, not from page state.
  await page.reload();
  await page.getByRole('row').filter({ hasText: 't2i from the browser' }).waitFor();
  await h.screenshot('runs');

  // ranking.test.ts shoots Rollouts and Ranking with data; these are their empty states.
  for (const [route, heading, empty, shot] of [
    ['rollouts', 'Rollouts', /No rollouts yet for this run/, 'rollouts-empty'],
    ['reflections', 'Reflections', /No reflection cycles yet/, 'reflections'],
    ['edits', 'Edits', /No edits yet/, 'edits'],
  ] as const) {
    await h.open(route, heading);
    await page.getByText(empty).waitFor();
    // With no run in the route, the newest run is shown.
    assert.match(await page.getByLabel('Run', { exact: true }).locator('option:checked').innerText(), /CoT on vague prompts/);
    await h.screenshot(shot);
  }
  for (const [route, heading, shot] of [
    ['ranking', 'Ranking', 'ranking-empty'],
    ['settings', 'Settings', 'settings'],
  ] as const) {
    await h.open(route, heading);
    await h.screenshot(shot);
  }
  assert.deepEqual(h.pageErrors, []);
});

test('an evaluation started from its page shows progress, then its result', async () => {
  const { page } = h;
  await h.open('evaluation', 'Evaluation');
  const suites = page.getByRole('region', { name: 'Suites' }).getByRole('row');
  await suites.nth(1).waitFor();
  await page.getByLabel('Generator').selectOption('oracle');
  await page.getByLabel('Prompts (limit)').fill('2');
  await page.getByRole('button', { name: 'Start evaluation' }).click();
  const job = page.getByRole('listitem', { name: /^Evaluation .+ with oracle$/ });
  await job.waitFor();
  await job.getByText(/^(succeeded|failed|cancelled)$/).waitFor({ timeout: 60_000 });
  const text = await job.innerText();
  assert.match(text, /succeeded/, text);
  // The oracle renders the ground truth: where the result has an overall score, it is near 1.
  const overall = /Overall\s+([\d.]+)%/.exec(text);
  if (overall) assert.ok(Number(overall[1]) >= 90, `oracle overall ${overall[1]}%`);
  await h.screenshot('evaluation', { fullPage: true });
  assert.deepEqual(h.pageErrors, []);
});

test('a bad call over the WebSocket gets an error naming the call and the field', async () => {
  const { page } = h;
  const reply = await page.evaluate(async () => {
    const socket = new WebSocket(`ws://${location.host}/api`);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    const answer = new Promise<string>((resolve) => {
      socket.onmessage = (event) => {
        const message = JSON.parse(String(event.data));
        if (message.type === 'result' && message.id === 7) resolve(String(event.data));
      };
    });
    socket.send(JSON.stringify({ type: 'call', id: 7, name: 'runs.get', input: { runId: 'x' } }));
    const text = await answer;
    socket.close();
    return JSON.parse(text);
  });
  assert.equal(reply.ok, false);
  assert.equal(reply.error.call, 'runs.get');
  assert.equal(reply.error.field, 'runId');
  assert.equal(reply.error.code, 'invalid_argument');
  assert.match(reply.error.message, /runs\.get/);
  assert.match(reply.error.message, /runId/);

  // The app's own client shows a failed call with its name: a link to a run that does not exist.
  await h.open('rollouts/999999', 'Rollouts');
  const alert = page.getByRole('alert').filter({ hasText: 'runs.get' });
  await alert.waitFor();
  assert.match(await alert.innerText(), /not found/i);
});

test('the theme switches between light and dark, persists, and keeps text readable', async () => {
  const { page } = h;
  const colours = () =>
    page.evaluate(() => {
      const style = getComputedStyle(document.documentElement);
      return { theme: document.documentElement.dataset.theme ?? 'system', bg: style.backgroundColor, fg: style.color };
    });
  await h.open('settings', 'Settings');
  await page.getByRole('radio', { name: 'Dark' }).check();
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
  const dark = await colours();
  assert.ok(luminance(dark.bg) < 0.05 && contrast(dark.fg, dark.bg) >= 7, `dark theme: ${JSON.stringify(dark)}`);

  await page.reload();
  await page.getByRole('radio', { name: 'Dark' }).waitFor();
  assert.equal(await page.getByRole('radio', { name: 'Dark' }).isChecked(), true, 'the choice is saved in settings');
  assert.equal((await colours()).theme, 'dark');
  await h.open('runs', 'Runs');
  await h.screenshot('runs-dark');

  await h.open('settings', 'Settings');
  await page.getByRole('radio', { name: 'Light' }).check();
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'light');
  const light = await colours();
  assert.ok(luminance(light.bg) > 0.8 && contrast(light.fg, light.bg) >= 7, `light theme: ${JSON.stringify(light)}`);
  assert.deepEqual(h.pageErrors, []);
});

test('losing the server shows the disconnected banner; a new server on the same port reconnects', async () => {
  const { page } = h;
  await h.open('runs', 'Runs');
  const port = Number(new URL(h.server.url).port);
  await h.server.stop();
  await page
    .getByRole('alert')
    .filter({ hasText: /Disconnected from the UniRL server/ })
    .waitFor({ timeout: 10_000 });
  assert.match(await page.getByRole('status').innerText(), /Disconnected|Connecting/);

  const again = await startServer({ dataDir: h.server.dataDir, port });
  h.server = again;
  await page.getByRole('status', { name: /Connection: Connected/ }).waitFor({ timeout: 20_000 });
  // The data comes back from the reopened store.
  await page.getByRole('row').filter({ hasText: 't2i from the browser' }).waitFor();
  h.pageErrors.length = 0; // the refused reconnection attempts log console errors by design
});

/** Relative luminance of a CSS rgb() colour (WCAG). */
function luminance(rgb: string): number {
  const [r, g, b] = (rgb.match(/[\d.]+/g) ?? [])
    .slice(0, 3)
    .map(Number)
    .map((c) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}
