#!/usr/bin/env node
// Builds the renderer into out/renderer with Vite's JS API (run by npm's `prepare` after install,
// and by `npm run build:renderer -- --force`). Skips the build when out/renderer/index.html is newer
// than every file under renderer/ and contract/ and every other file the last bundle read (the presets in
// main/rl/config.ts, say: listed in out/renderer/inputs.json). Prints one line.
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const sources = ['renderer', 'contract'].map((dir) => join(root, dir));
const builtIndex = join(root, 'out', 'renderer', 'index.html');
const inputsList = join(root, 'out', 'renderer', 'inputs.json');
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

/** The newest mtime of the files the last bundle read outside renderer/ and contract/ (Infinity: unknown, rebuild). */
function newestInput() {
  try {
    return Math.max(0, ...JSON.parse(readFileSync(inputsList, 'utf8')).map((file) => statSync(join(root, file)).mtimeMs));
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

if (!force && builtMtime() > Math.max(...sources.map(newestMtime), newestInput())) {
  console.log('renderer: out/renderer is up to date');
  process.exit(0);
}

const started = performance.now();
const { build } = await import('vite');
// Vite bundles the TypeScript config itself, so this script stays plain Node.
const result = await build({ configFile: join(root, 'renderer', 'vite.config.ts'), logLevel: 'warn' });
const inputs = new Set();
for (const output of [result].flat())
  for (const chunk of output.output ?? [])
    for (const id of chunk.moduleIds ?? []) {
      const file = relative(root, id.split('?')[0]);
      if (!file.startsWith('..') && !file.startsWith('node_modules') && !file.startsWith('\0')) inputs.add(file);
    }
writeFileSync(inputsList, JSON.stringify([...inputs].sort(), null, 1));
console.log(`renderer: built out/renderer in ${((performance.now() - started) / 1000).toFixed(1)} s`);
