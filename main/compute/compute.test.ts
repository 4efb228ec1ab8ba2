import { test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ComputeClient, JobFailed } from './client.ts';

test('the main event loop stays responsive while the worker computes', async () => {
  const progress: number[] = [];
  const client = new ComputeClient({ onProgress: (_id, _kind, p) => progress.push(p.done) });
  try {
    // Warm the worker up first so its start-up (tsx registration) is not measured.
    await client.start('spin', { ms: 10 }).result;
    const histogram = monitorEventLoopDelay({ resolution: 5 });
    histogram.enable();
    const { iterations } = await client.start('spin', { ms: 1200 }).result;
    histogram.disable();
    assert.ok(iterations > 0);
    const maxDelayMs = histogram.max / 1e6;
    // The worker spins a core for 1.2 s; the main thread should see only scheduling noise.
    assert.ok(maxDelayMs < 150, `main event loop was blocked for ${maxDelayMs.toFixed(1)} ms`);
    assert.ok(progress.length >= 3, `expected progress events, got ${progress.length}`);
  } finally {
    await client.close();
  }
});

test('a running job can be cancelled and the worker keeps serving', async () => {
  const client = new ComputeClient();
  try {
    const job = client.start('spin', { ms: 10_000 });
    setTimeout(() => job.cancel(), 100);
    const started = Date.now();
    await assert.rejects(job.result, (err: unknown) => err instanceof JobFailed && err.cancelled);
    assert.ok(Date.now() - started < 5000, 'cancellation took too long');
    const again = await client.start('spin', { ms: 20 }).result;
    assert.ok(again.iterations > 0);
  } finally {
    await client.close();
  }
});

test('an unknown job kind fails with a clear error', async () => {
  const client = new ComputeClient();
  try {
    const job = client.start('no-such-kind' as 'spin', { ms: 1 });
    await assert.rejects(job.result, /unknown job kind "no-such-kind"/);
  } finally {
    await client.close();
  }
});
