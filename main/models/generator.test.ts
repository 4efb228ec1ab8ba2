// The `model` generator behind ShapeEval's interface: registered by name, loads a checkpoint, answers
// every kind of suite task with well-formed outputs, and gives the same image for the same seed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runSuite } from '../world/benchmark.ts';
import { createGenerator, listGenerators } from '../world/generators.ts';
import { buildSuite } from '../world/suites.ts';
import { getPreset } from './config.ts';
import { shapeWorldTokenizer } from './data.ts';
import { readCritique } from './formats.ts';
import './generator.ts';
import { UnifiedModel } from './unified.ts';

const dir = mkdtempSync(join(tmpdir(), 'unirl-generator-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the model generator is registered and runs every kind of ShapeEval task', async () => {
  assert.ok(listGenerators().some((g) => g.name === 'model'));
  const checkpoint = join(dir, 'nano.safetensors');
  const model = UnifiedModel.create(getPreset('nano'), shapeWorldTokenizer(), { threads: 1 });
  model.save(checkpoint);
  await model.dispose();
  const generator = await createGenerator('model', { checkpoint, steps: 2, threads: 1 });
  try {
    for (const name of ['single_object', 'edit', 'question', 'reflection', 'rewrite', 'refine']) {
      const report = await runSuite(buildSuite(name, { limit: 1, samplesPerItem: 1 }), generator);
      for (const task of report.tasks) {
        assert.equal(task.skipped, undefined, `${task.task} skipped`);
        assert.ok(task.accuracy >= 0 && task.accuracy <= 1);
      }
    }
    // Rewrites: the greedy reasoning completion of the text scenario's prompt, cut at <eos>.
    const [rewrite] = await generator.rewrite!([{ prompt: 'a shape with three corners' }]);
    assert.equal(typeof rewrite, 'string');
    assert.ok(!rewrite!.includes('<eos>'));
    const request = { prompt: 'a red circle', seed: 5, width: 32, height: 32 };
    const [a] = await generator.textToImage!([request]);
    const [b, other] = await generator.textToImage!([request, { ...request, seed: 6 }]);
    assert.deepEqual(a!.data, b!.data, 'same seed, same image, whatever the batch');
    assert.notDeepEqual(a!.data, other!.data);
    await assert.rejects(generator.textToImage!([{ ...request, width: 64, height: 64 }]), /draws 32x32 images/);
    // Reflection: the first image is the single-shot image of the seed; every round's critique is read as the
    // RL reflect scenario reads it, and a 'wrong' one is refined (one image more).
    const [cycle, short] = await generator.reflect!([
      { ...request, rounds: 2 },
      { ...request, seed: 6, rounds: 1 },
    ]);
    assert.deepEqual(cycle!.images[0]!.data, a!.data);
    assert.deepEqual(short!.images[0]!.data, other!.data);
    for (const [c, k] of [
      [cycle!, 2],
      [short!, 1],
    ] as const) {
      assert.ok(c.rounds.length >= 1 && c.rounds.length <= k);
      assert.equal(c.images.length, 1 + c.rounds.filter((r) => r.verdict === 'wrong').length);
      for (const r of c.rounds) {
        assert.equal(r.verdict, readCritique(r.critique).verdict);
        assert.ok(!r.critique.includes('<eos>'));
      }
    }
  } finally {
    await generator.dispose!();
  }
});

test("the ODE grid's time shift comes from the option, else the checkpoint's time_shift, and must be positive", async () => {
  const model = UnifiedModel.create(getPreset('nano'), shapeWorldTokenizer(), { threads: 1 });
  // adaLN-Zero starts the DiT at a constant velocity, which every grid integrates alike: perturb it.
  const flat = model.store.flat;
  for (let i = 0; i < flat.length; i++) flat[i]! += 0.05 * Math.sin(i);
  const plain = join(dir, 'plain.safetensors');
  const shifted = join(dir, 'shifted.safetensors');
  model.save(plain);
  model.save(shifted, { metadata: { time_shift: '3' } });
  await model.dispose();
  const request = { prompt: 'a red circle', seed: 5, width: 32, height: 32 };
  const drawWith = async (options: Record<string, unknown>) => {
    const generator = await createGenerator('model', { steps: 3, threads: 1, ...options });
    try {
      return (await generator.textToImage!([request]))[0]!.data;
    } finally {
      await generator.dispose!();
    }
  };
  const uniform = await drawWith({ checkpoint: plain });
  const byMetadata = await drawWith({ checkpoint: shifted });
  assert.notDeepEqual(byMetadata, uniform, 'the checkpoint recommends shift 3');
  assert.deepEqual(await drawWith({ checkpoint: plain, shift: 3 }), byMetadata, 'the option gives the same grid');
  assert.deepEqual(await drawWith({ checkpoint: shifted, shift: 1 }), uniform, 'an explicit option wins over the metadata');
  await assert.rejects(drawWith({ checkpoint: plain, shift: 0 }), /time shift must be > 0/);
});
