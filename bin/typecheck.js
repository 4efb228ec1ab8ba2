#!/usr/bin/env node
// Type-checks the project, after checking that no modules import each other in a cycle. The Electron-only files
// (main/electron, preload) are checked when the optional `electron` package (and so its types) is installed, and skipped
// with a note otherwise. tsc cannot read .svelte files, so svelte-check then checks the renderer (its components and the
// modules they import) with renderer/tsconfig.json, which extends the root options.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
const svelteCheck = fileURLToPath(new URL('../node_modules/svelte-check/bin/svelte-check', import.meta.url));
const projects = ['tsconfig.json'];
if (existsSync(new URL('../node_modules/electron/electron.d.ts', import.meta.url))) projects.push('tsconfig.electron.json');
else console.log('typecheck: electron is not installed; skipping main/electron and preload');

const cycles = spawnSync(process.execPath, [fileURLToPath(new URL('./check-cycles.js', import.meta.url))], { stdio: 'inherit', cwd: root });
if (cycles.status !== 0) process.exit(cycles.status ?? 1);

for (const project of projects) {
  const result = spawnSync(process.execPath, [tsc, '--noEmit', '-p', project], { stdio: 'inherit', cwd: root });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

// The Svelte compiler's warnings (accessibility, unused CSS, state misuse) fail the check as errors do: there are none to keep.
const svelte = spawnSync(
  process.execPath,
  [svelteCheck, '--tsconfig', './renderer/tsconfig.json', '--fail-on-warnings', '--output', 'human'],
  {
    stdio: 'inherit',
    cwd: root,
  },
);
process.exit(svelte.status ?? 1);
