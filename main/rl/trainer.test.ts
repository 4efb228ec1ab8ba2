// The GRPO loop on the toy policy (test-fixtures/toy.ts). Rewards favour red; a scripted annotator favours
// green. The loop must raise the reward, store everything, follow human rankings, resume and stop.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore, type Store } from '../../db/index.ts';
import { JobCancelled, type JobContext } from '../compute/job-context.ts';
import { rankQueue } from './annotator.ts';
import { resolveTrainConfig, type TrainConfigInput } from './config.ts';
import type { Policy } from './policy.ts';
import { rankRewards } from './ranking.ts';
import { REWARD_COMPONENT_DEFS } from './rewards.ts';
import { latentStorageOf } from './records.ts';
import { channelMean, redness, SHAPE, TOY_LOSS, ToyPolicy, toyTasks } from './test-fixtures/toy.ts';
import { train } from './trainer.ts';

/** Mean redness of 16 ODE images from fixed noise (a deterministic measure of the policy). */
async function redOf(policy: Policy): Promise<number> {
  const images = await policy.generate(
    Array.from({ length: 16 }, () => toyTasks.next(1, 0)[0]!),
    10,
    99,
  );
  return images.reduce((s, im) => s + channelMean(im, 0), 0) / images.length;
}

const ctx = (cancelAfter = Infinity): JobContext & { lines: string[] } => {
  let checks = 0;
  const lines: string[] = [];
  return {
    lines,
    progress: (p) => lines.push(p.message ?? ''),
    checkCancelled: () => {
      if (++checks > cancelAfter) throw new JobCancelled();
    },
  };
};

function setup(overrides: TrainConfigInput = {}): {
  store: Store;
  dataDir: string;
  policy: ToyPolicy;
  config: ReturnType<typeof resolveTrainConfig>;
  done: () => void;
} {
  const dataDir = mkdtempSync(join(tmpdir(), 'unirl-rl-'));
  const config = resolveTrainConfig(
    't2i',
    {
      // The toy trains Flow-GRPO with group-std advantages (the assertions below compute them so).
      loss: TOY_LOSS,
      train: ['dm'],
      steps: 12,
      storage: { sampledFraction: 0.25 },
      checkpointEvery: 5,
      eval: { every: 0 },
      rollout: { promptsPerStep: 3, groupSize: 6, sdeSteps: 4 },
      optim: { lr: { dm: 0.1 } },
    },
    overrides,
  );
  const store = openStore(':memory:');
  return {
    store,
    dataDir,
    policy: new ToyPolicy(),
    config,
    done: () => {
      store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

test('GRPO raises the reward and stores groups, samples, trajectories, rewards, advantages, metrics, checkpoints', async () => {
  const { store, dataDir, policy, config, done } = setup();
  try {
    const c = ctx();
    const before = await redOf(policy);
    const result = await train({ config, store, dataDir, policy, tasks: toyTasks, components: [redness] }, c);
    assert.equal(result.step, 12);
    assert.equal(result.stoppedBy, 'steps');
    const run = store.runs.get(result.runId);
    assert.equal(run.status, 'completed');
    assert.equal(run.step, 12);
    const [reward] = store.metrics.series({ runId: run.id, names: ['reward/mean'] });
    assert.equal(reward!.values.length, 12);
    const after = await redOf(policy);
    assert.ok(after > before + 0.15, `ODE images' redness went ${before.toFixed(3)} -> ${after.toFixed(3)}`);
    for (const name of [
      'policy_loss/dm',
      'kl/dm',
      'clip_fraction/dm',
      'approx_kl/dm',
      'grad_norm',
      'lr/dm',
      'frac_reward_zero_std',
      'time/rollout',
      'samples_per_s',
      'reward/shapeEval/mean',
    ]) {
      assert.ok(store.metrics.names(run.id).includes(name), `metric ${name} logged`);
    }
    const groups = store.groups.list({ runId: run.id, limit: 500 });
    assert.equal(groups.total, 36);
    const detail = store.groups.detail(groups.items[0]!.id);
    assert.equal(detail.samples.length, 6);
    const advantages = detail.samples.map((s) => s.advantage!);
    assert.ok(Math.abs(advantages.reduce((a, b) => a + b, 0)) < 1e-6, 'advantages of a group sum to 0');
    assert.deepEqual(
      detail.samples[0]!.rewards.map((r) => r.name),
      ['shapeEval'],
    );
    // The storage policy: latents for the sampled groups only (compact), seeds and log-probs for every sample.
    const kept = groups.items.filter((g) => latentStorageOf(config, { step: g.step, index: (g.id - 1) % 3, ranked: false }).latents);
    assert.ok(kept.length > 0 && kept.length < groups.items.length, `${kept.length} of ${groups.items.length} groups kept in full`);
    for (const group of groups.items) {
      const [traj] = store.samples.trajectories(store.groups.detail(group.id).samples[0]!.id);
      assert.equal(traj!.kind, 'dm');
      assert.deepEqual(traj!.tensors.logProbs!.shape, [4]);
      assert.ok(traj!.seeds, `group ${group.id}: the seeds that draw it again`);
      assert.deepEqual(traj!.tensors.latents?.shape, kept.includes(group) ? [5, ...SHAPE] : undefined, `group ${group.id}`);
    }
    // The checkpoint policy: the latest 2 with optimizer state; step 5 (no snapshot, no evaluation) is gone, files too.
    assert.deepEqual(
      store.checkpoints.list(run.id).map((k) => k.step),
      [10, 12],
    );
    assert.deepEqual(
      readdirSync(join(dataDir, 'runs', String(run.id), 'checkpoints')).filter((f) => f.includes('step-000005')),
      [],
    );
    assert.equal(c.lines.length, 12);
  } finally {
    done();
  }
});

test('sync human mode waits for rankings, adds the human rank reward, and fits the preference model', async () => {
  const { store, dataDir, policy, config, done } = setup({
    steps: 3,
    human: { mode: 'sync' },
    rewards: { humanRank: 1, preference: 0.5 },
    preference: { retrainEvery: 10, minPairs: 10 },
  });
  let annotating = true;
  const annotator = (async () => {
    while (annotating) {
      rankQueue(store, 'greener');
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  try {
    const components = [redness, ...REWARD_COMPONENT_DEFS.filter((d) => d.name !== 'shapeEval')];
    const result = await train({ config, store, dataDir, policy, tasks: toyTasks, components, pollMs: 5 }, ctx());
    annotating = false;
    await annotator;
    const groups = store.groups.list({ runId: result.runId, limit: 100 }).items;
    assert.ok(groups.every((g) => g.rankingStatus === 'ranked'));
    const detail = store.groups.detail(groups[0]!.id);
    const human = new Map(detail.samples.map((s) => [s.id, s.rewards.find((r) => r.name === 'humanRank')?.value]));
    assert.deepEqual(human, rankRewards(detail.rankings[0]!.ranks), 'each sample carries its normalised rank');
    const models = store.preferences.list(result.runId);
    assert.ok(models.length >= 1, 'the preference model was fitted');
    assert.ok(models[0]!.trainPairs >= 10);
    const latest = models[models.length - 1]!;
    assert.ok(latest.heldoutAccuracy! >= 0.7, `held-out pair accuracy ${latest.heldoutAccuracy} (${latest.trainPairs} training pairs)`);
    const later = store.groups.detail(groups[groups.length - 1]!.id);
    assert.ok(
      later.samples.every((s) => s.rewards.some((r) => r.name === 'preference')),
      'later groups get the preference reward',
    );
  } finally {
    annotating = false;
    done();
  }
});

test('async human mode trains on with automatic rewards and replays groups when their rankings arrive', async () => {
  const { store, dataDir, policy, config, done } = setup({
    steps: 4,
    human: { mode: 'async', stalenessLimit: 1, groupFraction: 0.5 },
    rewards: { humanRank: 1, preference: 0 },
  });
  try {
    // Rankings arrive between steps, so each step's groups are ranked only after they were first trained.
    const result = await train(
      {
        config,
        store,
        dataDir,
        policy,
        tasks: toyTasks,
        components: [redness, ...REWARD_COMPONENT_DEFS.filter((d) => d.name === 'humanRank')],
        onStep: () => rankQueue(store, 'greener'),
      },
      ctx(),
    );
    const [replayed] = store.metrics.series({ runId: result.runId, names: ['human/replayed_groups'] });
    // 2 of 3 groups per step go to people (round(0.5 x 3)); those of step s are replayed at step s + 1.
    assert.deepEqual(replayed!.values, [0, 2, 2, 2]);
    const groups = store.groups.list({ runId: result.runId, limit: 100 }).items;
    const queued = groups.filter((g) => g.rankingStatus !== 'none');
    assert.equal(queued.length, 8);
    const lastStepGroup = store.groups.detail(queued[queued.length - 1]!.id);
    assert.ok(
      lastStepGroup.samples.every((s) => s.rewards.some((r) => r.name === 'humanRank')),
      'rankings after the last step still reach the store',
    );
    const firstGroup = store.groups.detail(queued[0]!.id);
    const totals = firstGroup.samples.map((s) => s.reward);
    const mean = totals.reduce((a, b) => a + b, 0) / totals.length;
    const std = Math.sqrt(totals.reduce((a, r) => a + (r - mean) ** 2, 0) / totals.length);
    firstGroup.samples.forEach((s, i) =>
      assert.ok(Math.abs(s.advantage! - (totals[i]! - mean) / (std + 1e-4)) < 1e-9, 'advantages were recomputed with the human reward'),
    );
  } finally {
    done();
  }
});

test('sync mode: a skip releases its group, the step trains on the automatic rewards and the run goes on', async () => {
  const { store, dataDir, policy, config, done } = setup({
    steps: 2,
    human: { mode: 'sync', syncTimeoutMinutes: 30 },
    rewards: { preference: 0 },
  });
  let annotating = true;
  const skipper = (async () => {
    while (annotating) {
      for (const g of store.rankings.queue({ annotator: 'ann' }))
        store.rankings.submit({ groupId: g.id, annotator: 'ann', skipped: true, durationMs: 1 });
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  try {
    const components = [redness, ...REWARD_COMPONENT_DEFS.filter((d) => d.name === 'humanRank')];
    const result = await train({ config, store, dataDir, policy, tasks: toyTasks, components, pollMs: 5 }, ctx());
    assert.equal(result.step, 2, 'the run went on without waiting for its timeout');
    const groups = store.groups.list({ runId: result.runId, limit: 100 }).items;
    assert.deepEqual(
      groups.map((g) => [g.rankingStatus, g.queueClosed]),
      groups.map(() => ['none', 'released']),
    );
    assert.ok(
      groups.every((g) => store.groups.detail(g.id).samples.every((s) => !s.rewards.some((r) => r.name === 'humanRank'))),
      'a skip is no ranking',
    );
    const [released] = store.metrics.series({ runId: result.runId, names: ['human/released_groups'] });
    assert.deepEqual(released!.values, [3, 3]);
  } finally {
    annotating = false;
    await skipper;
    done();
  }
});

test("a critique mark becomes its member's critiqueMark reward, and the group is trained again with the new advantages", async () => {
  const { store, dataDir, policy, config, done } = setup({ steps: 3, rewards: { critiqueMark: 2 } });
  let marked: { groupId: number; sampleId: number; advantage: number } | null = null;
  try {
    const components = [redness, ...REWARD_COMPONENT_DEFS.filter((d) => d.name === 'critiqueMark')];
    const result = await train(
      {
        config,
        store,
        dataDir,
        policy,
        tasks: toyTasks,
        components,
        onStep: ({ runId, step }) => {
          if (step !== 1) return;
          // A person reads member 0's critique of step 1 and marks it wrong.
          const group = store.groups.list({ runId, step: 1 }).items[0]!;
          const member = store.samples.members(group.id)[0]!;
          const cycle = store.reflections.insert(member.id, [
            { judgedSampleId: member.id, critique: 'too red', verdict: 'wrong', scorerVerdict: 'correct' },
          ]);
          store.reflections.mark(cycle.rounds[0]!.id, 'ann', false);
          marked = { groupId: group.id, sampleId: member.id, advantage: member.advantage! };
        },
      },
      ctx(),
    );
    const { groupId, sampleId, advantage } = marked!;
    const sample = store.samples.members(groupId).find((s) => s.id === sampleId)!;
    assert.deepEqual(
      sample.rewards.find((r) => r.name === 'critiqueMark'),
      { name: 'critiqueMark', value: -1, weight: 2 },
    );
    assert.ok(sample.advantage! < advantage, `advantage ${advantage} -> ${sample.advantage} after the wrong mark`);
    const [replayed] = store.metrics.series({ runId: result.runId, names: ['human/replayed_groups'] });
    assert.deepEqual(replayed!.values, [0, 1, 0], 'the marked group joined the next update once');
    const [share] = store.metrics.series({ runId: result.runId, names: ['human/reward_share'] });
    assert.ok(share!.values[1]! > 0 && share!.values[0] === 0, `human share of the updates ${share!.values}`);
  } finally {
    done();
  }
});

test('a group that needs two rankings counts once both arrived, merged by mean rank', async () => {
  const { store, dataDir, policy, config, done } = setup({
    steps: 3,
    human: { mode: 'async', rankingsPerGroup: 2, groupFraction: 0.34 },
    rewards: { preference: 0 },
  });
  try {
    const components = [redness, ...REWARD_COMPONENT_DEFS.filter((d) => d.name === 'humanRank')];
    const result = await train(
      {
        config,
        store,
        dataDir,
        policy,
        tasks: toyTasks,
        components,
        onStep: ({ step }) => {
          // Step 1's group: ann ranks it after step 1, bob after step 2.
          const [group] = store.groups.list({ runId: 1, step: 1 }).items;
          const ids = store.samples.members(group!.id).map((s) => s.id);
          const annotator = step === 1 ? 'ann' : step === 2 ? 'bob' : null;
          if (annotator)
            store.rankings.submit({
              groupId: group!.id,
              annotator,
              durationMs: 1,
              ranks: ids.map((sampleId, i) => ({ sampleId, rank: annotator === 'ann' ? i + 1 : ids.length - i })),
            });
        },
      },
      ctx(),
    );
    const [replayed] = store.metrics.series({ runId: result.runId, names: ['human/replayed_groups'] });
    assert.deepEqual(replayed!.values, [0, 0, 1], 'one ranking of two changes nothing; the second makes it count');
    const [group] = store.groups.list({ runId: result.runId, step: 1 }).items;
    // ann and bob ranked in opposite orders: the mean rank ties every sample.
    const human = store.samples.members(group!.id).map((s) => s.rewards.find((r) => r.name === 'humanRank')?.value);
    assert.ok(
      human.every((v) => v !== undefined && Math.abs(v) < 1e-12),
      `mean ranks ${human}`,
    );
  } finally {
    done();
  }
});

test('a stopped run resumes from its checkpoint; cancelling stops with a checkpoint', async () => {
  const { store, dataDir, policy, config, done } = setup({ steps: 2, checkpointEvery: 1 });
  try {
    const first = await train({ config, store, dataDir, policy, tasks: toyTasks, components: [redness] }, ctx(3));
    assert.equal(first.stoppedBy, 'cancelled');
    assert.equal(store.runs.get(first.runId).status, 'stopped');
    assert.equal(store.checkpoints.latest(first.runId)!.step, first.step);

    // A run that was interrupted (process killed) continues from its latest checkpoint with fresh weights loaded.
    const second = setup({ steps: 4, checkpointEvery: 2 });
    try {
      const a = await train(
        {
          config: { ...second.config, steps: 2 },
          store: second.store,
          dataDir: second.dataDir,
          policy: second.policy,
          tasks: toyTasks,
          components: [redness],
        },
        ctx(),
      );
      const saved = Float32Array.from(second.policy.params.flat);
      second.store.db.prepare(`UPDATE runs SET status = 'interrupted' WHERE id = ?`).run(a.runId);
      const fresh = new ToyPolicy();
      const b = await train(
        {
          config: second.config,
          store: second.store,
          dataDir: second.dataDir,
          policy: fresh,
          tasks: toyTasks,
          components: [redness],
          runId: a.runId,
        },
        ctx(),
      );
      assert.equal(b.step, 4);
      assert.deepEqual(second.store.groups.steps(a.runId), [1, 2, 3, 4]);
      assert.notDeepEqual(Array.from(fresh.params.flat), Array.from(saved), 'the resumed run trained on');
    } finally {
      second.done();
    }
  } finally {
    done();
  }
});

test('a config that trains a part the model lacks is refused before any run is created', async () => {
  const { store, dataDir, policy, config, done } = setup({ train: ['lm'] });
  try {
    await assert.rejects(
      train({ config, store, dataDir, policy, tasks: toyTasks, components: [redness] }, ctx()),
      /config\.train: the model has no 'lm' parameters/,
    );
    assert.equal(store.runs.list().length, 0);
  } finally {
    done();
  }
});
