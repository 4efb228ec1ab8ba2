import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseFlags, parsePort, UsageError } from './args.ts';

const bin = fileURLToPath(new URL('../../bin/unirl.js', import.meta.url));

function unirl(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 });
}

test('unirl --help lists the commands; an unknown command or option is a usage error', () => {
  const help = unirl('--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /serve\s+Serve the app headless/);
  assert.match(help.stdout, /--data-dir DIR/);

  const unknown = unirl('frobnicate');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);

  const badFlag = unirl('serve', '--prot', '80');
  assert.equal(badFlag.status, 2);
  assert.match(badFlag.stderr, /unknown option --prot/);
});

test('flags parse strictly', () => {
  const spec = { port: 'string', verbose: 'boolean' } as const;
  assert.deepEqual(parseFlags(['--port', '0', 'x', '--verbose'], spec), { flags: { port: '0', verbose: true }, positional: ['x'] });
  assert.deepEqual(parseFlags(['--port=8080'], spec).flags, { port: '8080' });
  assert.throws(() => parseFlags(['--port'], spec), UsageError);
  assert.throws(() => parseFlags(['--port', '--verbose'], spec), /--port needs a value/);
  assert.equal(parsePort('0', 5175), 0);
  assert.equal(parsePort(undefined, 5175), 5175);
  assert.throws(() => parsePort('70000', 1), /--port must be an integer 0-65535/);
});
