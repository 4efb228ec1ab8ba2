// `unirl model` and `unirl pretrain` on the nano preset: info numbers add up, a short pretraining run
// writes a checkpoint whose weights export and load, and bad flags name the flag.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readSafetensors } from '../engine/checkpoint/safetensors.ts';
import type { ModelInfo } from '../models/info.ts';
import { PARTS } from '../models/unified.ts';
import { UsageError } from './args.ts';
import { modelInfoCommand, modelSpeedCommand, modelWeightsCommand } from './model.ts';
import { pretrainCommand } from './pretrain.ts';

const dir = mkdtempSync(join(tmpdir(), 'unirl-cli-model-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function captured(run: () => Promise<number>): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => void lines.push(args.join(' '));
  try {
    return { code: await run(), out: lines.join('\n') };
  } finally {
    console.log = original;
  }
}

test('model info: parts add up to the total; FLOPs are positive and a 40-step image costs more than a 10-step one', async () => {
  const { code, out } = await captured(() => modelInfoCommand(['--preset', 'nano', '--json']));
  assert.equal(code, 0);
  const info = JSON.parse(out) as ModelInfo;
  assert.equal(
    info.parameters.total,
    PARTS.reduce((s, p) => s + info.parameters[p], 0),
  );
  assert.ok(PARTS.every((p) => info.parameters[p] > 0));
  assert.ok(info.flops.ditStep > 0 && info.flops.condition > 0 && info.flops.lmToken > 0);
  assert.ok(info.flops.image40Steps > info.flops.image10Steps);
  // Training a DM example (forward + backward through DiT, connector, LM, vision) costs more than a forward DiT step.
  assert.ok(info.flops.trainDm > info.flops.ditStep);
});

test('pretrain then weights: a short run writes a checkpoint whose weights export without optimizer state', async () => {
  const out = join(dir, 'nano.safetensors');
  const run = await captured(() =>
    pretrainCommand(['--preset', 'nano', '--steps', '3', '--threads', '1', '--data-dir', dir, '--out', out]),
  );
  assert.equal(run.code, 0);
  assert.match(run.out, /done: 3 steps/);
  const shipped = join(dir, 'shipped.safetensors');
  assert.equal(
    (await captured(() => modelWeightsCommand(['--checkpoint', out, '--out', shipped, '--cfg-scale', '2', '--time-shift', '3']))).code,
    0,
  );
  const { metadata } = readSafetensors(shipped);
  assert.equal(metadata.cfg_scale, '2');
  assert.equal(metadata.time_shift, '3');
  assert.equal(metadata.step, '3');
  assert.equal(metadata.optimizer_step, undefined);
});

test('bad flags are usage errors that name the flag', async () => {
  await assert.rejects(
    pretrainCommand(['--preset', 'nano']),
    (e: unknown) => e instanceof UsageError && /--minutes N or --steps N/.test(e.message),
  );
  await assert.rejects(pretrainCommand(['--steps', '-2']), /--steps must be a positive integer/);
  await assert.rejects(pretrainCommand(['--steps', '2', '--mix', 'spatial']), /--mix must be one of balanced, relations, got "spatial"/);
  await assert.rejects(pretrainCommand(['--steps', '2', '--resume', '--from', 'a.safetensors']), /give one/);
  await assert.rejects(modelSpeedCommand(['--repeats', '0']), /--repeats must be a positive integer/);
  await assert.rejects(modelInfoCommand(['--preset', 'huge']), /unknown model preset 'huge'/);
  for (const flag of ['--cfg-scale', '--time-shift']) {
    await assert.rejects(
      modelWeightsCommand(['--checkpoint', 'in.safetensors', '--out', 'out.safetensors', flag, '0']),
      new RegExp(`${flag} must be a number > 0, got "0"`),
    );
  }
});
