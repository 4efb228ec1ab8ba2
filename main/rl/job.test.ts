import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../db/store.ts';
import { JobCancelled } from '../compute/job-context.ts';
import { getPreset } from '../models/config.ts';
import { shapeWorldTokenizer } from '../models/data.ts';
import { UnifiedModel } from '../models/unified.ts';
import { parseTrainConfig } from './config.ts';
import { trainJob } from './job.ts';

test('a job paused after its first step resumes by run id and completes', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'unirl-job-'));
  try {
    let pause = false;
    const ctx = {
      progress: () => {},
      checkCancelled: () => {
        if (pause) throw new JobCancelled();
      },
    };
    const lines: string[] = [];
    const first = await trainJob({ dataDir, scenario: 'text', nano: true, config: { steps: 3 }, runName: 'paused run' }, ctx, {
      onStep: () => (pause = true),
      log: (l) => lines.push(l),
      cancelledStatus: () => 'paused',
    });
    assert.equal(first.stoppedBy, 'cancelled');
    assert.equal(first.step, 1);
    assert.match(lines.join('\n'), /text: starting from random nano weights/);
    const store = openStore(join(dataDir, 'unirl.sqlite'));
    try {
      assert.equal(store.runs.get(first.runId).status, 'paused');
    } finally {
      store.close();
    }
    pause = false;
    await assert.rejects(trainJob({ dataDir, scenario: 'vqa', runId: first.runId }, ctx), /run \d+ is a text run, not vqa/);
    const second = await trainJob({ dataDir, scenario: 'text', runId: first.runId }, ctx);
    assert.equal(second.step, 3);
    assert.equal(second.stoppedBy, 'steps');
    const reopened = openStore(join(dataDir, 'unirl.sqlite'));
    try {
      assert.equal(reopened.runs.get(first.runId).status, 'completed');
      assert.deepEqual(reopened.groups.steps(first.runId), [1, 2, 3]);
      assert.equal(reopened.runs.get(first.runId).name, 'paused run');
    } finally {
      reopened.close();
    }
    // A completed run goes on when given more steps, and says so when not.
    await assert.rejects(trainJob({ dataDir, scenario: 'text', runId: first.runId }, ctx), /run \d+ completed its 3 steps: give more/);
    const third = await trainJob({ dataDir, scenario: 'text', runId: first.runId, config: { steps: 4 } }, ctx);
    assert.equal(third.step, 4);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a new run records the weights it starts from in its config', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'unirl-job-'));
  try {
    const starting = join(dataDir, 'nano.safetensors');
    const model = UnifiedModel.create(getPreset('nano'), shapeWorldTokenizer(), { threads: 1 });
    model.save(starting);
    await model.dispose();
    const ctx = { progress: () => {}, checkCancelled: () => {} };
    const result = await trainJob({ dataDir, scenario: 'text', nano: true, checkpoint: starting, config: { steps: 1 } }, ctx);
    const store = openStore(join(dataDir, 'unirl.sqlite'));
    try {
      assert.equal(parseTrainConfig(store.runs.get(result.runId).config).model.checkpoint, starting);
    } finally {
      store.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a run left running by a dead trainer resumes; one whose trainer lives is refused', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'unirl-job-'));
  try {
    let pause = false;
    const ctx = {
      progress: () => {},
      checkCancelled: () => {
        if (pause) throw new JobCancelled();
      },
    };
    const first = await trainJob({ dataDir, scenario: 'text', nano: true, config: { steps: 2 } }, ctx, {
      onStep: () => (pause = true),
      cancelledStatus: () => 'paused',
    });
    pause = false;
    const runDir = join(dataDir, 'runs', String(first.runId));
    assert.ok(!existsSync(join(runDir, 'owner.json')), 'a trainer gives the run up when it stops');
    // What a killed trainer leaves: the run marked running, and its owner file.
    const store = openStore(join(dataDir, 'unirl.sqlite'));
    store.runs.setStatus(first.runId, 'running');
    store.close();
    const leaveOwner = (pid: number) =>
      writeFileSync(join(runDir, 'owner.json'), JSON.stringify({ pid, host: hostname(), since: '2026-11-26T20:00:00Z' }));
    leaveOwner(process.pid);
    await assert.rejects(
      trainJob({ dataDir, scenario: 'text', runId: first.runId }, ctx),
      new RegExp(`run ${first.runId} is being trained by process ${process.pid}`),
    );
    leaveOwner(spawnSync(process.execPath, ['-e', '']).pid); // a process that has exited
    const lines: string[] = [];
    const second = await trainJob({ dataDir, scenario: 'text', runId: first.runId }, ctx, { log: (l) => lines.push(l) });
    assert.match(lines.join('\n'), /left running by a trainer that is gone; resuming it/);
    assert.equal(second.step, 2);
    assert.equal(second.stoppedBy, 'steps');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
