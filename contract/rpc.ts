// The mechanics shared by both transports (Electron IPC and the headless WebSocket):
// the wire messages and the error a rejected call carries. No Node or Electron imports.

/** An error as it crosses the process boundary: which call, which field, what is wrong. */
export interface ApiErrorInfo {
  call: string;
  message: string;
  /** Dotted path of the offending input field, when the input failed validation. */
  field?: string;
  code: 'invalid_argument' | 'not_found' | 'failed_precondition' | 'internal' | 'unknown_call';
}

export class ApiError extends Error {
  constructor(readonly info: ApiErrorInfo) {
    super(info.message);
    this.name = 'ApiError';
  }
}

/** Client -> server over the WebSocket. */
export interface CallMessage {
  type: 'call';
  id: number;
  name: string;
  input: unknown;
}

/** Server -> client over the WebSocket. */
export type ServerMessage =
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: ApiErrorInfo }
  | { type: 'event'; name: string; payload: unknown };
