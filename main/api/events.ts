// The main process's event bus: the trainer, the worker client and the handlers publish; each
// transport (IPC to windows, WebSocket to browsers) subscribes once and forwards.
import type { EventName, Events } from '../../contract/api.ts';

type Listener = <E extends EventName>(event: E, payload: Events[E]) => void;

export class EventBus {
  private readonly listeners = new Set<Listener>();

  publish<E extends EventName>(event: E, payload: Events[E]): void {
    for (const listener of this.listeners) listener(event, payload);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
