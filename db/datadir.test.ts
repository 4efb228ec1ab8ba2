import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveDataDir } from './datadir.ts';
import { openStore } from './index.ts';

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
  assert.deepEqual(resolveDataDir({ env: {}, platform: 'linux', home }), {
    dir: join(home, '.local', 'share', 'unirl-studio'),
    dbPath: join(home, '.local', 'share', 'unirl-studio', 'unirl.sqlite'),
    source: 'default',
  });
  assert.equal(
    resolveDataDir({ env: { XDG_DATA_HOME: join(home, 'xdg') }, platform: 'linux', home }).dir,
    join(home, 'xdg', 'unirl-studio'),
  );
  assert.equal(
    resolveDataDir({ env: { XDG_DATA_HOME: 'relative' }, platform: 'linux', home }).dir,
    join(home, '.local', 'share', 'unirl-studio'),
    'XDG ignores relative paths',
  );
  assert.equal(resolveDataDir({ env: {}, platform: 'darwin', home }).dir, join(home, 'Library', 'Application Support', 'unirl-studio'));
  assert.equal(
    resolveDataDir({ env: { APPDATA: join(home, 'Roaming') }, platform: 'win32', home }).dir,
    join(home, 'Roaming', 'unirl-studio'),
  );
});

test('a relative --data-dir resolves against the working directory', (t) => {
  const root = tempRoot(t);
  const cwd = process.cwd();
  process.chdir(root);
  t.after(() => process.chdir(cwd));
  assert.equal(resolveDataDir({ cliDir: 'data', env: {} }).dir, join(root, 'data'));
});

test('a data dir that is a file, or one that cannot be written, fails naming the path (issue 16, problem 9)', (t) => {
  const root = tempRoot(t);
  const file = join(root, 'not-a-folder');
  writeFileSync(file, 'x');
  assert.throws(
    () => resolveDataDir({ cliDir: file }),
    (err: Error) => err.message === `data dir ${file} is a file, not a folder: choose another with --data-dir or UNIRL_DATA_DIR`,
  );
  assert.throws(
    () => resolveDataDir({ cliDir: join(file, 'sub') }),
    (err: Error) => err.message.startsWith(`cannot create the data dir ${join(file, 'sub')}:`),
  );
  // Read-only folders: /sys refuses writes even to root; a path under a file fails the same way.
  for (const dbPath of ['/sys/unirl.sqlite', join(file, 'unirl.sqlite')]) {
    assert.throws(
      () => openStore(dbPath),
      (err: Error) =>
        err.message.startsWith(`cannot open the database ${dbPath}: unable to open database file (is its folder there and writable?)`),
      dbPath,
    );
  }
});
