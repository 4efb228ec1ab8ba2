import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { COMMANDS, parseCommand, parseFlags, parsePort, UsageError } from './args.ts';
import { readmeCommands } from './help.ts';

const bin = fileURLToPath(new URL('../../bin/unirl.js', import.meta.url));
const readme = fileURLToPath(new URL('../../README.md', import.meta.url));

function unirl(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });
}

test('unirl --help lists every command once; an unknown command is a usage error', () => {
  const help = unirl('--help');
  assert.equal(help.status, 0);
  for (const spec of COMMANDS) {
    const listed = help.stdout.split('\n').filter((line) => line.startsWith(`  ${spec.name} `) && line.includes(spec.summary));
    assert.equal(listed.length, 1, `"${spec.name}" listed once`);
  }
  const unknown = unirl('frobnicate');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
});

test('every command answers --help with its options, and a bad option with the short usage', () => {
  for (const spec of COMMANDS) {
    const words = spec.name.split(' ');
    const help = unirl(...words, '--help');
    assert.equal(help.status, 0, `${spec.name} --help: ${help.stderr}`);
    assert.match(help.stdout, new RegExp(`^unirl ${spec.name} — `));
    for (const option of Object.keys(spec.options))
      assert.match(help.stdout, new RegExp(`\\n  --${option}\\b`), `${spec.name} --help shows --${option}`);

    // The command's own module parses with its table: an unknown option is named, with the usage.
    const bad = unirl(...words, '--bogus');
    assert.equal(bad.status, 2, `${spec.name} --bogus`);
    assert.match(bad.stderr, new RegExp(`^unirl ${spec.name}: unknown option --bogus\\nusage: unirl ${spec.name} `));
    assert.match(bad.stderr, new RegExp(`run "unirl ${spec.name} --help" for all options`));
  }
  const group = unirl('model', '--help');
  assert.equal(group.status, 0);
  assert.match(group.stdout, /unirl model info +Parameters per part/);
  assert.equal(unirl('model', 'frobnicate').status, 2);
});

test('synopses and README examples use only options their table defines', () => {
  for (const spec of COMMANDS) {
    const texts = [...spec.synopsis, ...spec.examples.map(([args]) => args), spec.details ?? ''];
    for (const text of texts) {
      for (const [, name] of text.matchAll(/--([a-z][a-z-]*)/g)) {
        if (name === 'help') continue;
        assert.ok(Object.hasOwn(spec.options, name!), `"unirl ${spec.name}" mentions --${name}, which its table lacks`);
      }
    }
  }
});

test("README's command-line section is the one generated from the tables", () => {
  const text = readFileSync(readme, 'utf8');
  const block = /<!-- cli:begin[^>]*-->\n([\s\S]*?)<!-- cli:end -->/.exec(text);
  assert.ok(block, 'README.md has a <!-- cli:begin --> ... <!-- cli:end --> block');
  assert.equal(block[1], readmeCommands(), 'README is out of date: replace the block with the output of `npx unirl help --markdown`');
});

test('flags parse strictly', () => {
  const spec = { port: 'string', verbose: 'boolean' } as const;
  assert.deepEqual(parseFlags(['--port', '0', 'x', '--verbose'], spec), { flags: { port: '0', verbose: true }, positional: ['x'] });
  assert.deepEqual(parseFlags(['--port=8080'], spec).flags, { port: '8080' });
  assert.throws(() => parseFlags(['--port'], spec), UsageError);
  assert.throws(() => parseFlags(['--port', '--verbose'], spec), /--port needs a value/);
  assert.throws(() => parseFlags(['--verbose=yes'], spec), /--verbose takes no value/);
  assert.throws(() => parseFlags(['--constructor'], spec), /unknown option --constructor/);
  const serve = COMMANDS.find((c) => c.name === 'serve')!;
  assert.throws(() => parseCommand(serve, ['--port']), /--port needs a value \(N\)/);
  assert.equal(parsePort('0', 5175), 0);
  assert.equal(parsePort(undefined, 5175), 5175);
  assert.throws(() => parsePort('70000', 1), /--port must be an integer 0-65535/);
});

test('prune --keep reads latest, best, every and latents, and names a bad item', async () => {
  const { parseKeep } = await import('./prune.ts');
  assert.deepEqual(parseKeep('latest=1,best,every=500,latents=all'), { latest: 1, best: true, every: 500, latents: 'all' });
  assert.deepEqual(parseKeep('latest=3'), { latest: 3, best: false });
  assert.throws(() => parseKeep('latest=0'), /--keep latest needs a whole number >= 1, got "latest=0"/);
  assert.throws(() => parseKeep('newest=2'), /--keep: unknown item "newest=2"/);
});
