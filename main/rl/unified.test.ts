// GRPO on the real unified model (nano preset, random weights nudged off their initialisation): a few steps of each scenario through the
// trainer, with the checks that tie the rollout to the update: at the first epoch the recomputed
// log-probs equal the recorded ones (ratio 1, approx KL 0) and the policy equals its reference (KL 0).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../db/index.ts';
import { getPreset } from '../models/config.ts';
import { shapeWorldTokenizer } from '../models/data.ts';
import { UnifiedModel } from '../models/unified.ts';
import { NANO_OVERRIDES, resolveTrainConfig } from './config.ts';
import { REWARD_COMPONENT_DEFS, type RewardSample } from './rewards.ts';
import { shapeWorldTasks } from './tasks.ts';
import { train } from './trainer.ts';
import { nanoModel } from './test-fixtures/nano.ts';
import { UnifiedPolicy } from './unified.ts';

const tokenizer = shapeWorldTokenizer();
const BRIGHTNESS = { name: 'shapeEval', score: (s: RewardSample) => Array.from(s.image!.data).reduce((a, b) => a + b, 0) };
const VARIED_ANSWER = { name: 'answer', score: (s: RewardSample) => s.text!.length };
const ctx = { progress: () => {}, checkCancelled: () => {} };

for (const scenario of ['t2i', 'cot', 'text', 'vqa'] as const) {
  test(`${scenario}: nano GRPO steps run, store their trajectories, and start on-policy`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), `unirl-${scenario}-`));
    const store = openStore(':memory:');
    const model = nanoModel(3);
    try {
      // Flow-GRPO: its first epoch's ratios are 1 (DiffusionNFT, t2i's preset, has no ratio).
      const config = resolveTrainConfig(scenario, NANO_OVERRIDES, {
        optim: { lr: { lm: 1e-3, dm: 1e-3 } },
        eval: { every: 2, odeSteps: 2 },
        loss: { dm: { objective: 'flowGrpo' } },
      });
      const lines: string[] = [];
      // A random nano model never draws or answers right (every group would tie and nothing would update):
      // score images by brightness and answers by length instead.
      const components = [...REWARD_COMPONENT_DEFS.filter((c) => c.name !== 'answer' && c.name !== 'shapeEval'), VARIED_ANSWER, BRIGHTNESS];
      const result = await train(
        {
          config,
          store,
          dataDir,
          policy: new UnifiedPolicy(model, scenario),
          tasks: shapeWorldTasks(scenario, { heldoutPerTask: 1 }),
          components,
          onStep: (s) => lines.push(`step ${s.step}`),
        },
        ctx,
      );
      assert.equal(result.step, 2);
      assert.deepEqual(lines, ['step 1', 'step 2']);
      const names = store.metrics.names(result.runId);
      const series = (name: string) => store.metrics.series({ runId: result.runId, names: [name] })[0]!.values;
      const lm = scenario !== 't2i';
      const dm = scenario === 't2i' || scenario === 'cot';
      for (const kind of [...(lm ? ['lm'] : []), ...(dm ? ['dm'] : [])]) {
        assert.ok(series(`approx_kl/${kind}`)[0]! < 1e-9, `${kind}: recomputed log-probs equal the rollout's at the first epoch`);
        assert.equal(series(`clip_fraction/${kind}`)[0], 0);
        assert.ok(Math.abs(series(`kl/${kind}`)[0]!) < 1e-9, `${kind}: the policy starts at its reference`);
      }
      assert.ok(series('frac_reward_zero_std')[0]! < 1, 'the first step updated');
      assert.equal(
        store.metrics.series({ runId: result.runId, names: ['eval/accuracy'], afterStep: 1 })[0]!.steps[0],
        2,
        'held-out evaluation at step 2',
      );
      if (lm) assert.ok(names.includes('lm/length_mean') && names.includes('entropy/lm'));
      const groups = store.groups.list({ runId: result.runId }).items;
      assert.equal(groups.length, 4);
      const sample = store.groups.detail(groups[0]!.id).samples[0]!;
      const kinds = store.samples
        .trajectories(sample.id)
        .map((t) => t.kind)
        .sort();
      assert.deepEqual(kinds, [...(dm ? ['dm'] : []), ...(lm ? ['lm'] : [])]);
      if (dm) assert.deepEqual(sample.image, { width: 32, height: 32 });
      assert.ok(sample.rewards.length >= 1);
      assert.equal(store.checkpoints.list(result.runId).length, 2);
    } finally {
      await model.dispose();
      store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

test('a trained nano t2i policy moves away from its reference (KL > 0 at the second step)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'unirl-kl-'));
  const store = openStore(':memory:');
  const model = UnifiedModel.create(getPreset('nano'), tokenizer, { seed: 4, threads: 1 });
  try {
    const config = resolveTrainConfig('t2i', NANO_OVERRIDES, { optim: { lr: { dm: 1e-2 } } });
    const policy = new UnifiedPolicy(model, 't2i');
    const result = await train({ config, store, dataDir, policy, tasks: shapeWorldTasks('t2i'), components: [BRIGHTNESS] }, ctx);
    const kl = store.metrics.series({ runId: result.runId, names: ['kl/dm'] })[0]!.values;
    assert.equal(kl[0], 0);
    assert.ok(kl[1]! > 0, `kl/dm at step 2: ${kl[1]}`);
  } finally {
    await model.dispose();
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("checkpoints keep the starting weights' sampling settings (CFG scale, time shift) and nothing else of their metadata", async () => {
  const model = UnifiedModel.create(getPreset('nano'), tokenizer, { seed: 1, threads: 1 });
  try {
    const metadata = new UnifiedPolicy(model, 't2i', { cfg_scale: '2.5', time_shift: '3', step: '9000', loss: '0.1' }).checkpointMetadata();
    assert.equal(metadata.cfg_scale, '2.5');
    assert.equal(metadata.time_shift, '3');
    assert.equal(metadata.step, undefined);
    assert.equal(metadata.loss, undefined);
    assert.equal(metadata.preset, 'nano');
    assert.equal(new UnifiedPolicy(model, 't2i').checkpointMetadata().cfg_scale, undefined);
  } finally {
    await model.dispose();
  }
});

test('the update in passes of a few samples gives the loss, gradients and metrics of one pass', async () => {
  const model = nanoModel(8);
  try {
    // Reflection has both terms and a varying number of completions and trajectories per sample.
    const whole = new UnifiedPolicy(model, 'reflect', {}, 64);
    const inPasses = new UnifiedPolicy(model, 'reflect', {}, 4);
    const items = shapeWorldTasks('reflect').next(2, 0);
    const rolled = await whole.rollout(items, {
      groupSize: 3,
      sdeSteps: 3,
      noiseLevel: 0.7,
      sameNoisePerGroup: true,
      temperature: 1,
      topP: 1,
      maxNewTokens: 8,
      seed: 2,
      editCycle: true,
      reflectionRounds: 2,
    });
    const batch = items.flatMap((item, i) =>
      rolled[i]!.map((sample, k) => ({ item, sample, advantage: k - 1, splitAdvantage: 0.5 - k, dmSteps: [0, 1] })),
    );
    // Off the reference (and off-policy), so the KL terms and the ratios have gradients too.
    const flat = model.store.flat;
    for (let i = 0; i < flat.length; i += 7) flat[i]! += 1e-3;
    const terms = { lm: { clipRange: 0.2, klBeta: 0.01 }, dm: { clipRange: 0.2, klBeta: 0.04 } };
    const a = await whole.objective(batch, terms);
    const b = await inPasses.objective(batch, terms);
    const near = (x: number, y: number, what: string) =>
      assert.ok(Math.abs(x - y) <= 1e-5 * Math.max(1, Math.abs(x)), `${what}: ${x} vs ${y}`);
    near(a.loss, b.loss, 'loss');
    assert.deepEqual(Object.keys(b.metrics).sort(), Object.keys(a.metrics).sort());
    // The LM's token means (entropy, clip fraction, approx KL) combine passes by completions, not tokens: close, not equal.
    const tokenMeans = new Set(['entropy/lm', 'clip_fraction/lm', 'approx_kl/lm']);
    for (const [name, value] of Object.entries(a.metrics)) {
      if (tokenMeans.has(name))
        assert.ok(Math.abs(value - b.metrics[name]!) <= 0.02 * Math.abs(value) + 1e-6, `${name}: ${value} vs ${b.metrics[name]}`);
      else near(value, b.metrics[name]!, name);
    }
    for (const [name, grad] of Object.entries(a.grads)) {
      const scale = grad.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const worst = grad.reduce((m, v, i) => Math.max(m, Math.abs(v - b.grads[name]![i]!)), 0);
      assert.ok(worst <= 1e-4 * scale + 1e-9, `${name}: max |diff| ${worst} against max |grad| ${scale}`);
    }
    assert.ok(
      a.grads['dit/block0/cross/kv/weight']!.some((v) => v !== 0) && a.grads['lm/embed']!.some((v) => v !== 0),
      'both terms have gradients',
    );
  } finally {
    await model.dispose();
  }
});

test(
  'DiffusionNFT on the unified model: no gradient at zero advantages, ' + 'opposite gradients for opposite advantages, and a trainer run',
  async () => {
    const model = nanoModel(5);
    const dataDir = mkdtempSync(join(tmpdir(), 'unirl-nft-'));
    const store = openStore(':memory:');
    try {
      const policy = new UnifiedPolicy(model, 't2i');
      const items = shapeWorldTasks('t2i').next(1, 0);
      const [group] = await policy.rollout(items, {
        groupSize: 2,
        sdeSteps: 3,
        noiseLevel: 0.7,
        sameNoisePerGroup: false,
        temperature: 1,
        topP: 1,
        maxNewTokens: 8,
        seed: 3,
        editCycle: false,
        reflectionRounds: 0,
      });
      const terms = { dm: { clipRange: 1e-4, klBeta: 0, objective: 'nft' as const, advantageClip: 1 } };
      const grads = async (advantage: number) =>
        (
          await policy.objective(
            group!.map((sample) => ({ item: items[0]!, sample, advantage, dmSteps: [0, 1] })),
            terms,
          )
        ).grads;
      const name = 'dit/block0/cross/kv/weight';
      const [zero, up, down] = [await grads(0), await grads(0.5), await grads(-0.5)];
      const scale = up[name]!.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(scale > 1e-6, `a non-zero advantage has a gradient (max ${scale})`);
      // At v_theta = v_old the loss's gradient is (2r - 1)·(v_old - v*): zero at r = 1/2, odd in the advantage.
      assert.ok(
        zero[name]!.every((v) => Math.abs(v) <= 1e-6 * scale),
        'r = 1/2: the positive and negative pulls cancel',
      );
      assert.ok(
        up[name]!.every((v, i) => Math.abs(v + down[name]![i]!) <= 1e-4 * scale + 1e-9),
        'opposite advantages pull opposite ways',
      );

      const config = resolveTrainConfig('t2i', NANO_OVERRIDES, {
        loss: { dm: { objective: 'nft', klBeta: 1e-4 }, advantage: 'globalStd' },
        rollout: { sdeWindow: { size: 2, start: 0 }, timestepFraction: 1 },
      });
      const result = await train({ config, store, dataDir, policy, tasks: shapeWorldTasks('t2i'), components: [BRIGHTNESS] }, ctx);
      const series = (metric: string) => store.metrics.series({ runId: result.runId, names: [metric] })[0]!.values;
      assert.equal(result.step, config.steps);
      assert.ok(
        series('policy_loss/dm').every(Number.isFinite) && series('old_deviation/dm')[0]! < 1e-9,
        'the first epoch starts at the sampling policy',
      );
      const drawn = store.samples
        .trajectories(store.groups.detail(store.groups.list({ runId: result.runId }).items[0]!.id).samples[0]!.id)
        .find((t) => t.kind === 'dm')!;
      assert.deepEqual(
        Array.from(drawn.tensors.logProbs!.data as Float32Array, (l) => l !== 0),
        [true, true, ...Array(config.rollout.sdeSteps - 2).fill(false)],
        'the SDE only in the window',
      );
    } finally {
      await model.dispose();
      store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);

// CoT and reflection write and draw: the old-policy pass of DiffusionNFT must feed the DM term only (the LM
// term takes its old log-probs from the rollout). Editing trains the edit and its reverse edit.
for (const scenario of ['cot', 'reflect', 'edit'] as const) {
  test(`${scenario}: a DiffusionNFT step trains every trained part`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), `unirl-nft-${scenario}-`));
    const store = openStore(':memory:');
    const model = nanoModel(4);
    try {
      const config = resolveTrainConfig(scenario, NANO_OVERRIDES, {
        steps: 1,
        optim: { lr: { lm: 1e-3, dm: 1e-3 } },
        loss: { dm: { objective: 'nft', klBeta: 1e-4 }, advantage: 'globalStd' },
      });
      // Brightness stands in for edit compliance too: a random nano model's edits all fail the verdict.
      const components = [
        ...REWARD_COMPONENT_DEFS.filter((c) => !['answer', 'shapeEval', 'editCompliance'].includes(c.name)),
        VARIED_ANSWER,
        BRIGHTNESS,
        { ...BRIGHTNESS, name: 'editCompliance' },
      ];
      const policy = new UnifiedPolicy(model, scenario);
      const result = await train({ config, store, dataDir, policy, tasks: shapeWorldTasks(scenario), components }, ctx);
      const series = (name: string) => store.metrics.series({ runId: result.runId, names: [name] })[0]?.values ?? [];
      assert.equal(result.step, 1);
      for (const name of [...(scenario === 'edit' ? [] : ['policy_loss/lm']), 'policy_loss/dm', 'old_deviation/dm'])
        assert.ok(series(name).length === 1 && series(name).every(Number.isFinite), `${name} recorded: ${series(name)}`);
    } finally {
      await model.dispose();
      store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}
