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
import { isInside } from '../api/files.ts';

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

/** Answers the request and returns true when `pathname` (decoded) is its path; false lets the next route try. */
export type HttpRoute = (req: IncomingMessage, res: ServerResponse, pathname: string) => boolean;

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
    "default-src 'self'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; " +
    "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/**
 * The largest WebSocket message accepted. The biggest legitimate call (ranking.submit with 256 ranks,
 * metrics.series with 64 names) is a few kilobytes; 1 MiB leaves room and bounds what a client can
 * make the server buffer. Larger frames close the connection with 1009.
 */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.has(host);
}

/** A request target split without throwing: the raw path and the query (malformed escapes stay as they are). */
function splitTarget(target: string | undefined): { rawPath: string; query: URLSearchParams } {
  const raw = target ?? '/';
  const at = raw.indexOf('?');
  return { rawPath: at < 0 ? raw : raw.slice(0, at), query: new URLSearchParams(at < 0 ? '' : raw.slice(at + 1)) };
}

/** The decoded path, or null when it is not one (bad escapes, NUL, not starting with a single '/'). */
function decodePath(rawPath: string): string | null {
  if (!rawPath.startsWith('/') || rawPath.startsWith('//')) return null;
  try {
    const path = decodeURIComponent(rawPath);
    return path.includes('\0') ? null : path;
  } catch {
    return null;
  }
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
    // The token is hex: compared as sent, so a malformed escape is a mismatch, not an exception.
    if (key === name) return rest.join('=');
  }
  return null;
}

/** How the server may be named in Host and Origin: exactly these host:port spellings, nothing that merely starts alike. */
function allowedAuthorities(configuredHost: string, port: number): Set<string> {
  const names = [...LOOPBACK_HOSTS, configuredHost].filter((h) => !WILDCARD_HOSTS.has(h));
  const withPort = names.map((h) => (h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`));
  // A browser leaves out the default port.
  return new Set(port === 80 ? [...withPort, ...names.map((h) => (h.includes(':') ? `[${h}]` : h))] : withPort);
}

export async function startHeadlessServer(options: HeadlessOptions): Promise<HeadlessServer> {
  const rendererDir = resolve(options.rendererDir);
  if (!existsSync(join(rendererDir, 'index.html'))) {
    throw new Error(`the renderer is not built (no ${join(rendererDir, 'index.html')}): run "npm run build:renderer"`);
  }
  const token = options.token ?? (isLoopback(options.host) ? null : randomBytes(24).toString('hex'));
  let authorities = new Set<string>();

  /** Token from the query (first visit), the cookie (later requests) or a Bearer header (scripts). */
  function authorised(req: IncomingMessage, query: URLSearchParams): boolean {
    if (!token) return true;
    const bearer = req.headers.authorization?.replace(/^Bearer\s+/i, '');
    return [query.get('token'), readCookie(req, TOKEN_COOKIE), bearer].some((t) => tokenMatches(t, token));
  }

  /**
   * Refuse foreign Host headers (DNS rebinding): only a loopback literal or the configured host, with our
   * port. A wildcard bind (0.0.0.0, ::) is reached by names we cannot know; there the token guards.
   */
  function hostAllowed(host: string | undefined): boolean {
    if (token !== null && WILDCARD_HOSTS.has(options.host)) return true;
    return host !== undefined && authorities.has(host.toLowerCase());
  }

  function sendFile(res: ServerResponse, path: string): void {
    const type = CONTENT_TYPES[extname(path)] ?? 'application/octet-stream';
    const immutable = path.includes(`${sep}assets${sep}`);
    res.writeHead(200, {
      'Content-Type': type,
      'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      ...SECURITY_HEADERS,
    });
    // A file removed between the check and the read ends the response, not the server.
    createReadStream(path)
      .on('error', () => res.destroy())
      .pipe(res);
  }

  /** The real path of a file to serve inside the renderer folder, or null (outside, a link out, not a file). */
  function staticFile(path: string): string | null {
    const requested = normalize(join(rendererDir, path));
    if (!isInside(rendererDir, requested)) return null;
    try {
      return statSync(requested).isFile() ? requested : null;
    } catch {
      return null;
    }
  }

  function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const { rawPath, query } = splitTarget(req.url);
    if (!hostAllowed(req.headers.host)) {
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end('forbidden host');
      return;
    }
    if (!authorised(req, query)) {
      res.writeHead(401, { 'Content-Type': 'text/plain' }).end('unauthorised: open the URL with ?token=... printed at start');
      return;
    }
    const pathname = decodePath(rawPath);
    if (pathname === null) {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('bad request path');
      return;
    }
    if (token && query.get('token')) {
      res.setHeader('Set-Cookie', `${TOKEN_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`);
    }
    if (options.routes?.some((route) => route(req, res, pathname))) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const media = MEDIA_PATH_PATTERN.exec(pathname);
    if (media) {
      const png = options.media({ kind: media[1] as MediaRef['kind'], id: Number(media[2]) });
      if (!png) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`no image at ${pathname}`);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'image/png', 'Cache-Control': 'private, max-age=3600', ...SECURITY_HEADERS });
      res.end(png);
      return;
    }
    // Unknown paths get the app (its router shows them), never a file outside the folder.
    sendFile(res, staticFile(pathname) ?? join(rendererDir, 'index.html'));
  }

  const server = createServer((req, res) => {
    try {
      handleRequest(req, res);
    } catch (err) {
      // Whatever a request does wrong ends that request, not the server.
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`internal error: ${(err as Error).message}`);
    }
  });
  const sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });

  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const { rawPath, query } = splitTarget(req.url);
    const reject = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      socket.destroy();
    };
    if (!hostAllowed(req.headers.host)) return reject('403 Forbidden');
    if (!authorised(req, query)) return reject('401 Unauthorized');
    if (rawPath !== '/api') return reject('404 Not Found');
    // Browsers always send Origin: it must name this server as the Host does.
    if (req.headers.origin !== undefined && req.headers.origin !== `http://${req.headers.host}`) return reject('403 Forbidden');
    sockets.handleUpgrade(req, socket, head, (ws) => sockets.emit('connection', ws, req));
  });

  sockets.on('connection', (ws: WebSocket) => {
    const send = (message: ServerMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    };
    const unsubscribe = options.events.subscribe((name, payload) => send({ type: 'event', name, payload }));
    ws.on('close', unsubscribe);
    // A malformed frame (bad UTF-8, reserved opcode, unmasked, oversize): ws has already closed this
    // connection with the matching code (1007, 1002, 1009); the process goes on.
    ws.on('error', () => ws.terminate());
    ws.on('message', async (data) => {
      let message: CallMessage;
      try {
        message = JSON.parse(String(data)) as CallMessage;
        if (message?.type !== 'call') throw new Error('not a call message');
        if (!Number.isSafeInteger(message.id)) throw new Error('id must be a safe integer');
        if (typeof message.name !== 'string') throw new Error('name must be a string');
      } catch (err) {
        ws.close(1008, `malformed message: ${(err as Error).message}`.slice(0, 120));
        return;
      }
      try {
        send({ type: 'result', id: message.id, ok: true, value: await options.dispatch(message.name, message.input) });
      } catch (err) {
        const error =
          err instanceof ApiError
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
  authorities = allowedAuthorities(options.host, address.port);
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
