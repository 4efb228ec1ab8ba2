#!/usr/bin/env node
// Finds test files by suite and runs them with node's test runner (tsx loads TypeScript).
// Usage: node bin/run-tests.js unit|browser [filter]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const [suite = 'unit', filter = ''] = process.argv.slice(2);
const roots = suite === 'browser' ? ['tests/browser'] : ['main', 'db', 'contract', 'renderer/src', 'tests/unit'];

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const files = roots
  .flatMap((r) => {
    try {
      return findTests(join(root, r));
    } catch {
      return [];
    }
  })
  .filter((f) => f.includes(filter))
  .sort();
if (files.length === 0) {
  console.error(`no ${suite} tests found`);
  process.exit(1);
}
const concurrency = suite === 'browser' ? '1' : '2';
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(result.status ?? 1);
