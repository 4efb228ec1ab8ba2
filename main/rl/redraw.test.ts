import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../db/store.ts';
import { trainJob } from './job.ts';
import { redrawFrom } from './redraw.ts';

/** Float rounding of one sample drawn alone instead of in the rollout's batch, over 4 SDE steps. */
const TOLERANCE = 1e-3;

test('a re-drawn trajectory matches the stored one within 1e-3 when drawn with the same weights (start or checkpoint)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'unirl-redraw-'));
  try {
    const ctx = { progress: () => {}, checkCancelled: () => {} };
    // Every latent kept in float32, so the comparison measures the re-draw, not the storage.
    const { runId } = await trainJob(
      { dataDir, scenario: 't2i', nano: true, config: { steps: 2, storage: { trajectories: 'all', encoding: 'float32' } } },
      ctx,
    );
    const store = openStore(join(dataDir, 'unirl.sqlite'));
    try {
      for (const step of [1, 2]) {
        const group = store.groups.list({ runId, step, limit: 1 }).items[0]!;
        const member = store.groups.detail(group.id).samples[1]!;
        const stored = store.samples.trajectories(member.id).find((t) => t.kind === 'dm')!;
        const again = await redrawFrom(store, dataDir, member.id);
        assert.equal(again.drawnWithStep, step - 1);
        assert.equal(again.checkpointStep, step - 1, 'the weights that drew it: the start, then checkpoint 1');
        assert.deepEqual(again.skipped, []);
        const [redrawn] = again.trajectories;
        assert.deepEqual(redrawn!.latents.shape, stored.tensors.latents!.shape);
        const a = redrawn!.latents.data as Float32Array;
        const b = stored.tensors.latents!.data as Float32Array;
        let worst = 0;
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
        assert.ok(worst <= TOLERANCE, `step ${step}: max |re-drawn - stored| = ${worst}`);
        // Another sample's seeds draw another trajectory: the comparison can fail.
        const other = store.samples.trajectories(store.groups.detail(group.id).samples[2]!.id).find((t) => t.kind === 'dm')!;
        const c = other.tensors.latents!.data as Float32Array;
        let apart = 0;
        for (let i = 0; i < a.length; i++) apart = Math.max(apart, Math.abs(a[i]! - c[i]!));
        assert.ok(apart > 0.1, `another sample differs (${apart})`);
      }
    } finally {
      store.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
