// Browser-test harness: a real `unirl serve` on a temporary data dir, headless Chromium (the system's, or
// the one npm installed: tests/browser/chromium.ts) driven by playwright-core, and teardown. The screen tests of later issues reuse it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { findChromium, type ChromiumChoice } from './chromium.ts';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
// Screenshots go to out/screens; `UNIRL_SCREENSHOTS=docs` refreshes the ones the README and docs show.
export const screenshotDir =
  process.env.UNIRL_SCREENSHOTS === 'docs' ? join(repoRoot, 'docs', 'img', 'screens') : join(repoRoot, 'out', 'screens');
const LISTENING = /listening on (http:\/\/\S+)/;
const START_TIMEOUT_MS = 30_000;

export interface ServerHandle {
  url: string;
  dataDir: string;
  /** Everything the server printed so far (for failure messages). */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited after 5 s. */
  stop(): Promise<void>;
}

/** Builds out/renderer unless it is up to date (bin/build-renderer.js decides). */
export function ensureRendererBuilt(): void {
  const result = spawnSync(process.execPath, [join(repoRoot, 'bin', 'build-renderer.js')], { cwd: repoRoot, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`building the renderer failed:\n${result.stdout}${result.stderr}`);
}

/** Starts `node bin/unirl.js serve --port 0 --data-dir DIR` and waits for its `listening on` line. */
export async function startServer(options: { dataDir: string; port?: number; extraArgs?: string[] }): Promise<ServerHandle> {
  const { dataDir } = options;
  const args = [
    join(repoRoot, 'bin', 'unirl.js'),
    'serve',
    '--port',
    String(options.port ?? 0),
    '--data-dir',
    dataDir,
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`unirl serve printed no "listening on" line within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    function fail(error: Error): void {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${error.message}\n--- server output ---\n${output}`));
    }
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = LISTENING.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => fail(new Error(`unirl serve exited early (code ${code}, signal ${signal})`)));
  });
  child.removeAllListeners('exit');
  return { url, dataDir, output: () => output, stop: () => stopChild(child) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Fixed, because the headless shell reports "en-US@posix" under LANG=C, which Intl rejects. */
export const TEST_LOCALE = 'en-US';

let chosen: Promise<ChromiumChoice> | undefined;

/** The Chromium every test of this process uses, found once and named on stderr. */
export function chosenChromium(): Promise<ChromiumChoice> {
  chosen ??= findChromium().then((choice) => {
    process.stderr.write(`browser tests use ${choice.executablePath} (${choice.source})\n`);
    return choice;
  });
  return chosen;
}

export async function launchBrowser(choice?: ChromiumChoice): Promise<Browser> {
  const { executablePath, env } = choice ?? (await chosenChromium());
  return chromium.launch({
    executablePath,
    env: { ...process.env, ...env },
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

export interface Harness {
  /** Replaceable: a test may stop it and start another on the same data dir. */
  server: ServerHandle;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Console errors, uncaught page errors and CSP violations seen so far. */
  pageErrors: string[];
  /** Opens `#/<route>` and waits for the page's heading. */
  open(route: string, heading: string): Promise<void>;
  /** Saves a PNG of the viewport (or the whole page) as <screenshotDir>/<name>.png. */
  screenshot(name: string, options?: { fullPage?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Fills the fresh data dir (e.g. with fixtures) before the server opens it. */
  prepare?: (dataDir: string) => void | Promise<void>;
  colorScheme?: 'light' | 'dark';
}

/** Server on a fresh temporary data dir (removed at close) + Chromium with one page open on the app. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  ensureRendererBuilt();
  const dataDir = mkdtempSync(join(tmpdir(), 'unirl-browser-'));
  let server: ServerHandle;
  try {
    await options.prepare?.(dataDir);
    server = await startServer({ dataDir });
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      locale: TEST_LOCALE,
      colorScheme: options.colorScheme ?? 'light',
    });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => pageErrors.push(`pageerror: ${error.message}`));
    await page.goto(server.url);
    const harness: Harness = {
      server,
      browser,
      context,
      page,
      pageErrors,
      async open(route, heading) {
        await page.evaluate((hash) => {
          location.hash = hash;
        }, `#/${route}`);
        await page.getByRole('heading', { level: 1, name: heading }).waitFor({ timeout: 10_000 });
      },
      async screenshot(name, shotOptions = {}) {
        mkdirSync(screenshotDir, { recursive: true });
        const path = join(screenshotDir, `${name}.png`);
        await page.screenshot({ path, animations: 'disabled', fullPage: shotOptions.fullPage ?? false });
        return path;
      },
      async close() {
        await browser!.close();
        await harness.server.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
    return harness;
  } catch (err) {
    await browser?.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/** The buttons, inputs and selects on the page's main area that no label or name describes (their HTML). */
export function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('main button, main input, main select')]
      .filter((el) => {
        const named =
          el.getAttribute('aria-label') ||
          el.getAttribute('aria-labelledby') ||
          (el instanceof HTMLButtonElement && el.textContent?.trim());
        const labelled = (el as HTMLInputElement).labels?.length;
        return !named && !labelled;
      })
      .map((el) => el.outerHTML.slice(0, 80)),
  );
}
