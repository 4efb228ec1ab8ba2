// The algorithm alone (grpo.ts): steps on the toy policy with no store and no people raise the reward,
// the hook sees every group scored before the update, and grpo.ts stays free of the store and of people.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { AdamW } from '../engine/optim/adamw.ts';
import { constantLr } from '../engine/optim/schedule.ts';
import { resolveTrainConfig } from './config.ts';
import { grpoStep, type ScoredGroup } from './grpo.ts';
import { scenarioModule } from './scenarios/index.ts';
import { channelMean, redness, TOY_LOSS, ToyPolicy, toyTasks } from './test-fixtures/toy.ts';

test('grpoStep raises the reward with no store, handing each scored group to the hook before the update', async () => {
  const cfg = resolveTrainConfig('t2i', {
    loss: TOY_LOSS,
    train: ['dm'],
    rollout: { promptsPerStep: 3, groupSize: 6, sdeSteps: 4 },
    optim: { lr: { dm: 0.1 } },
  });
  const policy = new ToyPolicy();
  const optimizer = new AdamW(policy.params, {
    lr: 0.1,
    betas: cfg.optim.betas,
    weightDecay: 0,
    groups: { dm: { lr: 0.1 } },
    schedule: constantLr(),
  });
  const env = {
    cfg,
    policy,
    scenario: scenarioModule('t2i'),
    optimizer,
    components: [redness],
    wantsFeatures: false,
    checkCancelled: () => {},
  };
  const means: number[] = [];
  let seen: ScoredGroup[] = [];
  for (let step = 1; step <= 10; step++) {
    const before = Float32Array.from(policy.params.flat);
    const { groups, metrics } = await grpoStep(env, step, toyTasks.next(3, step), {
      rewardContext: () => ({}),
      scored: async (scored) => {
        seen = scored;
        assert.ok(
          policy.params.flat.every((v, i) => v === before[i]),
          'the hook runs before the update',
        );
        return [];
      },
    });
    assert.equal(seen, groups);
    assert.ok(groups.every((g) => g.advantages.length === 6 && Math.abs(g.advantages.reduce((a, b) => a + b, 0)) < 1e-6));
    for (const name of ['reward/mean', 'policy_loss/dm', 'grad_norm', 'time/rollout', 'time/update'])
      assert.ok(name in metrics, `${name} in ${Object.keys(metrics)}`);
    means.push(
      groups
        .flatMap((g) => g.samples.map((s) => channelMean(s.turns[0]!.kind === 'image' ? s.turns[0]!.image : assert.fail(), 0)))
        .reduce((a, b) => a + b, 0) / 18,
    );
  }
  const first = (means[0]! + means[1]!) / 2;
  const last = (means[8]! + means[9]!) / 2;
  assert.ok(last > first + 0.1, `redness of the rollouts ${first.toFixed(3)} -> ${last.toFixed(3)}`);
});

test('grpo.ts imports nothing from the store, people, the recorder or the evaluator', () => {
  const imports = [...readFileSync(new URL('./grpo.ts', import.meta.url), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
  assert.deepEqual(
    imports.filter((path) => /db\/|human-feedback|recorder|evaluator|feedback\.ts|trainer/.test(path)),
    [],
  );
});
