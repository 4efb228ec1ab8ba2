import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParamStore, type ParamSpec } from '../runtime/params.ts';
import { AdamW } from '../optim/adamw.ts';
import { loadCheckpoint, optimizerPath, saveCheckpoint } from './checkpoint.ts';
import { readSafetensors, writeSafetensors } from './safetensors.ts';

const specs: ParamSpec[] = [
  { name: 'embed', shape: [5, 4], init: { kind: 'normal', std: 0.02 } },
  { name: 'proj.w', shape: [4, 3], init: { kind: 'xavier' } },
  { name: 'proj.b', shape: [3], init: { kind: 'zeros' } },
];

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function trainedPair(): { store: ParamStore; opt: AdamW } {
  const store = new ParamStore(specs, { seed: 1 });
  const opt = new AdamW(store, { lr: 0.01 });
  const grads = Object.fromEntries(store.list().map((p) => [p.name, new Float32Array(p.size).fill(0.5)]));
  opt.step(grads);
  opt.step(grads);
  return { store, opt };
}

test('checkpoint round trip restores parameters, optimizer state and metadata', () => {
  withDir((dir) => {
    const path = join(dir, 'run.safetensors');
    const { store, opt } = trainedPair();
    saveCheckpoint(path, store, { metadata: { preset: 'tiny', step: '2' }, optimizer: opt });
    assert.equal(optimizerPath(path), join(dir, 'run.optim.safetensors'));

    const restored = new ParamStore(specs, { seed: 99 });
    const restoredOpt = new AdamW(restored, { lr: 0.01 });
    const { metadata } = loadCheckpoint(path, restored, { optimizer: restoredOpt });
    assert.equal(metadata.preset, 'tiny');
    assert.equal(metadata.step, '2');
    assert.deepEqual(restored.flat, store.flat);
    assert.equal(restoredOpt.steps, 2);
    assert.deepEqual(restoredOpt.state(), opt.state());
  });
});

test('checkpoint load errors name the file and tensor, and leave the store untouched', () => {
  withDir((dir) => {
    const path = join(dir, 'run.safetensors');
    const { store, opt } = trainedPair();
    saveCheckpoint(path, store, { optimizer: opt });
    const target = new ParamStore(specs, { seed: 5 });
    const before = target.flat.slice();
    const expectFailure = (other: ParamStore, pattern: RegExp, options = {}): void => {
      assert.throws(() => loadCheckpoint(path, other, options), pattern);
    };

    expectFailure(new ParamStore([...specs, { name: 'extra', shape: [2] }]), /run\.safetensors: missing tensor 'extra'/);
    expectFailure(
      new ParamStore(specs.map((s) => (s.name === 'proj.b' ? { ...s, shape: [4] } : s))),
      /run\.safetensors: tensor 'proj\.b' has shape \[3\], expected \[4\]/,
    );
    expectFailure(new ParamStore(specs.slice(0, 2)), /run\.safetensors: unexpected tensor 'proj\.b'/);
    assert.doesNotThrow(() => loadCheckpoint(path, new ParamStore(specs.slice(0, 2)), { ignoreExtra: true }));

    // Wrong dtype: rewrite one tensor as F64.
    const file = readSafetensors(path);
    writeSafetensors(
      path,
      [...file.tensors].map(
        ([name, t]) => [name, name === 'embed' ? { shape: t.shape, data: Float64Array.from(t.data as Float32Array) } : t] as const,
      ),
      file.metadata,
    );
    expectFailure(target, /run\.safetensors: tensor 'embed' is F64, expected F32/);
    assert.deepEqual(target.flat, before, 'failed loads do not modify the store');
  });
});

test('optimizer companion: missing file, torn pair, and checkpoints saved without optimizer', () => {
  withDir((dir) => {
    const path = join(dir, 'run.safetensors');
    const { store, opt } = trainedPair();
    saveCheckpoint(path, store, { optimizer: opt });
    const target = new ParamStore(specs);
    const targetOpt = new AdamW(target, { lr: 0.01 });

    // A torn save: the optimizer file moved on one step but the parameter file did not.
    opt.step(Object.fromEntries(store.list().map((p) => [p.name, new Float32Array(p.size)])));
    const newerOptim = join(dir, 'newer.safetensors');
    saveCheckpoint(newerOptim, store, { optimizer: opt });
    writeSafetensors(
      optimizerPath(path),
      readSafetensors(optimizerPath(newerOptim)).tensors,
      readSafetensors(optimizerPath(newerOptim)).metadata,
    );
    assert.throws(
      () => loadCheckpoint(path, target, { optimizer: targetOpt }),
      /run\.optim\.safetensors: optimizer step 3 does not match step 2/,
    );

    unlinkSync(optimizerPath(path));
    assert.throws(() => loadCheckpoint(path, target, { optimizer: targetOpt }), /run\.optim\.safetensors: optimizer state file is missing/);

    saveCheckpoint(path, store);
    assert.throws(
      () => loadCheckpoint(path, target, { optimizer: targetOpt }),
      /run\.safetensors: checkpoint was saved without optimizer state/,
    );
    assert.equal(targetOpt.steps, 0);
  });
});

test('a truncated checkpoint names the file', () => {
  withDir((dir) => {
    const path = join(dir, 'run.safetensors');
    const { store } = trainedPair();
    saveCheckpoint(path, store);
    const bytes = readSafetensors(path);
    assert.ok(bytes.tensors.size === 3);
    truncateSync(path, 100);
    assert.throws(() => loadCheckpoint(path, new ParamStore(specs)), new RegExp(`${path.replace(/[.]/g, '\\.')}: truncated`));
  });
});
