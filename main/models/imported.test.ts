// A unified model built in PyTorch (main/engine/autodiff/corpus/export.py) and brought as ONNX graphs:
// the validator accepts it and names what is wrong with broken copies; the inlined graphs compute what the
// files compute; GRPO trains it (on-policy at the first epoch, parameters move); checkpoints reload.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../db/index.ts';
import { createSession } from '../engine/runtime/session.ts';
import { rng } from '../engine/autodiff/gradcheck.ts';
import { NANO_OVERRIDES, resolveTrainConfig } from '../rl/config.ts';
import { REWARD_COMPONENT_DEFS, type RewardSample } from '../rl/rewards.ts';
import { shapeWorldTasks } from '../rl/tasks.ts';
import { train } from '../rl/trainer.ts';
import { UnifiedPolicy } from '../rl/unified.ts';
import { layoutOf } from './config.ts';
import { adapterTable } from './adapter.ts';
import { MANIFEST_FILE, validateModelDir } from './imported.ts';
import { UnifiedModel } from './unified.ts';

const FIXTURE = fileURLToPath(new URL('./test-fixtures/tiny-unified/', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'unirl-imported-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of the fixture, changed by `edit`. */
function brokenCopy(name: string, edit: (dir: string) => void): string {
  const dir = join(scratch, name);
  cpSync(FIXTURE, dir, { recursive: true });
  edit(dir);
  return dir;
}

const random = (n: number, seed: number) => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r.normal());
};

test('the torch-built tiny model matches the adapter', () => {
  const report = validateModelDir(FIXTURE);
  assert.deepEqual(report.problems, []);
  assert.deepEqual(report.warnings, []);
  assert.equal(report.manifest?.name, 'tiny-torch');
});

test('docs/model.md shows the adapter as the validator checks it', () => {
  const docs = readFileSync(fileURLToPath(new URL('../../docs/model.md', import.meta.url)), 'utf8');
  assert.ok(docs.includes(adapterTable()), 'regenerate the table in docs/model.md from adapterTable()');
});

test('the validator names each missing file, bad manifest field and mismatched input', () => {
  const missing = brokenCopy('missing', (dir) => unlinkSync(join(dir, 'connector.onnx')));
  assert.deepEqual(validateModelDir(missing).problems, [
    'connector.onnx: missing (LM hidden states at the query slots to the DM condition)',
  ]);

  const manifest = JSON.parse(readFileSync(join(FIXTURE, MANIFEST_FILE), 'utf8'));
  const badField = brokenCopy('bad-field', (dir) =>
    writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify({ ...manifest, queries: 0, tokenizer: 'gpt2' })),
  );
  assert.deepEqual(validateModelDir(badField).problems, [
    `${MANIFEST_FILE}: queries must be a positive integer, got 0`,
    `${MANIFEST_FILE}: tokenizer must be 'shapeworld', got "gpt2"`,
  ]);

  // A manifest that says the LM is twice as wide: every file that shows D disagrees, naming the value and dim.
  const wider = brokenCopy('wider', (dir) =>
    writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify({ ...manifest, lm: { ...manifest.lm, width: 32 } })),
  );
  const problems = validateModelDir(wider).problems;
  assert.ok(
    problems.includes("vision.onnx: output 'image_tokens' dim 2 is 16, expected D = 32 ([batch, P=16, D=32])"),
    problems.join('\n'),
  );
  assert.ok(problems.includes("lm_step.onnx: input 'past_k0' dim 3 is 8, expected dh = 16 ([batch, H=2, S, dh=16])"), problems.join('\n'));

  // One more LM layer than the files have: the cache inputs and outputs of layer 1 are missing.
  const deeper = brokenCopy('deeper', (dir) =>
    writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify({ ...manifest, lm: { ...manifest.lm, layers: 2 } })),
  );
  assert.ok(
    validateModelDir(deeper).problems.includes("lm_step.onnx: input 'past_k1' is missing: float32 [batch, H=2, S, dh=8], cached keys"),
  );

  const notOnnx = brokenCopy('not-onnx', (dir) => writeFileSync(join(dir, 'dit.onnx'), 'hello'));
  assert.match(validateModelDir(notOnnx).problems.join('\n'), /^dit\.onnx: not an ONNX model/m);
  assert.throws(() => UnifiedModel.fromModelDir(notOnnx), /not a usable model:\n {2}dit\.onnx: not an ONNX model/);
});

test("inlined into the app's graphs, the files compute what they compute on their own", async () => {
  const model = UnifiedModel.fromModelDir(FIXTURE, { threads: 1 });
  const dit = await createSession(readFileSync(join(FIXTURE, 'dit.onnx')), { threads: 1, cache: false });
  try {
    const { ditTokens, ditPatchDim } = layoutOf(model.config);
    const B = 3;
    const feeds = {
      x: { data: random(B * ditTokens * ditPatchDim, 1), shape: [B, ditTokens, ditPatchDim] },
      t: { data: Float32Array.from([0.1, 0.5, 0.9]), shape: [B] },
      cond: {
        data: random(B * model.config.queries * model.config.dit.condWidth, 2),
        shape: [B, model.config.queries, model.config.dit.condWidth],
      },
      ref: { data: random(B * ditTokens * ditPatchDim, 3), shape: [B, ditTokens, ditPatchDim] },
    };
    const ours = (await model.run('velocity', feeds)).v!.data as Float32Array;
    const theirs = (await dit.run(feeds)).v!.data as Float32Array;
    assert.equal(ours.length, theirs.length);
    assert.ok(ours.every((v, i) => Math.abs(v - theirs[i]!) <= 1e-5 * (1 + Math.abs(theirs[i]!))));
  } finally {
    await dit.release();
    await model.dispose();
  }
});

const BRIGHTNESS = { name: 'shapeEval', score: (s: RewardSample) => Array.from(s.image!.data).reduce((a, b) => a + b, 0) };
const VARIED_ANSWER = { name: 'answer', score: (s: RewardSample) => s.text!.length };

test('GRPO trains the imported model: on-policy at the first epoch, parameters move, the checkpoint reloads', async () => {
  const dataDir = join(scratch, 'grpo');
  const store = openStore(':memory:');
  const model = UnifiedModel.fromModelDir(FIXTURE, { threads: 1 });
  const before = Float32Array.from(model.store.flat);
  try {
    // Flow-GRPO: its first epoch's ratios are 1 (DiffusionNFT, CoT's preset, has no ratio to check).
    const config = resolveTrainConfig('cot', NANO_OVERRIDES, {
      steps: 1,
      optim: { lr: { lm: 1e-3, dm: 1e-3 } },
      loss: { dm: { objective: 'flowGrpo' } },
    });
    // The untrained model never draws or answers right: brightness and length give the groups a spread.
    const components = [...REWARD_COMPONENT_DEFS.filter((c) => c.name !== 'answer' && c.name !== 'shapeEval'), VARIED_ANSWER, BRIGHTNESS];
    const ctx = { progress: () => {}, checkCancelled: () => {} };
    const result = await train(
      { config, store, dataDir, policy: new UnifiedPolicy(model, 'cot'), tasks: shapeWorldTasks('cot', { heldoutPerTask: 1 }), components },
      ctx,
    );
    const series = (name: string) => store.metrics.series({ runId: result.runId, names: [name] })[0]!.values;
    for (const kind of ['lm', 'dm']) assert.ok(series(`approx_kl/${kind}`)[0]! < 1e-9, `${kind}: recomputed log-probs equal the rollout's`);
    assert.ok(series('frac_reward_zero_std')[0]! < 1, 'the step updated');
    const moved = (prefix: string) =>
      model.store.list().some((p) => p.name.startsWith(prefix) && p.data.some((v, i) => v !== before[p.offset + i]));
    // Files map to the app's parts by prefix, so the trainer's part settings act on them: the vision encoder is frozen by default.
    for (const part of ['lm/', 'dit/', 'connector/', 'queries/']) assert.ok(moved(part), `${part} parameters moved`);
    assert.ok(!moved('vision/'), 'vision/ stays frozen');

    const checkpoint = store.checkpoints.list(result.runId)[0]!.path;
    const reloaded = UnifiedModel.load(checkpoint, { threads: 1 }).model;
    assert.equal(reloaded.graphsDir, FIXTURE);
    assert.deepEqual(Array.from(reloaded.store.flat), Array.from(model.store.flat));
    await reloaded.dispose();
  } finally {
    await model.dispose();
    store.close();
  }
});
