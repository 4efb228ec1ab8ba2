// The Electron main process: one window, locked down (context isolation, sandbox, no node
// integration, strict CSP), the API contract over IPC, images over the unirl-media:// protocol.
import { app, BrowserWindow, ipcMain, protocol, session, shell } from 'electron';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MEDIA_PATH_PATTERN, type MediaRef } from '../../contract/api.ts';
import { ApiError } from '../../contract/rpc.ts';
import { openApp } from '../app.ts';
import { IPC_CALL, IPC_EVENT, MEDIA_SCHEME } from './channels.ts';
import { allowIpcSender, decideNavigation, decidePermission, decideWindowOpen, type AppLocation } from './guards.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const CSP =
  "default-src 'self'; img-src 'self' data: unirl-media:; connect-src 'self'; style-src 'self' 'unsafe-inline'; " +
  "script-src 'self'; object-src 'none'; base-uri 'none'";

protocol.registerSchemesAsPrivileged([{ scheme: MEDIA_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

const APP: AppLocation = process.env.ELECTRON_RENDERER_URL
  ? { kind: 'dev', indexUrl: process.env.ELECTRON_RENDERER_URL }
  : { kind: 'file', indexUrl: pathToFileURL(join(here, '../renderer/index.html')).href };

// Every web contents (the window, any it might spawn): no navigation away, no new windows, no webviews.
app.on('web-contents-created', (_event, contents) => {
  contents.on('will-navigate', (event, url) => {
    const decision = decideNavigation(APP, url);
    if (decision.allow) return;
    event.preventDefault();
    if (decision.openExternal) void shell.openExternal(decision.openExternal);
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  // Links open in the system browser, never inside the app.
  contents.setWindowOpenHandler(({ url }) => {
    const decision = decideWindowOpen(url);
    if (decision.openExternal) void shell.openExternal(decision.openExternal);
    return { action: decision.action };
  });
});

async function start(): Promise<void> {
  await app.whenReady();
  session.defaultSession.setPermissionRequestHandler((_contents, permission, callback) => callback(decidePermission(permission)));
  session.defaultSession.setPermissionCheckHandler((_contents, permission) => decidePermission(permission));
  const core = await openApp({ mode: 'electron', electronUserData: app.getPath('userData') });

  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
  protocol.handle(MEDIA_SCHEME, (request) => {
    const match = MEDIA_PATH_PATTERN.exec(new URL(request.url).pathname);
    const png = match ? core.media({ kind: match[1] as MediaRef['kind'], id: Number(match[2]) }) : null;
    return png
      ? new Response(new Uint8Array(png), { headers: { 'Content-Type': 'image/png' } })
      : new Response('not found', { status: 404 });
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
  ipcMain.handle(IPC_CALL, async (event, name: unknown, input: unknown) => {
    const frame = event.senderFrame;
    const sender = frame ? { url: frame.url, isTopFrameOfAppWindow: frame === window.webContents.mainFrame } : null;
    if (!allowIpcSender(APP, sender)) {
      return {
        ok: false,
        error: { call: String(name), code: 'failed_precondition', message: 'calls are accepted only from the app window' },
      };
    }
    try {
      return { ok: true, value: await core.dispatch(String(name), input) };
    } catch (err) {
      const error = err instanceof ApiError ? err.info : { call: String(name), code: 'internal', message: String(err) };
      return { ok: false, error };
    }
  });

  core.events.subscribe((name, payload) => {
    if (!window.isDestroyed()) window.webContents.send(IPC_EVENT, name, payload);
  });
  await window.loadURL(APP.indexUrl);

  app.on('window-all-closed', () => {
    void core.close().then(() => app.quit());
  });
}

start().catch((err) => {
  console.error(err);
  app.exit(1);
});
