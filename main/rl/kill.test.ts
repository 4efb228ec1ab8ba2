// A training process killed with SIGKILL mid-step: the store opens intact with every committed group, and
// the run resumes from its last checkpoint at the step after it; later steps are discarded, not lost.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../db/store.ts';
import { killTestConfig, redness, ToyPolicy, toyTasks } from './test-fixtures/toy.ts';
import { train } from './trainer.ts';

const child = fileURLToPath(new URL('./test-fixtures/train-child.ts', import.meta.url));

test('SIGKILL mid-step: nothing committed is lost and training resumes from the last checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'unirl-kill-'));
  try {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Kill as soon as step 5 is reported: the child is then inside step 6, after the checkpoint of step 4.
    await new Promise<void>((resolve, reject) => {
      let out = '';
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('step 5\n')) {
          proc.kill('SIGKILL');
          resolve();
        }
      });
      proc.on('exit', (code) => reject(new Error(`the child exited (${code}) before step 5: ${stderr}`)));
    });
    await new Promise((resolve) => proc.once('exit', resolve));

    const store = openStore(join(dir, 'unirl.sqlite'));
    try {
      assert.equal((store.db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check, 'ok');
      const [runId] = store.runs.markInterrupted();
      assert.ok(runId, 'the dead run was still marked running');
      const before = store.groups.list({ runId, limit: 500 }).items.map((g) => ({ id: g.id, step: g.step }));
      const lastStored = Math.max(...before.map((g) => g.step));
      assert.ok(lastStored >= 5);
      for (let step = 1; step <= 5; step++)
        assert.equal(before.filter((g) => g.step === step).length, 3, `step ${step} has all its groups`);
      const checkpoint = store.checkpoints.latest(runId)!;
      assert.ok(checkpoint.step >= 4 && checkpoint.step % 2 === 0);

      const policy = new ToyPolicy();
      const target = lastStored + 2;
      const result = await train(
        { config: killTestConfig(target), store, dataDir: dir, policy, tasks: toyTasks, components: [redness], runId },
        { progress: () => {}, checkCancelled: () => {} },
      );
      assert.equal(result.step, target);
      assert.equal(store.runs.get(runId).status, 'completed');
      // Steps after the checkpoint were drawn by weights no file holds: discarded (kept, flagged), and
      // training went on at the checkpoint's step + 1, so every kept step matches saved weights.
      const all = store.groups.list({ runId, limit: 500, discarded: true }).items;
      const byId = new Map(all.map((g) => [g.id, g]));
      assert.ok(
        before.every((g) => byId.has(g.id)),
        'every group committed before the kill is still there',
      );
      for (const g of before) assert.equal(byId.get(g.id)!.discarded, g.step > checkpoint.step, `group ${g.id} of step ${g.step}`);
      const kept = store.groups.list({ runId, limit: 500 }).items;
      assert.ok(kept.every((g) => !g.discarded));
      assert.deepEqual(
        store.groups.steps(runId),
        Array.from({ length: target }, (_, i) => i + 1),
      );
      for (let step = 1; step <= target; step++)
        assert.equal(kept.filter((g) => g.step === step).length, 3, `step ${step} has its 3 groups once`);
      const [reward] = store.metrics.series({ runId, names: ['reward/mean'] });
      assert.deepEqual(
        reward!.steps,
        Array.from({ length: target }, (_, i) => i + 1),
        'one metric point per kept step',
      );
      assert.match(
        store.log
          .tail({ runId, limit: 50 })
          .map((e) => e.message)
          .join('\n'),
        new RegExp(`resumed at step ${checkpoint.step + 1} from .*groups of later steps discarded`),
      );
    } finally {
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
