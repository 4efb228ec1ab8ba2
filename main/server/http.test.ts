import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ApiError, type ServerMessage } from '../../contract/rpc.ts';
import { EventBus } from '../api/events.ts';
import { startHeadlessServer, type HeadlessServer } from './http.ts';

const PNG_BYTES = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

async function serve(token?: string): Promise<{ server: HeadlessServer; events: EventBus }> {
  const rendererDir = mkdtempSync(join(tmpdir(), 'unirl-renderer-'));
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>UniRL Studio</title>');
  const events = new EventBus();
  const server = await startHeadlessServer({
    host: '127.0.0.1',
    port: 0,
    rendererDir,
    events,
    token,
    media: (ref) => (ref.kind === 'sample' && ref.id === 7 ? PNG_BYTES : null),
    dispatch: async (name, input) => {
      if (name === 'echo.fail') throw new ApiError({ call: name, code: 'invalid_argument', field: 'x', message: 'bad x' });
      return { name, input };
    },
  });
  return { server, events };
}

function connect(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

function nextMessage(ws: WebSocket): Promise<ServerMessage> {
  return new Promise((resolve) => ws.once('message', (data) => resolve(JSON.parse(String(data)))));
}

test('serves the renderer, media, calls and events on loopback', async () => {
  const { server, events } = await serve();
  try {
    const page = await fetch(`${server.url}/runs/deep/link`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.match(await page.text(), /UniRL Studio/);

    const image = await fetch(`${server.url}/media/sample/7.png`);
    assert.equal(image.headers.get('content-type'), 'image/png');
    assert.deepEqual(Buffer.from(await image.arrayBuffer()), PNG_BYTES);
    assert.equal((await fetch(`${server.url}/media/sample/8.png`)).status, 404);

    const origin = server.url;
    const ws = await connect(`${server.url.replace('http', 'ws')}/api`, { Origin: origin });
    ws.send(JSON.stringify({ type: 'call', id: 1, name: 'runs.list', input: {} }));
    assert.deepEqual(await nextMessage(ws), { type: 'result', id: 1, ok: true, value: { name: 'runs.list', input: {} } });
    ws.send(JSON.stringify({ type: 'call', id: 2, name: 'echo.fail', input: {} }));
    const failed = await nextMessage(ws);
    assert.equal(failed.type === 'result' && !failed.ok && failed.error.field, 'x');

    const eventArrived = nextMessage(ws);
    events.publish('settings.changed', { annotator: 'ada', theme: 'dark', provider: 'cpu', threads: 2 });
    assert.deepEqual(await eventArrived, {
      type: 'event', name: 'settings.changed', payload: { annotator: 'ada', theme: 'dark', provider: 'cpu', threads: 2 },
    });
    ws.close();
  } finally {
    await server.close();
  }
});

test('rejects a foreign Origin and a foreign Host (DNS rebinding)', async () => {
  const { server } = await serve();
  try {
    await assert.rejects(connect(`${server.url.replace('http', 'ws')}/api`, { Origin: 'http://evil.example' }), /HTTP 403/);
    const { port } = new URL(server.url);
    // fetch() may not override Host, so speak HTTP directly.
    const status = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/', headers: { Host: `evil.example:${port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject).end();
    });
    assert.equal(status, 403);
  } finally {
    await server.close();
  }
});

test('with a token, requests without it are rejected and the token unlocks page, cookie and socket', async () => {
  const { server } = await serve('s3cret-token');
  try {
    assert.equal(server.openUrl, `${server.url}/?token=s3cret-token`);
    assert.equal((await fetch(server.url)).status, 401);
    assert.equal((await fetch(`${server.url}/?token=wrong`)).status, 401);
    const page = await fetch(server.openUrl);
    assert.equal(page.status, 200);
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    assert.equal((await fetch(`${server.url}/media/sample/7.png`, { headers: { Cookie: cookie } })).status, 200);
    await assert.rejects(connect(`${server.url.replace('http', 'ws')}/api`, { Origin: server.url }), /HTTP 401/);
    const ws = await connect(`${server.url.replace('http', 'ws')}/api`, { Origin: server.url, Cookie: cookie });
    ws.close();
  } finally {
    await server.close();
  }
});
