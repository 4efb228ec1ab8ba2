import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveDataDir } from './datadir.ts';

function tempRoot(t: { after: (fn: () => void) => void }): string {
  const root = mkdtempSync(join(tmpdir(), 'unirl-datadir-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

test('--data-dir wins over UNIRL_DATA_DIR, which wins over Electron userData; the folder is created', (t) => {
  const root = tempRoot(t);
  const env = { UNIRL_DATA_DIR: join(root, 'env') };
  const electronUserData = join(root, 'electron');
  const cli = resolveDataDir({ cliDir: join(root, 'cli', 'nested'), env, electronUserData });
  assert.deepEqual(cli, { dir: join(root, 'cli', 'nested'), dbPath: join(root, 'cli', 'nested', 'unirl.sqlite'), source: 'cli' });
  assert.ok(existsSync(cli.dir));
  assert.equal(resolveDataDir({ env, electronUserData }).source, 'env');
  assert.equal(resolveDataDir({ env, electronUserData }).dir, join(root, 'env'));
  assert.equal(resolveDataDir({ env: {}, electronUserData }).dir, electronUserData);
});

test('the per-user default follows XDG on Linux and the OS conventions elsewhere', (t) => {
  const home = tempRoot(t);
  assert.deepEqual(resolveDataDir({ env: {}, platform: 'linux', home }), { dir: join(home, '.local', 'share', 'unirl-studio'), dbPath: join(home, '.local', 'share', 'unirl-studio', 'unirl.sqlite'), source: 'default' });
  assert.equal(resolveDataDir({ env: { XDG_DATA_HOME: join(home, 'xdg') }, platform: 'linux', home }).dir, join(home, 'xdg', 'unirl-studio'));
  assert.equal(resolveDataDir({ env: { XDG_DATA_HOME: 'relative' }, platform: 'linux', home }).dir, join(home, '.local', 'share', 'unirl-studio'), 'XDG ignores relative paths');
  assert.equal(resolveDataDir({ env: {}, platform: 'darwin', home }).dir, join(home, 'Library', 'Application Support', 'unirl-studio'));
  assert.equal(resolveDataDir({ env: { APPDATA: join(home, 'Roaming') }, platform: 'win32', home }).dir, join(home, 'Roaming', 'unirl-studio'));
});

test('a relative --data-dir resolves against the working directory', (t) => {
  const root = tempRoot(t);
  const cwd = process.cwd();
  process.chdir(root);
  t.after(() => process.chdir(cwd));
  assert.equal(resolveDataDir({ cliDir: 'data', env: {} }).dir, join(root, 'data'));
});
