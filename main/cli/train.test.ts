import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../db/store.ts';
import { UsageError } from './args.ts';
import { stepLine, trainCommand } from './train.ts';

async function quietly<T>(fn: () => Promise<T>): Promise<{ value: T; lines: string[] }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => void lines.push(args.join(' '));
  try {
    return { value: await fn(), lines };
  } finally {
    console.log = log;
  }
}

test('unirl train runs a nano t2i run into the data dir, one line per step', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'unirl-train-cli-'));
  try {
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ rollout: { groupSize: 3 }, checkpointEvery: 5 }));
    const { value, lines } = await quietly(() =>
      trainCommand([
        '--scenario',
        't2i',
        '--preset',
        'nano',
        '--steps',
        '2',
        '--config',
        configFile,
        '--data-dir',
        dir,
        '--name',
        'cli smoke',
      ]),
    );
    assert.equal(value, 0);
    assert.equal(lines.filter((l) => /step \d\/2 {2}reward/.test(l)).length, 2, lines.join('\n'));
    assert.match(lines.join('\n'), /starting from random nano weights/);
    const store = openStore(join(dir, 'unirl.sqlite'));
    try {
      const [run] = store.runs.list();
      assert.equal(run!.name, 'cli smoke');
      assert.equal(run!.status, 'completed');
      assert.equal(run!.step, 2);
      assert.equal((run!.config as { rollout: { groupSize: number } }).rollout.groupSize, 3, 'the config file applies over the nano sizes');
      assert.equal(store.groups.list({ runId: run!.id }).total, 4);
      assert.deepEqual(
        store.checkpoints.list(run!.id).map((c) => c.step),
        [2],
      );
    } finally {
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Ctrl-C pauses a run after its step (checkpoint written) and --resume continues it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'unirl-train-pause-'));
  try {
    const common = ['--scenario', 't2i', '--preset', 'nano', '--data-dir', dir];
    const paused = await quietly(() => {
      const print = console.log;
      // Ctrl-C as the first step's line is printed: the run stops after the step it is in.
      console.log = (...args: unknown[]) => {
        print(...args);
        if (/step 1\/50/.test(args.join(' '))) process.emit('SIGINT');
      };
      return trainCommand([...common, '--steps', '50']).finally(() => (console.log = print));
    });
    assert.equal(paused.value, 0);
    const log = paused.lines.join('\n');
    assert.match(log, /pausing after this step/);
    assert.match(log, /paused; continue with: unirl train --scenario t2i --resume 1/);
    const statusOf = () => {
      const store = openStore(join(dir, 'unirl.sqlite'));
      try {
        const run = store.runs.get(1);
        return { status: run.status, step: run.step, checkpoints: store.checkpoints.list(1).map((c) => c.step) };
      } finally {
        store.close();
      }
    };
    const first = statusOf();
    assert.equal(first.status, 'paused');
    assert.ok(first.step >= 1 && first.step < 50);
    assert.deepEqual(first.checkpoints, [first.step]);
    const resumed = await quietly(() => trainCommand([...common, '--resume', '1', '--steps', String(first.step + 1)]));
    assert.equal(resumed.value, 0);
    assert.match(resumed.lines.join('\n'), /resuming run 1/);
    const after = statusOf();
    assert.equal(after.status, 'completed');
    assert.equal(after.step, first.step + 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unirl train --human sync --annotator larger: the scripted annotator ranks every group and the ranks become rewards', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'unirl-train-cli-'));
  try {
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ rewards: { humanRank: 1 }, human: { rankingsPerGroup: 1 } }));
    const { value } = await quietly(() =>
      trainCommand([
        '--scenario',
        't2i',
        '--preset',
        'nano',
        '--steps',
        '2',
        '--config',
        configFile,
        '--data-dir',
        dir,
        '--human',
        'sync',
        '--annotator',
        'larger',
      ]),
    );
    assert.equal(value, 0);
    const store = openStore(join(dir, 'unirl.sqlite'));
    try {
      const [run] = store.runs.list();
      const groups = store.groups.list({ runId: run!.id }).items;
      assert.equal(groups.length, 4);
      for (const g of groups) {
        assert.equal(g.rankingStatus, 'ranked');
        const detail = store.groups.detail(g.id);
        assert.equal(detail.rankings[0]!.annotator, 'script:larger');
        assert.ok(detail.samples.every((s) => s.rewards.some((r) => r.name === 'humanRank' && r.weight === 1)));
      }
    } finally {
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad train options are usage errors naming the option', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'unirl-train-cli-'));
  try {
    await assert.rejects(
      trainCommand(['--scenario', 'paint', '--data-dir', dir]),
      (e: unknown) => e instanceof UsageError && /--scenario must be one of/.test(e.message),
    );
    await assert.rejects(
      trainCommand(['--scenario', 't2i', '--steps', '2', '--minutes', '1', '--data-dir', dir]),
      /give --steps or --minutes, not both/,
    );
    await assert.rejects(trainCommand(['--scenario', 't2i', '--human', 'maybe', '--data-dir', dir]), /--human must be sync, async or off/);
    await assert.rejects(trainCommand(['--scenario', 't2i', '--steps', '-1', '--data-dir', dir]), /--steps must be a positive integer/);
    await assert.rejects(
      trainCommand(['--scenario', 't2i', '--annotator', 'bluer', '--data-dir', dir]),
      /--annotator must be one of larger, greener/,
    );
    await assert.rejects(
      trainCommand(['--scenario', 't2i', '--preset', 'nano', '--annotator', 'larger', '--data-dir', dir]),
      /scripted annotator needs human mode sync or async/,
    );
    await assert.rejects(
      trainCommand([
        '--scenario',
        't2i',
        '--preset',
        'base',
        '--steps',
        '1',
        '--data-dir',
        dir,
        '--checkpoint',
        join(dir, 'nope.safetensors'),
      ]),
      /checkpoint .*nope.safetensors: no such file/,
    );
    const config = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return ['--scenario', 't2i', '--preset', 'nano', '--data-dir', dir, '--config', join(dir, name)];
    };
    await assert.rejects(
      trainCommand(config('broken.json', '{"optim": {lr: 1}')),
      (e: unknown) => e instanceof UsageError && /--config .*broken\.json: not valid JSON \(/.test(e.message),
    );
    await assert.rejects(trainCommand(config('list.json', '[1]')), /--config .*list\.json: must hold a JSON object/);
    await assert.rejects(
      trainCommand(['--scenario', 't2i', '--data-dir', dir, '--config', join(dir, 'absent.json')]),
      /--config .*absent\.json: no such file/,
    );
    await assert.rejects(trainCommand(config('negative.json', '{"optim": {"lr": {"dm": -1}}}')), /config\.optim\.lr\.dm: Too small/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the step line shows progress, reward, zero-std, KL and clip per term, and timing', () => {
  const line = stepLine({
    runId: 1,
    step: 5,
    totalSteps: 10,
    elapsedSeconds: 30,
    limitSeconds: null,
    metrics: {
      'reward/mean': 0.5,
      'reward/std': 0.25,
      frac_reward_zero_std: 0.125,
      'policy_loss/dm': 0.1,
      'kl/dm': 0.00012,
      'clip_fraction/dm': 0.5,
      'time/step': 3.2,
      'time/rollout': 2,
      'time/update': 1.2,
      samples_per_s: 10,
    },
  });
  assert.equal(
    line,
    '[##########..........] step 5/10  reward 0.500 ±0.250  zero-std 0.13  dm: kl 1.2e-4 clip 0.50  ' +
      '3.2 s (rollout 2.0, update 1.2)  10.0 samples/s',
  );
});
