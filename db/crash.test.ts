// Nothing committed is lost when the writing process is killed: SIGKILL a writer mid-way, then reopen.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore } from './store.ts';

const WRITER = fileURLToPath(new URL('./test-fixtures/writer.ts', import.meta.url));
const KILL_AFTER_BATCHES = 25;

test('SIGKILL mid-write: the database opens, passes integrity_check and holds every committed batch whole', {
  timeout: 30_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unirl-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dbPath = join(dir, 'unirl.sqlite');
  const writer = spawn(process.execPath, ['--import', 'tsx', WRITER, dbPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    if (writer.exitCode === null && writer.signalCode === null) writer.kill('SIGKILL');
  });

  const committed: { step: number; groupId: number }[] = [];
  const exited = new Promise<NodeJS.Signals | null>((resolve) => writer.once('exit', (_code, signal) => resolve(signal)));
  for await (const line of createInterface({ input: writer.stdout })) {
    const m = /^committed (\d+) (\d+)$/.exec(line);
    if (!m) continue;
    committed.push({ step: Number(m[1]), groupId: Number(m[2]) });
    // Killed while it keeps writing the next batch (each batch is one transaction of ~30 statements).
    if (committed.length === KILL_AFTER_BATCHES) writer.kill('SIGKILL');
  }
  assert.equal(await exited, 'SIGKILL', 'the writer ended on its own before it was killed');
  assert.ok(committed.length >= KILL_AFTER_BATCHES);

  const store = openStore(dbPath);
  t.after(() => store.close());
  assert.equal(store.db.pragma('integrity_check', { simple: true }), 'ok');
  assert.deepEqual(store.db.pragma('foreign_key_check'), []);
  const [run] = store.runs.list();
  assert.ok(run, 'the run survived the crash');
  for (const { step, groupId } of committed) {
    const group = store.groups.detail(groupId);
    assert.equal(group.step, step);
    assert.equal(group.samples.length, 8, `group ${groupId} lost samples`);
    for (const s of group.samples) {
      assert.equal(s.rewards.length, 2);
      assert.equal(store.samples.trajectories(s.id).length, 2);
      assert.ok(store.samples.imagePng(s.id)!.length > 0);
    }
  }
  const lastStep = committed.at(-1)!.step;
  const [reward] = store.metrics.series({ runId: run.id, names: ['reward_mean'] });
  assert.ok(reward);
  // Every reported batch is there; at most one more committed after the last report reached us.
  assert.ok(
    reward.steps.length === lastStep + 1 || reward.steps.length === lastStep + 2,
    `metrics for ${reward.steps.length} steps, last reported ${lastStep}`,
  );
  const groups = store.groups.list({ runId: run.id, limit: 500 });
  assert.equal(groups.total, reward.steps.length, 'a batch was committed in part');
  assert.ok(groups.items.every((g) => g.groupSize === 8));
  const memberCounts = store.db.prepare(`SELECT count(*) AS n FROM samples GROUP BY group_id`).all() as { n: number }[];
  assert.ok(
    memberCounts.every((c) => c.n === 8),
    'a group was committed in part',
  );
});
