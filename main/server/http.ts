// The headless transport: serves the built renderer over HTTP, the API contract's calls and events
// over a WebSocket at /api, and images at /media/... . Loopback by default; any other host needs
// the access token printed at start (like Jupyter), and WebSocket upgrades must come from our Origin.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { MEDIA_PATH_PATTERN, type MediaRef } from '../../contract/api.ts';
import { ApiError, type CallMessage, type ServerMessage } from '../../contract/rpc.ts';
import type { Dispatch } from '../api/dispatch.ts';
import type { EventBus } from '../api/events.ts';

export interface HeadlessOptions {
  host: string;
  port: number;
  /** Folder with the built renderer (index.html + assets). */
  rendererDir: string;
  dispatch: Dispatch;
  events: EventBus;
  /** PNG bytes of a stored image, or null when there is none. */
  media(ref: MediaRef): Buffer | null;
  /** Force a token even on loopback (tests); generated when the host is not loopback. */
  token?: string;
  /** More HTTP routes (export downloads, the reward service), behind the same host and token checks. */
  routes?: HttpRoute[];
}

/** Answers the request and returns true when it is its path; false lets the next route try. */
export type HttpRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean;

export interface HeadlessServer {
  url: string;
  /** The URL to open, with the token when one is required. */
  openUrl: string;
  token: string | null;
  close(): Promise<void>;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);
const TOKEN_COOKIE = 'unirl_token';
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};
const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || host.startsWith('127.');
}

function tokenMatches(given: string | null | undefined, expected: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function readCookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return null;
}

function hostnameOf(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  if (hostHeader.startsWith('[')) return hostHeader.slice(1, hostHeader.indexOf(']'));
  return hostHeader.split(':')[0]!;
}

export async function startHeadlessServer(options: HeadlessOptions): Promise<HeadlessServer> {
  const rendererDir = resolve(options.rendererDir);
  if (!existsSync(join(rendererDir, 'index.html'))) {
    throw new Error(`the renderer is not built (no ${join(rendererDir, 'index.html')}): run "npm run build:renderer"`);
  }
  const token = options.token ?? (isLoopback(options.host) ? null : randomBytes(24).toString('hex'));

  /** Token from the query (first visit), the cookie (later requests) or a Bearer header (scripts). */
  function authorised(req: IncomingMessage, url: URL): boolean {
    if (!token) return true;
    const bearer = req.headers.authorization?.replace(/^Bearer\s+/i, '');
    return [url.searchParams.get('token'), readCookie(req, TOKEN_COOKIE), bearer].some((t) => tokenMatches(t, token));
  }

  /** On loopback, refuse foreign Host headers (DNS rebinding); with a token, the token guards. */
  function hostAllowed(req: IncomingMessage): boolean {
    return token !== null || isLoopback(hostnameOf(req.headers.host));
  }

  function sendFile(res: ServerResponse, path: string): void {
    const type = CONTENT_TYPES[extname(path)] ?? 'application/octet-stream';
    const immutable = path.includes(`${sep}assets${sep}`);
    res.writeHead(200, {
      'Content-Type': type,
      'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      ...SECURITY_HEADERS,
    });
    createReadStream(path).pipe(res);
  }

  function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!hostAllowed(req)) {
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end('forbidden host');
      return;
    }
    if (!authorised(req, url)) {
      res.writeHead(401, { 'Content-Type': 'text/plain' }).end('unauthorised: open the URL with ?token=... printed at start');
      return;
    }
    if (token && url.searchParams.get('token')) {
      res.setHeader('Set-Cookie', `${TOKEN_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`);
    }
    if (options.routes?.some((route) => route(req, res, url))) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const media = MEDIA_PATH_PATTERN.exec(url.pathname);
    if (media) {
      const png = options.media({ kind: media[1] as MediaRef['kind'], id: Number(media[2]) });
      if (!png) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`no image at ${url.pathname}`);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'image/png', 'Cache-Control': 'private, max-age=3600', ...SECURITY_HEADERS });
      res.end(png);
      return;
    }
    const requested = normalize(join(rendererDir, decodeURIComponent(url.pathname)));
    if (requested !== rendererDir && !requested.startsWith(rendererDir + sep)) {
      res.writeHead(400).end();
      return;
    }
    const isFile = existsSync(requested) && statSync(requested).isFile();
    sendFile(res, isFile ? requested : join(rendererDir, 'index.html'));
  }

  const server = createServer(handleRequest);
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const expectedOrigin = `http://${req.headers.host}`;
    const reject = (status: string) => {
      socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      socket.destroy();
    };
    if (url.pathname !== '/api') return reject('404 Not Found');
    if (!hostAllowed(req)) return reject('403 Forbidden');
    if (req.headers.origin !== undefined && req.headers.origin !== expectedOrigin) return reject('403 Forbidden');
    if (!authorised(req, url)) return reject('401 Unauthorized');
    sockets.handleUpgrade(req, socket, head, (ws) => sockets.emit('connection', ws, req));
  });

  sockets.on('connection', (ws: WebSocket) => {
    const send = (message: ServerMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    };
    const unsubscribe = options.events.subscribe((name, payload) => send({ type: 'event', name, payload }));
    ws.on('close', unsubscribe);
    ws.on('message', async (data) => {
      let message: CallMessage;
      try {
        message = JSON.parse(String(data)) as CallMessage;
        if (message?.type !== 'call' || typeof message.id !== 'number') throw new Error('not a call message');
      } catch (err) {
        ws.close(1003, `malformed message: ${(err as Error).message}`.slice(0, 120));
        return;
      }
      try {
        send({ type: 'result', id: message.id, ok: true, value: await options.dispatch(message.name, message.input) });
      } catch (err) {
        const error = err instanceof ApiError
          ? err.info
          : { call: String(message.name), code: 'internal' as const, message: String((err as Error)?.message ?? err) };
        send({ type: 'result', id: message.id, ok: false, error });
      }
    });
  });

  await new Promise<void>((resolvePromise, rejectPromise) => {
    server.once('error', rejectPromise);
    server.listen(options.port, options.host, () => resolvePromise());
  });
  const address = server.address() as AddressInfo;
  const displayHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${displayHost}:${address.port}`;
  return {
    url,
    openUrl: token ? `${url}/?token=${token}` : url,
    token,
    close: () =>
      new Promise<void>((done) => {
        for (const client of sockets.clients) client.terminate();
        sockets.close();
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
