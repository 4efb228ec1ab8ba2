// The Electron main process: one window, locked down (context isolation, sandbox, no node
// integration, strict CSP), the API contract over IPC, images over the unirl-media:// protocol.
import { app, BrowserWindow, ipcMain, protocol, session, shell } from 'electron';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MEDIA_PATH_PATTERN, type MediaRef } from '../../contract/api.ts';
import { ApiError } from '../../contract/rpc.ts';
import { openApp } from '../app.ts';
import { IPC_CALL, IPC_EVENT, MEDIA_SCHEME } from './channels.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const CSP = "default-src 'self'; img-src 'self' data: unirl-media:; connect-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'none'";

protocol.registerSchemesAsPrivileged([{ scheme: MEDIA_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

async function start(): Promise<void> {
  await app.whenReady();
  const core = await openApp({ mode: 'electron', electronUserData: app.getPath('userData') });

  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
  protocol.handle(MEDIA_SCHEME, (request) => {
    const match = MEDIA_PATH_PATTERN.exec(new URL(request.url).pathname);
    const png = match ? core.media({ kind: match[1] as MediaRef['kind'], id: Number(match[2]) }) : null;
    return png ? new Response(new Uint8Array(png), { headers: { 'Content-Type': 'image/png' } }) : new Response('not found', { status: 404 });
  });

  ipcMain.handle(IPC_CALL, async (_event, name: unknown, input: unknown) => {
    try {
      return { ok: true, value: await core.dispatch(String(name), input) };
    } catch (err) {
      const error = err instanceof ApiError ? err.info : { call: String(name), code: 'internal', message: String(err) };
      return { ok: false, error };
    }
  });

  const window = new BrowserWindow({
    width: 1360,
    height: 900,
    title: 'UniRL Studio',
    webPreferences: {
      preload: join(here, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
    },
  });
  core.events.subscribe((name, payload) => {
    if (!window.isDestroyed()) window.webContents.send(IPC_EVENT, name, payload);
  });
  // Links open in the system browser, never inside the app.
  window.webContents.setWindowOpenHandler(({ url }) => {
    void shell.openExternal(url);
    return { action: 'deny' };
  });
  if (process.env.ELECTRON_RENDERER_URL) await window.loadURL(process.env.ELECTRON_RENDERER_URL);
  else await window.loadFile(join(here, '../renderer/index.html'));

  app.on('window-all-closed', () => {
    void core.close().then(() => app.quit());
  });
}

start().catch((err) => {
  console.error(err);
  app.exit(1);
});
