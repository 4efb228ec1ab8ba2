import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { exportDownloadPath } from '../../contract/media.ts';
import { EventBus } from '../api/events.ts';
import { exportDownloadRoute } from './export-download.ts';
import { startHeadlessServer } from './http.ts';

test('an export folder downloads as a zip behind the token; unknown or hidden names are 404', async () => {
  const root = mkdtempSync(join(tmpdir(), 'unirl-download-'));
  const rendererDir = join(root, 'renderer');
  const exportsDir = join(root, 'exports');
  const folder = 'run-3-all-2026-12-02T04-00-00-000Z';
  mkdirSync(rendererDir);
  mkdirSync(join(exportsDir, folder, 'images'), { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html>');
  writeFileSync(join(exportsDir, folder, 'manifest.json'), '{"files":[]}\n');
  writeFileSync(join(exportsDir, folder, 'images', 'sample-1.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
  mkdirSync(join(exportsDir, '.hidden'));
  const server = await startHeadlessServer({
    host: '127.0.0.1',
    port: 0,
    rendererDir,
    token: 't0ken',
    events: new EventBus(),
    media: () => null,
    dispatch: async () => null,
    routes: [exportDownloadRoute(exportsDir)],
  });
  try {
    const url = server.url + exportDownloadPath(folder);
    assert.equal((await fetch(url)).status, 401);
    const res = await fetch(url, { headers: { Authorization: 'Bearer t0ken' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/zip');
    assert.equal(res.headers.get('content-disposition'), `attachment; filename="${folder}.zip"`);
    const files = unzipSync(new Uint8Array(await res.arrayBuffer()));
    assert.deepEqual(Object.keys(files).sort(), [`${folder}/images/sample-1.png`, `${folder}/manifest.json`]);
    assert.equal(Buffer.from(files[`${folder}/manifest.json`]!).toString(), '{"files":[]}\n');
    assert.deepEqual([...files[`${folder}/images/sample-1.png`]!], [0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    for (const name of ['nothing-here', '.hidden', '..']) {
      assert.equal((await fetch(server.url + exportDownloadPath(name), { headers: { Authorization: 'Bearer t0ken' } })).status, 404, name);
    }
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});
