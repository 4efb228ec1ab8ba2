import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { batchFor, benchGraphs, type BenchConfig } from '../reference-models.ts';
import { saveCheckpoint } from '../checkpoint/checkpoint.ts';
import { readSafetensors, writeSafetensors } from '../checkpoint/safetensors.ts';
import { encodeModel } from '../onnx/proto.ts';
import { diffStats } from './arrays.ts';
import { createSession } from './session.ts';

// Optional: the same small networks (the benchmark's decoder and DiT at toy size) through the engine and
// through PyTorch autograd, same weights via safetensors; loss and every gradient must agree.
const PYTHON = '/usr/bin/python3';
const TORCH_SCRIPT = fileURLToPath(new URL('../../../bench/engine_torch.py', import.meta.url));
const torchMissing = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0;
const skip = torchMissing ? `${PYTHON} cannot import torch (apt-get install python3-torch to run this check)` : false;

const TINY: BenchConfig[] = [
  { name: 'decoder-tiny', kind: 'decoder', width: 16, layers: 2, heads: 2, tokens: 6, batch: 2, vocab: 7, patch: 0 },
  { name: 'dit-tiny', kind: 'dit', width: 16, layers: 2, heads: 2, tokens: 6, batch: 2, vocab: 0, patch: 4 },
];

for (const config of TINY) {
  test(`${config.name}: loss and gradients match PyTorch autograd`, { skip }, async () => {
    const { store, train } = benchGraphs(config, 5);
    // Larger than the models' 0.02 init so every path (attention, gates) carries a visible gradient.
    for (const p of store.list()) if (p.init.kind === 'normal') for (let i = 0; i < p.size; i++) p.data[i]! *= 10;
    const session = await createSession(encodeModel(train), { threads: 1, cache: false });
    const dir = mkdtempSync(join(tmpdir(), 'parity-'));
    try {
      const batch = batchFor(config);
      const ours = await session.run({ ...store.feeds(), ...batch.feeds });
      saveCheckpoint(join(dir, 'weights.safetensors'), store);
      writeSafetensors(
        join(dir, 'batch.safetensors'),
        Object.entries(batch.torch).map(([name, data]) => [name, { shape: [data.length], data }] as const),
      );
      const run = spawnSync(
        PYTHON,
        [TORCH_SCRIPT, '--grads', JSON.stringify(config), ...['weights', 'batch', 'out'].map((f) => join(dir, `${f}.safetensors`))],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(run.status, 0, `torch side failed: ${run.stderr}`);
      const reference = readSafetensors(join(dir, 'out.safetensors')).tensors;

      const oursLoss = Number(ours.loss!.data[0]);
      const torchLoss = (reference.get('loss')!.data as Float32Array)[0]!;
      assert.ok(Math.abs(oursLoss - torchLoss) <= 1e-5 * Math.max(1, Math.abs(torchLoss)), `loss: ours ${oursLoss}, torch ${torchLoss}`);
      for (const p of store.list()) {
        const mine = ours[`grad/${p.name}`]!.data as Float32Array;
        const theirs = reference.get(p.name)!.data as Float32Array;
        const { maxAbs, scale } = diffStats(mine, theirs);
        assert.ok(scale > 0, `torch gradient of ${p.name} is all zero: the comparison would be vacuous`);
        assert.ok(maxAbs <= 1e-3 * scale + 1e-7, `grad/${p.name}: max |ours − torch| = ${maxAbs}, max |torch| = ${scale}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await session.release();
    }
  });
}
