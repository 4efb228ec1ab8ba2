// The npm-installed Chromium (the fallback on machines without a system one) really drives the app:
// launched with the system Chromium ignored, it renders the Runs page of a real `unirl serve`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { findChromium, missingLibraries, packageRootOf, unpackBundledLibraries } from './chromium.ts';
import { ensureRendererBuilt, launchBrowser, screenshotDir, startServer, TEST_LOCALE } from './harness.ts';

test('findChromium: CHROMIUM_PATH wins, a wrong one or a bad UNIRL_CHROMIUM is named', async () => {
  assert.equal((await findChromium({ CHROMIUM_PATH: process.execPath })).source, 'CHROMIUM_PATH');
  await assert.rejects(findChromium({ CHROMIUM_PATH: '/nonexistent/chrome' }), /CHROMIUM_PATH=\/nonexistent\/chrome does not exist/);
  await assert.rejects(findChromium({ UNIRL_CHROMIUM: 'firefox' }), /UNIRL_CHROMIUM must be auto, system or bundled, got "firefox"/);
});

test('the bundled Chromium (system one ignored) launches and renders the app', {
  skip: process.platform !== 'linux' && 'the bundled Chromium is Linux-only',
}, async () => {
  const choice = await findChromium({ UNIRL_CHROMIUM: 'bundled' });
  assert.match(choice.source, /^@sparticuz\/chromium \d+/);
  assert.doesNotMatch(choice.executablePath, /^\/usr\/bin\//);
  assert.deepEqual(missingLibraries(choice.executablePath, { ...process.env, ...choice.env }), [], 'every shared library resolves');

  ensureRendererBuilt();
  const dataDir = mkdtempSync(join(tmpdir(), 'unirl-bundled-'));
  const server = await startServer({ dataDir });
  const browser = await launchBrowser(choice);
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: TEST_LOCALE });
    await page.goto(`${server.url}#/runs`);
    await page.getByRole('heading', { level: 1, name: 'Runs' }).waitFor({ timeout: 15_000 });
    await page.getByText(/No runs yet — create one/).waitFor();
    assert.match(browser.version(), /^\d+\./);
    mkdirSync(screenshotDir, { recursive: true });
    await page.screenshot({ path: join(screenshotDir, 'bundled-chromium.png') });
  } finally {
    await browser.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('on a machine without NSS, the libraries the package ships resolve for its Chromium, which runs on them', {
  skip: process.platform !== 'linux' && 'the bundled Chromium is Linux-only',
}, async () => {
  const { executablePath } = await findChromium({ UNIRL_CHROMIUM: 'bundled' });
  const libDir = await unpackBundledLibraries(packageRootOf(createRequire(import.meta.url).resolve('@sparticuz/chromium')));
  // This machine has NSS; the loader must still take the shipped copies first when they are put on the path.
  const ldd = spawnSync('ldd', [executablePath], { encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: libDir } });
  for (const lib of ['libnss3.so', 'libnspr4.so', 'libnssutil3.so'])
    assert.match(ldd.stdout, new RegExp(`${lib} => ${libDir}/${lib}`), `${lib} from ${libDir}`);
  assert.doesNotMatch(ldd.stdout, /not found/);
  // ...and Chromium runs on them.
  const browser = await launchBrowser({
    executablePath,
    source: 'test',
    env: { LD_LIBRARY_PATH: libDir, FONTCONFIG_PATH: join(tmpdir(), 'fonts') },
  });
  try {
    const page = await browser.newPage({ locale: TEST_LOCALE });
    await page.setContent('<p id="p">drawn</p>');
    assert.equal(await page.locator('#p').textContent(), 'drawn');
  } finally {
    await browser.close();
  }
});
