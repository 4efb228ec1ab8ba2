// `unirl model import` on the torch-built tiny unified model, then `unirl eval` and `unirl train` on the
// registered checkpoint (a nano-size smoke: a few images, two GRPO steps).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../db/store.ts';
import { evalCommand } from './eval.ts';
import { importedModelDir, modelImportCommand } from './model-import.ts';
import { trainCommand } from './train.ts';

const FIXTURE = fileURLToPath(new URL('../models/test-fixtures/tiny-unified/', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'unirl-model-import-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

async function captured(run: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...args: unknown[]) => void out.push(args.join(' '));
  console.error = (...args: unknown[]) => void err.push(args.join(' '));
  try {
    return { code: await run(), out: out.join('\n'), err: err.join('\n') };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

test('model import registers the torch-built model; eval and train run on its checkpoint', async () => {
  const imported = await captured(() => modelImportCommand([FIXTURE, '--data-dir', dataDir]));
  assert.equal(imported.code, 0, imported.err);
  const checkpoint = join(importedModelDir(dataDir, 'tiny-torch'), 'model.safetensors');
  assert.ok(existsSync(checkpoint));
  assert.match(imported.out, /registered tiny-torch: 27271 parameters \(lm 9095, vision 3648, queries 128, connector 544, dit 13856\)/);

  await assert.rejects(
    captured(() => modelImportCommand([FIXTURE, '--data-dir', dataDir])),
    /a model named 'tiny-torch' is already registered/,
  );

  const jsonOut = join(dataDir, 'eval.json');
  const evaluated = await captured(() =>
    evalCommand([
      '--suite',
      'single_object',
      '--generator',
      'model',
      '--checkpoint',
      checkpoint,
      '--limit',
      '2',
      '--samples',
      '2',
      '--steps',
      '3',
      '--json',
      jsonOut,
    ]),
  );
  assert.equal(evaluated.code, 0, evaluated.err);
  assert.match(readFileSync(jsonOut, 'utf8'), /"single_object"/);

  const trained = await captured(() =>
    trainCommand(['--scenario', 't2i', '--steps', '2', '--checkpoint', checkpoint, '--data-dir', dataDir, '--human', 'off']),
  );
  assert.equal(trained.code, 0, trained.err);
  assert.match(trained.out, new RegExp(`starting from ${checkpoint}`));
  const store = openStore(join(dataDir, 'unirl.sqlite'));
  try {
    const [run] = store.runs.list();
    assert.equal(run!.status, 'completed');
    assert.equal(run!.step, 2);
  } finally {
    store.close();
  }
});

test('model import --check names what is wrong and registers nothing', async () => {
  const result = await captured(() => modelImportCommand([join(FIXTURE, 'missing'), '--check', '--data-dir', dataDir]));
  assert.equal(result.code, 1);
  assert.match(result.err, /no such directory/);
  const ok = await captured(() => modelImportCommand([FIXTURE, '--check', '--data-dir', dataDir]));
  assert.equal(ok.code, 0);
  assert.match(ok.out, /tiny-torch matches the adapter \(7 graphs\)/);
});
