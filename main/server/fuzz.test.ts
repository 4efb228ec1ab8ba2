// A bounded adversarial pass in `npm test` (issue 16): 600 seeded cases over every API call, malformed
// WebSocket frames, request paths and Host/Origin/token variants against the headless server with the
// real handlers over an in-memory store. `npm run fuzz` runs the same cases by the ten thousand against
// a real `unirl serve`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFuzz } from '../../tests/fuzz/fuzz.ts';
import { pendingCompute, setupHandlers } from '../api/test-fixtures.ts';
import { startHeadlessServer } from './http.ts';

for (const [token, cases, seed] of [
  [undefined, 400, 16],
  ['fuzz-token', 200, 17],
] as const) {
  test(`${cases} fuzzed cases ${token ? 'with' : 'without'} a token: no crash, hang, leak or unclear error`, async () => {
    const api = setupHandlers(pendingCompute().compute);
    const rendererDir = mkdtempSync(join(tmpdir(), 'unirl-fuzz-renderer-'));
    writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>UniRL Studio</title>');
    const secretPath = join(mkdtempSync(join(tmpdir(), 'unirl-fuzz-secret-')), 'secret.txt');
    const secret = 'fuzz-secret-7f3a9c';
    writeFileSync(secretPath, secret);
    const server = await startHeadlessServer({
      host: '127.0.0.1',
      port: 0,
      rendererDir,
      dispatch: api.dispatch,
      events: api.events,
      media: () => null,
      ...(token ? { token } : {}),
    });
    try {
      const alive = async () =>
        (await fetch(`${server.url}/`, { headers: token ? { Authorization: `Bearer ${token}` } : {} })).status === 200;
      const report = await runFuzz({ url: server.url, token: server.token, secret, secretPath, alive }, { cases, seed });
      assert.equal(report.cases, cases);
      assert.ok(
        report.byKind.call > 0 && report.byKind.frame > 0 && report.byKind.path > 0 && report.byKind.auth > 0,
        JSON.stringify(report.byKind),
      );
      assert.deepEqual(report.findings, []);
      assert.equal(report.runsListed, report.runsCreated, 'rejected calls wrote no run');
    } finally {
      await server.close();
      api.done();
      rmSync(rendererDir, { recursive: true, force: true });
    }
  });
}
