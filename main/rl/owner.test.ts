// One trainer per run (issue 16, problem 6): `unirl serve` started beside a live CLI trainer marked that run
// interrupted without looking at its owner, and runs.start then trained it a second time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../db/store.ts';
import { RunController } from '../api/runs.ts';
import { EventBus } from '../api/events.ts';
import type { ComputeClient } from '../compute/client.ts';
import { claimRun, interruptAbandonedRuns, liveOwner, runDirOf } from './owner.ts';

test('a run whose trainer lives is neither marked interrupted at start-up, nor started, nor claimed again', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'unirl-owner-'));
  const store = openStore(':memory:');
  // Another process (a CLI trainer) holds run 1; run 2's trainer is gone.
  const trainer = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  t.after(() => {
    trainer.kill('SIGKILL');
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const [held, dead] = [1, 2].map((i) => store.runs.create({ name: `r${i}`, scenario: 't2i', config: {} }).id) as [number, number];
  for (const id of [held, dead]) store.runs.setStatus(id, 'running');
  mkdirSync(runDirOf(dataDir, held), { recursive: true });
  writeFileSync(join(runDirOf(dataDir, held), 'owner.json'), JSON.stringify({ pid: trainer.pid, host: hostname(), since: 'now' }));

  assert.deepEqual(interruptAbandonedRuns(store, dataDir), [dead]);
  assert.equal(store.runs.get(held).status, 'running');
  assert.equal(store.runs.get(dead).status, 'interrupted');

  const started: number[] = [];
  const compute = {
    start: () => {
      started.push(1);
      return { id: 'j', kind: 'train', result: new Promise(() => {}), cancel() {} };
    },
  };
  const runs = new RunController(store, new EventBus(), compute as unknown as ComputeClient, dataDir);
  assert.throws(() => runs.start(held), new RegExp(`run ${held} is being trained by process ${trainer.pid}`));
  assert.equal(started.length, 0);

  assert.throws(() => claimRun(runDirOf(dataDir, held)), new RegExp(`process ${trainer.pid}`));
  // Once that trainer is gone, the run can be claimed.
  trainer.kill('SIGKILL');
  await new Promise((resolve) => trainer.once('exit', resolve));
  const release = claimRun(runDirOf(dataDir, held));
  assert.equal(liveOwner(runDirOf(dataDir, held))?.pid, process.pid);
  release();
  assert.equal(liveOwner(runDirOf(dataDir, held)), null);
});
