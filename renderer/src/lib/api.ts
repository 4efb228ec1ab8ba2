// The renderer's transport: `window.unirl` when the Electron preload exposed it, otherwise a
// WebSocket client to the headless server's `/api` on the page's own origin. Both implement the
// contract's `UnirlApi`, so the pages never know which one they talk to.
import type { CallInput, CallName, CallOutput, EventName, Events, UnirlApi } from '../../../contract/api.ts';
import { mediaPath, type MediaRef } from '../../../contract/media.ts';
import { ApiError, type CallMessage, type ServerMessage } from '../../../contract/rpc.ts';

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected';

export interface ConnectionInfo {
  status: ConnectionStatus;
  /** When disconnected: milliseconds until the next attempt. */
  retryInMs: number;
  /** Successful connections so far; a rise after the first means "reconnected: reload your data". */
  connections: number;
}

/** UnirlApi plus the connection state the header and the banner show. */
export interface RendererApi extends UnirlApi {
  onConnection(listener: (info: ConnectionInfo) => void): () => void;
}

declare global {
  interface Window {
    /** Set by the Electron preload through contextBridge. */
    unirl?: UnirlApi;
  }
}

interface PendingCall {
  name: string;
  resolve: (value: unknown) => void;
  reject: (error: ApiError) => void;
}

type AnyHandler = (payload: unknown) => void;

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 8000;

/**
 * A `UnirlApi` over one WebSocket: numbered calls, one promise per call, events fanned out to
 * subscribers, reconnection with exponential backoff. Calls made while the socket is down wait in
 * a queue and go out when it reconnects; calls in flight when it drops are rejected.
 */
export class WebSocketApi implements RendererApi {
  private socket: WebSocket | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, PendingCall>();
  private readonly outbox: string[] = [];
  private readonly handlers = new Map<string, Set<AnyHandler>>();
  private readonly connectionListeners = new Set<(info: ConnectionInfo) => void>();
  private info: ConnectionInfo = { status: 'connecting', retryInMs: 0, connections: 0 };
  private backoffMs = BACKOFF_MIN_MS;

  constructor(
    private readonly url: string,
    private readonly token: string | null,
  ) {
    this.connect();
  }

  call<K extends CallName>(name: K, input: CallInput<K>): Promise<CallOutput<K>> {
    const id = this.nextId++;
    const message: CallMessage = { type: 'call', id, name, input };
    return new Promise<CallOutput<K>>((resolve, reject) => {
      this.pending.set(id, { name, resolve: resolve as (value: unknown) => void, reject });
      this.send(JSON.stringify(message));
    });
  }

  on<E extends EventName>(event: E, handler: (payload: Events[E]) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    const anyHandler = handler as AnyHandler;
    set.add(anyHandler);
    return () => set.delete(anyHandler);
  }

  mediaUrl(ref: MediaRef): string {
    return withToken(mediaPath(ref), this.token);
  }

  onConnection(listener: (info: ConnectionInfo) => void): () => void {
    this.connectionListeners.add(listener);
    listener(this.info);
    return () => this.connectionListeners.delete(listener);
  }

  private send(text: string): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(text);
    else this.outbox.push(text);
  }

  private connect(): void {
    this.setInfo({ ...this.info, status: 'connecting', retryInMs: 0 });
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      this.backoffMs = BACKOFF_MIN_MS;
      this.setInfo({ status: 'connected', retryInMs: 0, connections: this.info.connections + 1 });
      for (const text of this.outbox.splice(0)) socket.send(text);
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.failPending('the connection to the server was lost');
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
      this.setInfo({ ...this.info, status: 'disconnected', retryInMs: delay });
      setTimeout(() => this.connect(), delay);
    };
  }

  private receive(data: unknown): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(String(data)) as ServerMessage;
    } catch {
      console.error('unirl: ignoring a message that is not JSON', data);
      return;
    }
    if (message.type === 'event') {
      for (const handler of this.handlers.get(message.name) ?? []) {
        try {
          handler(message.payload);
        } catch (err) {
          console.error(`unirl: handler for "${message.name}" threw`, err);
        }
      }
      return;
    }
    const call = this.pending.get(message.id);
    if (!call) return;
    this.pending.delete(message.id);
    if (message.ok) call.resolve(message.value);
    else call.reject(new ApiError(message.error));
  }

  private failPending(reason: string): void {
    for (const [id, call] of this.pending) {
      call.reject(new ApiError({ call: call.name, code: 'internal', message: `"${call.name}" failed: ${reason}` }));
      this.pending.delete(id);
    }
  }

  private setInfo(info: ConnectionInfo): void {
    this.info = info;
    for (const listener of this.connectionListeners) listener(info);
  }
}

/** Electron: the preload's bridge; IPC cannot drop, so the connection is always up. */
function fromBridge(bridge: UnirlApi): RendererApi {
  return {
    call: (name, input) => bridge.call(name, input),
    on: (event, handler) => bridge.on(event, handler),
    mediaUrl: (ref) => bridge.mediaUrl(ref),
    onConnection(listener) {
      listener({ status: 'connected', retryInMs: 0, connections: 1 });
      return () => {};
    },
  };
}

function withToken(path: string, token: string | null): string {
  return token ? `${path}?token=${encodeURIComponent(token)}` : path;
}

/** Picks the transport for this page. */
export function createApi(win: Window = window): RendererApi {
  if (win.unirl) return fromBridge(win.unirl);
  const token = new URLSearchParams(win.location.search).get('token');
  const scheme = win.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = withToken(`${scheme}//${win.location.host}/api`, token);
  return new WebSocketApi(url, token);
}

/** A readable message for anything a call can throw; API errors always name their call. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message.includes(err.info.call) ? err.message : `${err.info.call}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
