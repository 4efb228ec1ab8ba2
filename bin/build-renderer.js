#!/usr/bin/env node
// Builds the renderer into out/renderer with Vite's JS API (run by npm's `prepare` after install,
// and by `npm run build:renderer -- --force`). Skips the build when out/renderer/index.html is newer
// than every file under renderer/ and contract/. Prints one line.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const sources = ['renderer', 'contract'].map((dir) => join(root, dir));
const builtIndex = join(root, 'out', 'renderer', 'index.html');
const force = process.argv.includes('--force');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function builtMtime() {
  try {
    return statSync(builtIndex).mtimeMs;
  } catch {
    return -1;
  }
}

if (!force && builtMtime() > Math.max(...sources.map(newestMtime))) {
  console.log('renderer: out/renderer is up to date');
  process.exit(0);
}

const started = performance.now();
const { build } = await import('vite');
// Vite bundles the TypeScript config itself, so this script stays plain Node.
await build({ configFile: join(root, 'renderer', 'vite.config.ts'), logLevel: 'warn' });
console.log(`renderer: built out/renderer in ${((performance.now() - started) / 1000).toFixed(1)} s`);
