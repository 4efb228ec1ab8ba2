// The desktop window's security decisions as plain functions (no Electron import), so the handlers in
// index.ts and the tests run the same checks: IPC only from the app's own top frame, navigation kept to
// the app, new windows never (web links go to the system browser), every permission request denied.

/** Where the app's page comes from: the built index.html, or the dev server (electron-vite). */
export interface AppLocation {
  kind: 'file' | 'dev';
  indexUrl: string;
}

function parse(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** The app itself: the same index file (any hash or query), or the dev server's exact origin. */
export function isAppUrl(app: AppLocation, url: string): boolean {
  const target = parse(url);
  const home = parse(app.indexUrl);
  if (!target || !home) return false;
  if (app.kind === 'dev') return target.origin === home.origin;
  return target.protocol === 'file:' && target.host === home.host && target.pathname === home.pathname;
}

/** Only http(s) links leave the app, and only for the system browser. */
function externalLink(url: string): string | null {
  const target = parse(url);
  return target && (target.protocol === 'https:' || target.protocol === 'http:') ? target.href : null;
}

export interface IpcSender {
  url: string;
  /** Whether the frame is the top frame of the app's window (not a subframe, not another window). */
  isTopFrameOfAppWindow: boolean;
}

/** IPC calls come only from the app's page in its own window's top frame. */
export function allowIpcSender(app: AppLocation, sender: IpcSender | null): boolean {
  return sender?.isTopFrameOfAppWindow === true && isAppUrl(app, sender.url);
}

export function decideNavigation(app: AppLocation, url: string): { allow: true } | { allow: false; openExternal?: string } {
  if (isAppUrl(app, url)) return { allow: true };
  const external = externalLink(url);
  return external ? { allow: false, openExternal: external } : { allow: false };
}

export function decideWindowOpen(url: string): { action: 'deny'; openExternal?: string } {
  const external = externalLink(url);
  return external ? { action: 'deny', openExternal: external } : { action: 'deny' };
}

/** The app uses no camera, microphone, notifications, location or clipboard reads: all are denied. */
export function decidePermission(_permission: string): boolean {
  return false;
}
