// The transport's connection state, as reactive fields for the header and the banner.
import type { ConnectionStatus, RendererApi } from './api.ts';

export class ConnectionState {
  status = $state<ConnectionStatus>('connecting');
  retryInMs = $state(0);
  /** Rises on every successful (re)connection; pages reload their data when it does. */
  connections = $state(0);

  constructor(api: RendererApi) {
    api.onConnection((info) => {
      this.status = info.status;
      this.retryInMs = info.retryInMs;
      this.connections = info.connections;
    });
  }
}
