// The preload exposes exactly the API contract to the renderer (no raw ipcRenderer): one `call`
// channel, one event channel, and media URLs on the app's own protocol.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { EVENT_NAMES, mediaPath, type EventName, type Events, type UnirlApi } from '../contract/api.ts';
import { ApiError, type ApiErrorInfo } from '../contract/rpc.ts';
import { IPC_CALL, IPC_EVENT, MEDIA_SCHEME } from '../main/electron/channels.ts';

type CallReply = { ok: true; value: unknown } | { ok: false; error: ApiErrorInfo };

const api: UnirlApi = {
  async call(name, input) {
    const reply = (await ipcRenderer.invoke(IPC_CALL, name, input)) as CallReply;
    if (!reply.ok) throw new ApiError(reply.error);
    return reply.value as never;
  },
  on<E extends EventName>(event: E, handler: (payload: Events[E]) => void) {
    if (!EVENT_NAMES.includes(event)) throw new Error(`unknown event "${event}"`);
    const listener = (_e: IpcRendererEvent, name: string, payload: unknown) => {
      if (name === event) handler(payload as Events[E]);
    };
    ipcRenderer.on(IPC_EVENT, listener);
    return () => ipcRenderer.removeListener(IPC_EVENT, listener);
  },
  mediaUrl: (ref) => `${MEDIA_SCHEME}://app${mediaPath(ref)}`,
};

contextBridge.exposeInMainWorld('unirl', api);
