import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ApiError, type ServerMessage } from '../../contract/rpc.ts';
import { EventBus } from '../api/events.ts';
import { frame, rawExchange, serverFrames, statusOf, upgradeRequest } from '../../tests/fuzz/fuzz.ts';
import { startHeadlessServer, type HeadlessServer } from './http.ts';

const PNG_BYTES = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

async function serve(token?: string): Promise<{ server: HeadlessServer; events: EventBus }> {
  const { server, events } = await serveWithDir(token);
  return { server, events };
}

async function serveWithDir(
  token?: string,
  host = '127.0.0.1',
): Promise<{ server: HeadlessServer; events: EventBus; rendererDir: string }> {
  const rendererDir = mkdtempSync(join(tmpdir(), 'unirl-renderer-'));
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>UniRL Studio</title>');
  const events = new EventBus();
  const server = await startHeadlessServer({
    host,
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
  return { server, events, rendererDir };
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
      type: 'event',
      name: 'settings.changed',
      payload: { annotator: 'ada', theme: 'dark', provider: 'cpu', threads: 2 },
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
      })
        .on('error', reject)
        .end();
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

const rawGet = async (port: number, path: string, headers = '') =>
  (await rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${headers}Connection: close\r\n\r\n`)).reply;

test('bad request paths answer 400 and the server lives on, with and without a token (problem 1)', async () => {
  // The case: --host 0.0.0.0 with a token, where `GET //` crashed before the token check.
  for (const [token, host] of [
    [undefined, '127.0.0.1'],
    ['tok', '127.0.0.1'],
    ['tok', '0.0.0.0'],
  ] as const) {
    const { server } = await serveWithDir(token, host);
    try {
      const port = Number(new URL(server.url).port);
      const auth = token ? `Authorization: Bearer ${token}\r\n` : '';
      for (const path of ['//', '/%', '/%E0%A4%A', '//x/..//', '/media/sample/%', '/a%00b', 'noslash']) {
        assert.equal(statusOf(await rawGet(port, path, auth)), 400, path);
      }
      // A malformed escape in the query is only a wrong token.
      assert.equal(statusOf(await rawGet(port, '/?token=%', auth)), 200);
      // Without the token nothing is parsed beyond it: 401 even for a malformed path, and a bad cookie is no crash.
      if (token) {
        assert.equal(statusOf(await rawGet(port, '//')), 401);
        assert.equal(statusOf(await rawGet(port, '/%', 'Cookie: unirl_token=%E0%A4%A\r\n')), 401);
      }
      assert.equal((await fetch(`${server.url}/?token=${token ?? ''}`)).status, 200, 'still serving');
    } finally {
      await server.close();
    }
  }
});

/** The close code the server sends after `bytes` on a fresh socket (0 when it sent none). */
async function closeCodeAfter(port: number, bytes: Buffer): Promise<number> {
  const { reply } = await rawExchange(port, Buffer.concat([Buffer.from(upgradeRequest(port)), bytes]));
  return serverFrames(reply).closeCode;
}

test('malformed WebSocket frames close that connection with a code, never the process (problem 2)', async () => {
  const { server } = await serve();
  try {
    const port = Number(new URL(server.url).port);
    assert.equal(await closeCodeAfter(port, frame(1, Buffer.from([0xc3, 0x28]))), 1007, 'invalid UTF-8');
    assert.equal(await closeCodeAfter(port, frame(3, Buffer.from('x'))), 1002, 'reserved opcode');
    assert.equal(await closeCodeAfter(port, frame(1, Buffer.from('{}'), { masked: false })), 1002, 'unmasked frame');
    const oversize = Buffer.from([0x81, 0xff, 0, 0, 0, 0, 0x7f, 0, 0, 0, 1, 2, 3, 4]);
    assert.equal(await closeCodeAfter(port, oversize), 1009, 'over maxPayload');
    assert.equal(
      await closeCodeAfter(port, frame(1, Buffer.from('{"type":"call","id":1e999,"name":"runs.list","input":{}}'))),
      1008,
      'id not a safe integer',
    );
    // The server still answers calls.
    const ws = await connect(`${server.url.replace('http', 'ws')}/api`);
    ws.send(JSON.stringify({ type: 'call', id: 1, name: 'runs.list', input: {} }));
    assert.equal((await nextMessage(ws)).type, 'result');
    ws.close();
  } finally {
    await server.close();
  }
});

test('Host and Origin must be exactly a loopback literal with our port (problem 3: DNS rebinding)', async () => {
  const { server } = await serve();
  try {
    const port = Number(new URL(server.url).port);
    const hostStatus = async (host: string) =>
      statusOf((await rawExchange(port, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)).reply);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) assert.equal(await hostStatus(host), 200, host);
    for (const host of [
      `127.attacker.example:${port}`,
      `127.0.0.1:${port + 1}`,
      `localhost.evil:${port}`,
      '127.0.0.1',
      `[::1]x:${port}`,
      `127.0.0.2:${port}`,
    ]) {
      assert.equal(await hostStatus(host), 403, host);
    }
    const ws = (host: string, origin: string) => connect(`ws://127.0.0.1:${port}/api`, { Host: host, Origin: origin });
    await assert.rejects(ws(`127.attacker.example:${port}`, `http://127.attacker.example:${port}`), /HTTP 403/);
    await assert.rejects(ws(`127.0.0.1:${port}`, `http://127.attacker.example:${port}`), /HTTP 403/);
    (await ws(`localhost:${port}`, `http://localhost:${port}`)).close();
  } finally {
    await server.close();
  }
});

test('static files: a symlink out of the renderer folder is not followed (problem 5)', async () => {
  const { server, rendererDir } = await serveWithDir();
  try {
    const outside = mkdtempSync(join(tmpdir(), 'unirl-outside-'));
    writeFileSync(join(outside, 'secret.txt'), 'top secret');
    symlinkSync(join(outside, 'secret.txt'), join(rendererDir, 'leak.txt'));
    symlinkSync(outside, join(rendererDir, 'dir'));
    for (const path of ['/leak.txt', '/dir/secret.txt']) {
      const res = await fetch(`${server.url}${path}`);
      assert.doesNotMatch(await res.text(), /top secret/, path);
    }
  } finally {
    await server.close();
  }
});
