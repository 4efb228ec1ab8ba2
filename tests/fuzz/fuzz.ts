// An adversarial client for `unirl serve`: seeded random cases over every API call (corrupted inputs),
// WebSocket frames a browser would never send, malformed request paths, and Host/Origin/token variants
// (DNS rebinding). Each case has an expected class of answer; the report counts crashes (the server
// stops answering), hangs (no answer in time), unclear errors (internal errors, messages that name no
// call or field, HTTP 500) and leaks (a reply quoting a file the API must not read).
// Used by the bounded test (main/server/fuzz.test.ts) and `npm run fuzz` (bench/fuzz.ts).
import { connect as connectTcp } from 'node:net';
import WebSocket from 'ws';
import { CALL_NAMES } from '../../contract/api.ts';

export interface FuzzTarget {
  /** http://host:port of the server. */
  url: string;
  token: string | null;
  /** Text that must appear in no reply (the content of a file outside the data dir). */
  secret: string;
  /** A path to that file, offered to calls that take a checkpoint. */
  secretPath: string;
  /** Whether the server is still alive (for an in-process server: it answers; for a child: it has not exited). */
  alive(): Promise<boolean>;
}

export type CaseKind = 'call' | 'frame' | 'path' | 'auth';

export interface Finding {
  kind: CaseKind;
  what: 'crash' | 'hang' | 'unclear' | 'leak' | 'unexpected';
  case: string;
  detail: string;
}

export interface FuzzReport {
  seed: number;
  cases: number;
  byKind: Record<CaseKind, number>;
  crashes: number;
  hangs: number;
  unclear: number;
  leaks: number;
  unexpected: number;
  /** Runs created by calls that succeeded, and runs.list's count at the end (rows lost or added by rejected calls). */
  runsCreated: number;
  runsListed: number;
  findings: Finding[];
  seconds: number;
}

/** mulberry32: small, seeded, good enough to pick cases reproducibly. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// A hang is an answer that never comes; on a loaded 2-core machine a slow answer can take seconds.
const TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------------------------------
// Raw HTTP and WebSocket bytes (the ws client would refuse to send most of these).

/**
 * Sends raw bytes and collects what comes back until the server closes the connection, `done` says the
 * reply is complete (a WebSocket close frame: the server then waits for ours), or `ms` pass.
 */
export function rawExchange(
  port: number,
  bytes: string | Buffer,
  ms = TIMEOUT_MS,
  done = sentClose,
): Promise<{ reply: Buffer; timedOut: boolean }> {
  return new Promise((resolve) => {
    const socket = connectTcp(port, '127.0.0.1', () => socket.write(bytes));
    const chunks: Buffer[] = [];
    let timedOut = false;
    socket.on('data', (c) => {
      chunks.push(c);
      if (done(Buffer.concat(chunks))) socket.destroy();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => resolve({ reply: Buffer.concat(chunks), timedOut }));
    socket.setTimeout(ms, () => {
      timedOut = true;
      socket.destroy();
    });
  });
}

/** A WebSocket reply that carries the server's close frame, or an HTTP reply that refused the upgrade. */
function sentClose(reply: Buffer): boolean {
  const status = statusOf(reply);
  return (status !== 0 && status !== 101 && reply.includes('\r\n\r\n')) || (status === 101 && serverFrames(reply).closeCode !== 0);
}

export const statusOf = (reply: Buffer) => Number(/^HTTP\/1\.1 (\d{3})/.exec(reply.toString('latin1'))?.[1] ?? 0);

/** A client frame: FIN set unless `fin` is false, the opcode, masked unless `masked` is false. */
export function frame(opcode: number, payload: Buffer, { masked = true, fin = true, rsv = 0 } = {}): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  const length =
    payload.length < 126
      ? Buffer.from([payload.length])
      : payload.length < 65536
        ? Buffer.from([126, payload.length >> 8, payload.length & 255])
        : Buffer.concat([
            Buffer.from([127]),
            (() => {
              const b = Buffer.alloc(8);
              b.writeBigUInt64BE(BigInt(payload.length));
              return b;
            })(),
          ]);
  length[0]! |= masked ? 0x80 : 0;
  const body = masked ? payload.map((b, i) => b ^ mask[i % 4]!) : payload;
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | (rsv << 4) | opcode]), length, masked ? mask : Buffer.alloc(0), body]);
}

export function upgradeRequest(port: number, extraHeaders = ''): string {
  return (
    `GET /api HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`
  );
}

/** The server's frames after the upgrade: the close code (0 when none) and whether a text frame came back. */
export function serverFrames(reply: Buffer): { upgraded: boolean; closeCode: number; text: string } {
  const head = reply.indexOf('\r\n\r\n');
  const upgraded = statusOf(reply) === 101;
  let rest = reply.subarray(head + 4);
  let closeCode = 0;
  let text = '';
  while (upgraded && rest.length >= 2) {
    const opcode = rest[0]! & 0x0f;
    let length = rest[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      length = rest.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      length = Number(rest.readBigUInt64BE(2));
      offset = 10;
    }
    const payload = rest.subarray(offset, offset + length);
    if (opcode === 8 && payload.length >= 2) closeCode = payload.readUInt16BE(0);
    if (opcode === 1) text += payload.toString('utf8');
    rest = rest.subarray(offset + length);
  }
  return { upgraded, closeCode, text };
}

// ---------------------------------------------------------------------------------------------------
// Values that break things.

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function nastyValue(random: () => number, target: FuzzTarget): unknown {
  return pick(random, [
    () => -1,
    () => 0,
    () => 1.5,
    () => 2 ** 53 + 2,
    () => 1e308,
    () => -1e308,
    () => Number.MAX_SAFE_INTEGER,
    () => 1e9,
    () => '',
    () => ' ',
    () => 'x'.repeat(5000),
    () => '../../etc/passwd',
    () => target.secretPath,
    () => '/etc/passwd',
    () => '%00',
    () => '\u0000',
    () => '\ud800',
    () => '🙂'.repeat(50),
    () => '<script>alert(1)</script>',
    () => "'; DROP TABLE runs; --",
    () => null,
    () => true,
    () => [],
    () => [1, 'a', null],
    () => ({}),
    () => ({ __proto__: { polluted: true } }),
    () => ({ constructor: 'x' }),
    () => Math.floor(random() * 10),
    () => 'shipped:base',
    () => 'run:1:1',
    () => 'run:99999999:1',
    () => 'geneval',
    () => 'oracle',
    () => 'noise',
  ])();
}

/** Inputs that are plausible for each call (most valid), before corruption. */
function baseInput(name: string, random: () => number): Record<string, unknown> {
  const small = () => 1 + Math.floor(random() * 5);
  switch (name) {
    case 'runs.create':
      return {
        name: `fuzz ${Math.floor(random() * 1e6)}`,
        scenario: pick(random, ['t2i', 'cot', 'text', 'vqa', 'edit', 'reflect']),
        model: 'nano',
        config: { steps: 1 },
      };
    case 'runs.get':
    case 'runs.start':
    case 'runs.pause':
    case 'runs.stop':
    case 'groups.steps':
    case 'metrics.names':
    case 'ranking.agreement':
    case 'reflections.list':
    case 'edits.list':
      return { runId: small() };
    case 'groups.list':
      return { runId: small(), limit: 10 };
    case 'groups.get':
      return { groupId: small() };
    case 'ranking.queue':
    case 'ranking.waiting':
      return { annotator: 'fuzz', runId: small() };
    case 'ranking.submit':
      return { groupId: small(), annotator: 'fuzz', ranks: [{ sampleId: small(), rank: 1 }], durationMs: 10 };
    case 'ranking.undo':
      return { annotator: 'fuzz' };
    case 'samples.trajectory':
      return { sampleId: small() };
    case 'reflections.mark':
      return { roundId: small(), annotator: 'fuzz', correct: true };
    case 'metrics.series':
      return { runId: small(), names: ['loss'] };
    case 'logs.tail':
      return { runId: null, limit: 5 };
    case 'checkpoints.list':
      return {};
    // Cheap generators only: the fuzzer must not start real work.
    case 'eval.start':
      return { suite: 'geneval', generator: pick(random, ['oracle', 'noise']), limit: 1 };
    case 'evaluations.list':
      return {};
    case 'evaluations.results':
      return { evaluationId: small() };
    case 'export.run':
      return { runId: 1_000_000 + small(), format: 'rollouts' };
    case 'jobs.cancel':
      return { jobId: `job-${small()}` };
    case 'settings.set':
      return { theme: 'dark' };
    default:
      return {};
  }
}

/** Calls the fuzzer never sends valid: they would start training or change the user's settings for real. */
const WORK_CALLS = new Set(['runs.start', 'settings.set']);

function corrupt(random: () => number, input: Record<string, unknown>, target: FuzzTarget): unknown {
  const keys = Object.keys(input);
  switch (Math.floor(random() * 7)) {
    case 0:
      return input;
    case 1:
      if (keys.length) return { ...input, [pick(random, keys)]: nastyValue(random, target) };
      return { extra: nastyValue(random, target) };
    case 2:
      return { ...input, [pick(random, ['extra', '__proto__', 'constructor', 'x'.repeat(300)])]: nastyValue(random, target) };
    case 3:
      if (keys.length) {
        const copy = { ...input };
        delete copy[pick(random, keys)];
        return copy;
      }
      return null;
    case 4:
      return nastyValue(random, target);
    case 5:
      return {
        ...input,
        checkpoint: pick(random, [target.secretPath, '/etc/passwd', '../../../etc/shadow', 'run:1:0', '/', '.']),
        config: { model: { checkpoint: target.secretPath } },
      };
    default:
      return Object.fromEntries(keys.map((k) => [k, random() < 0.5 ? input[k] : nastyValue(random, target)]));
  }
}

// ---------------------------------------------------------------------------------------------------
// The runner.

class CallClient {
  private ws: WebSocket | null = null;
  private nextId = 1;

  constructor(private readonly target: FuzzTarget) {}

  private async open(): Promise<WebSocket> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return this.ws;
    const url = `${this.target.url.replace('http', 'ws')}/api`;
    const headers: Record<string, string> = { Origin: this.target.url };
    if (this.target.token) headers.Authorization = `Bearer ${this.target.token}`;
    this.ws = await new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    this.ws.on('error', () => {});
    return this.ws;
  }

  /** The result message, 'closed' when the server closed the socket, 'timeout' when nothing came. */
  async call(
    name: string,
    input: unknown,
  ): Promise<
    { ok: boolean; value?: unknown; error?: { code: string; message: string; field?: string; call: string } } | 'closed' | 'timeout'
  > {
    const ws = await this.open();
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done('timeout'), TIMEOUT_MS);
      const onMessage = (data: WebSocket.RawData) => {
        const message = JSON.parse(String(data)) as { type: string; id?: number; ok: boolean };
        if (message.type === 'result' && message.id === id) done(message as never);
      };
      const onClose = () => done('closed');
      function done(result: Parameters<typeof resolve>[0]): void {
        clearTimeout(timer);
        ws.off('message', onMessage);
        ws.off('close', onClose);
        resolve(result);
      }
      ws.on('message', onMessage);
      ws.on('close', onClose);
      ws.send(JSON.stringify({ type: 'call', id, name, input }));
    });
  }

  close(): void {
    this.ws?.terminate();
  }
}

const ERROR_CODES = new Set(['invalid_argument', 'not_found', 'failed_precondition', 'unknown_call']);

/** Runs `cases` seeded cases (a share of each kind) and reports what went wrong. */
export async function runFuzz(
  target: FuzzTarget,
  options: { cases: number; seed?: number; onProgress?: (done: number) => void },
): Promise<FuzzReport> {
  const seed = options.seed ?? 1;
  const random = rng(seed);
  const port = Number(new URL(target.url).port);
  const started = performance.now();
  const findings: Finding[] = [];
  const byKind: Record<CaseKind, number> = { call: 0, frame: 0, path: 0, auth: 0 };
  const client = new CallClient(target);
  const auth = target.token ? `Authorization: Bearer ${target.token}\r\n` : '';
  let runsCreated = 0;
  const note = (kind: CaseKind, what: Finding['what'], label: string, detail: string) => {
    if (findings.length < 200) findings.push({ kind, what, case: label.slice(0, 300), detail: detail.slice(0, 300) });
    else findings.push({ kind, what, case: '', detail: '' });
  };
  const leaked = (text: string) => text.includes(target.secret);

  for (let i = 0; i < options.cases; i++) {
    const roll = random();
    const kind: CaseKind = roll < 0.6 ? 'call' : roll < 0.8 ? 'frame' : roll < 0.92 ? 'path' : 'auth';
    byKind[kind]++;
    if (kind === 'call') await callCase();
    else if (kind === 'frame') await frameCase();
    else if (kind === 'path') await pathCase();
    else await authCase();
    // A crash shows as a dead server: check often, stop at the first.
    if (i % 25 === 24 && !(await target.alive())) {
      note(kind, 'crash', `after case ${i}`, 'the server stopped answering');
      break;
    }
    options.onProgress?.(i + 1);
  }
  client.close();
  const alive = await target.alive();
  if (!alive && !findings.some((f) => f.what === 'crash')) note('call', 'crash', 'at the end', 'the server stopped answering');
  let runsListed = -1;
  if (alive) {
    const listed = await new CallClient(target).call('runs.list', {});
    if (typeof listed === 'object' && listed.ok) runsListed = (listed.value as unknown[]).length;
  }
  const count = (what: Finding['what']) => findings.filter((f) => f.what === what).length;
  return {
    seed,
    cases: Object.values(byKind).reduce((a, b) => a + b, 0),
    byKind,
    crashes: count('crash'),
    hangs: count('hang'),
    unclear: count('unclear'),
    leaks: count('leak'),
    unexpected: count('unexpected'),
    runsCreated,
    runsListed,
    findings: findings.filter((f) => f.case !== ''),
    seconds: (performance.now() - started) / 1000,
  };

  async function callCase(): Promise<void> {
    const name =
      random() < 0.03 ? pick(random, ['runs.delete', '', '__proto__', 'constructor', 'x'.repeat(200)]) : pick(random, CALL_NAMES);
    let input = corrupt(random, baseInput(name, random), target);
    // Never a valid call that starts training or changes settings: corrupt it until it is not.
    if (WORK_CALLS.has(name)) input = { ...(typeof input === 'object' && input ? input : {}), unexpectedField: true };
    const label = `${name} ${JSON.stringify(input)?.slice(0, 200)}`;
    let result: Awaited<ReturnType<CallClient['call']>>;
    try {
      result = await client.call(name, input);
    } catch (err) {
      note('call', 'unexpected', label, `could not connect: ${(err as Error).message}`);
      return;
    }
    if (result === 'timeout') return note('call', 'hang', label, `no result within ${TIMEOUT_MS / 1000} s`);
    if (result === 'closed') return note('call', 'unexpected', label, 'the server closed the socket on a well-formed call message');
    const text = JSON.stringify(result);
    if (leaked(text)) note('call', 'leak', label, text);
    if (result.ok) {
      if (name === 'runs.create') runsCreated++;
      return;
    }
    const error = result.error!;
    if (!ERROR_CODES.has(error.code)) note('call', 'unclear', label, `${error.code}: ${error.message}`);
    else if (!error.message.includes(error.call) && error.code !== 'unknown_call')
      note('call', 'unclear', label, `message names no call: ${error.message}`);
    else if (error.code === 'invalid_argument' && !error.field)
      note('call', 'unclear', label, `invalid_argument without a field: ${error.message}`);
    else if (error.message.length > 1000) note('call', 'unclear', label, `a ${error.message.length}-character message`);
  }

  async function frameCase(): Promise<void> {
    const call = (body: string) => Buffer.from(body);
    const cases: [string, Buffer, number[]][] = [
      ['invalid UTF-8', frame(1, Buffer.from([0xc3, 0x28, 0xff])), [1007]],
      ['reserved opcode', frame(pick(random, [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), Buffer.from('x')), [1002]],
      ['unmasked', frame(1, call('{"type":"call","id":1,"name":"runs.list","input":{}}'), { masked: false }), [1002]],
      ['RSV bits', frame(1, call('{}'), { rsv: 1 + Math.floor(random() * 7) }), [1002]],
      ['oversize header', Buffer.from([0x81, 0xff, 0, 0, 0, 0, 0x7f, 0, 0, 0, 1, 2, 3, 4]), [1009]],
      ['oversize body', frame(2, Buffer.alloc(1024 * 1024 + 1 + Math.floor(random() * 1000))), [1009]],
      ['continuation first', frame(0, call('{}')), [1002]],
      ['fragmented control', frame(9, call('x'), { fin: false }), [1002]],
      ['long ping', frame(9, Buffer.alloc(126)), [1002]],
      ['bad close code', frame(8, Buffer.from([0x03, 0xe8 - 1])), [1002]],
      ['not JSON', frame(1, call(pick(random, ['{', 'null', '[]', '"x"', '1e999', 'NaN', '{"type":"call"}']))), [1008]],
      [
        'id not safe',
        frame(
          1,
          call(
            `{"type":"call","id":${pick(random, ['1e999', '-1e999', '9007199254740993', '1.5', '"1"', 'null'])},` +
              '"name":"runs.list","input":{}}',
          ),
        ),
        [1008],
      ],
      // Answered, then the client's close (1000) ends it.
      [
        'binary call',
        Buffer.concat([frame(2, call('{"type":"call","id":7,"name":"app.info","input":{}}')), frame(8, Buffer.from([0x03, 0xe8]))]),
        [1000],
      ],
      [
        'random bytes',
        frame(pick(random, [1, 2]), Buffer.from(Array.from({ length: 1 + Math.floor(random() * 200) }, () => Math.floor(random() * 256)))),
        [1007, 1008],
      ],
    ];
    const [label, bytes, codes] = pick(random, cases);
    const { reply, timedOut } = await rawExchange(port, Buffer.concat([Buffer.from(upgradeRequest(port, auth)), bytes]));
    const { upgraded, closeCode, text } = serverFrames(reply);
    if (timedOut && reply.length === 0) return note('frame', 'hang', label, 'no answer to the upgrade');
    if (!upgraded) return note('frame', 'unexpected', label, `no upgrade: ${reply.toString('latin1').slice(0, 80)}`);
    if (leaked(text)) note('frame', 'leak', label, text);
    if (timedOut && closeCode === 0) return note('frame', 'hang', label, 'the connection neither answered nor closed');
    if (!codes.includes(closeCode)) note('frame', 'unexpected', label, `close code ${closeCode}, expected ${codes.join(' or ')}`);
  }

  async function pathCase(): Promise<void> {
    const pieces = [
      '/',
      '//',
      '%',
      '%E0%A4%A',
      '%00',
      '..',
      '%2e%2e',
      '%2f',
      '\\',
      'assets',
      'index.html',
      'media',
      'sample',
      '1.png',
      '?',
      '#',
      '~',
      '%ff',
      ';',
      '@',
    ];
    const path = pick(random, [
      () => '/' + Array.from({ length: 1 + Math.floor(random() * 6) }, () => pick(random, pieces)).join(''),
      () =>
        pick(random, [
          '//',
          '/%',
          '/%E0%A4%A',
          '/..%2f..%2fetc%2fpasswd',
          '/../../etc/passwd',
          '/media/sample/%',
          '/media/sample/99999999999999999999.png',
          '/a%00b',
          '*',
          'http://evil/',
        ]),
      () => '/' + 'a'.repeat(Math.floor(random() * 20000)),
    ])();
    const method = pick(random, ['GET', 'GET', 'HEAD', 'POST', 'PUT', 'OPTIONS']);
    const { reply, timedOut } = await rawExchange(
      port,
      `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${auth}Connection: close\r\n\r\n`,
    );
    const status = statusOf(reply);
    const label = `${method} ${path.slice(0, 120)}`;
    if (timedOut && status === 0) return note('path', 'hang', label, 'no response');
    if (leaked(reply.toString('latin1'))) note('path', 'leak', label, 'the response quotes the secret file');
    if (status >= 500 || status === 0) note('path', 'unclear', label, `HTTP ${status}`);
  }

  async function authCase(): Promise<void> {
    const hosts: [string, boolean][] = [
      [`127.0.0.1:${port}`, true],
      [`localhost:${port}`, true],
      [`[::1]:${port}`, true],
      [`LOCALHOST:${port}`, true],
      [`127.attacker.example:${port}`, false],
      [`127.0.0.1.evil.example:${port}`, false],
      [`localhost.evil:${port}`, false],
      [`127.0.0.1:${port + 1}`, false],
      ['127.0.0.1', port === 80],
      ['evil.example', false],
      ['', false],
      [`127.0.0.2:${port}`, false],
      [`[::1]x:${port}`, false],
    ];
    const [host, hostOk] = pick(random, hosts);
    const tokenChoice = target.token ? pick(random, ['right', 'wrong', 'none', 'cookie', 'bad-cookie']) : 'none';
    const tokenHeader = {
      right: `Authorization: Bearer ${target.token}\r\n`,
      wrong: 'Authorization: Bearer nope\r\n',
      none: '',
      cookie: `Cookie: unirl_token=${target.token}\r\n`,
      'bad-cookie': 'Cookie: unirl_token=%E0%A4%A\r\n',
    }[tokenChoice]!;
    const tokenOk = !target.token || tokenChoice === 'right' || tokenChoice === 'cookie';
    const websocket = random() < 0.5;
    const origin = pick(random, ['none', 'same', 'evil']);
    const originHeader = origin === 'none' ? '' : `Origin: ${origin === 'same' ? `http://${host}` : 'http://evil.example'}\r\n`;
    const hostHeader = host === '' ? '' : `Host: ${host}\r\n`;
    const label = `${websocket ? 'WS' : 'GET'} Host=${host} token=${tokenChoice} origin=${origin}`;
    const request = websocket
      ? `GET /api HTTP/1.1\r\n${hostHeader}${tokenHeader}${originHeader}Upgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
      : `GET / HTTP/1.1\r\n${hostHeader}${tokenHeader}${originHeader}Connection: close\r\n\r\n`;
    const { reply, timedOut } = await rawExchange(
      port,
      websocket ? Buffer.concat([Buffer.from(request), frame(8, Buffer.from([0x03, 0xe8]))]) : request,
    );
    const status = statusOf(reply);
    if (timedOut && status === 0) return note('auth', 'hang', label, 'no response');
    const allowed = hostOk && tokenOk && (!websocket || origin !== 'evil');
    const granted = websocket ? status === 101 : status === 200;
    if (granted !== allowed)
      note('auth', 'unexpected', label, `HTTP ${status}: ${allowed ? 'refused a legitimate request' : 'let a foreign request in'}`);
  }
}
