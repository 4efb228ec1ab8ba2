// Which Chromium the browser tests drive, found with npm alone: CHROMIUM_PATH when set, else a system
// Chromium, else the headless Chromium shipped inside the @sparticuz/chromium devDependency (Linux x64/arm64;
// it unpacks into the temp dir on first use). UNIRL_CHROMIUM=bundled skips the system one (how the fallback
// is tested on machines that have both), UNIRL_CHROMIUM=system refuses the fallback.
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';

export const SYSTEM_CHROMIUM_PATHS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
];
const BUNDLED_PACKAGE = '@sparticuz/chromium';

export interface ChromiumChoice {
  executablePath: string;
  /** How it was found, for the log line: "CHROMIUM_PATH", "system" or the npm package and its version. */
  source: string;
  /** Extra environment for the browser process (the bundled one's own libraries, when the system lacks them). */
  env: Record<string, string>;
}

type Preference = 'auto' | 'system' | 'bundled';

function preference(env: NodeJS.ProcessEnv): Preference {
  const value = env.UNIRL_CHROMIUM ?? 'auto';
  if (value !== 'auto' && value !== 'system' && value !== 'bundled')
    throw new Error(`UNIRL_CHROMIUM must be auto, system or bundled, got "${value}"`);
  return value;
}

export async function findChromium(env: NodeJS.ProcessEnv = process.env): Promise<ChromiumChoice> {
  if (env.CHROMIUM_PATH) {
    if (!existsSync(env.CHROMIUM_PATH)) throw new Error(`CHROMIUM_PATH=${env.CHROMIUM_PATH} does not exist`);
    return { executablePath: env.CHROMIUM_PATH, source: 'CHROMIUM_PATH', env: {} };
  }
  const wanted = preference(env);
  if (wanted !== 'bundled') {
    const system = SYSTEM_CHROMIUM_PATHS.find((path) => existsSync(path));
    if (system) return { executablePath: system, source: 'system', env: {} };
    if (wanted === 'system') throw new Error(`UNIRL_CHROMIUM=system but none of ${SYSTEM_CHROMIUM_PATHS.join(', ')} exists`);
  }
  return bundledChromium();
}

/** The devDependency's Chromium, unpacked (once) into the temp dir, with its NSS libraries when the system has none. */
async function bundledChromium(): Promise<ChromiumChoice> {
  const require = createRequire(import.meta.url);
  let packageRoot: string;
  try {
    packageRoot = packageRootOf(require.resolve(BUNDLED_PACKAGE));
  } catch {
    throw new Error(
      `no Chromium found: none of ${SYSTEM_CHROMIUM_PATHS.join(', ')} exists ` +
        `and ${BUNDLED_PACKAGE} is not installed (run npm install, or set CHROMIUM_PATH)`,
    );
  }
  if (process.platform !== 'linux') {
    throw new Error(`no Chromium found: ${BUNDLED_PACKAGE} ships Linux binaries only; install Chrome or Chromium and set CHROMIUM_PATH`);
  }
  const { default: bundled } = await import(BUNDLED_PACKAGE);
  const executablePath: string = await bundled.executablePath();
  const version = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  const env: Record<string, string> = { FONTCONFIG_PATH: process.env.FONTCONFIG_PATH ?? join(tmpdir(), 'fonts') };
  if (missingLibraries(executablePath).length > 0) {
    const libDir = await unpackBundledLibraries(packageRoot);
    env.LD_LIBRARY_PATH = [libDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  }
  return { executablePath, source: `${BUNDLED_PACKAGE} ${version}`, env };
}

/** The bundled package's folder, above its entry file (its exports map hides package.json from resolve). */
export function packageRootOf(entry: string): string {
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === BUNDLED_PACKAGE) return dir;
  }
  throw new Error(`no package.json above ${entry}`);
}

/** Shared libraries the dynamic loader cannot find for this binary (empty when ldd is unavailable). */
export function missingLibraries(executablePath: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const ldd = spawnSync('ldd', [executablePath], { encoding: 'utf8', env });
  if (ldd.status !== 0) return [];
  return ldd.stdout
    .split('\n')
    .filter((line) => line.includes('not found'))
    .map((line) => line.trim().split(/\s/)[0]!);
}

/** Unpacks the package's NSS/expat libraries (a Brotli tarball of lib/*) to <tmp>/al2023/lib. */
export async function unpackBundledLibraries(packageRoot: string): Promise<string> {
  const archive = join(packageRoot, 'bin', 'al2023.tar.br');
  const root = join(tmpdir(), 'al2023');
  const libDir = join(root, 'lib');
  if (existsSync(join(libDir, 'libnss3.so'))) return libDir;
  const tarPath = join(tmpdir(), `al2023-${process.pid}.tar`);
  try {
    await pipeline(createReadStream(archive), createBrotliDecompress(), createWriteStream(tarPath));
    const tar = spawnSync('tar', ['-xf', tarPath, '-C', tmpdir(), '--transform', 's,^lib/,al2023/lib/,'], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(`unpacking ${archive} failed: ${tar.stderr}`);
  } finally {
    rmSync(tarPath, { force: true });
  }
  return libDir;
}
