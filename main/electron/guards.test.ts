// The desktop window's security checks (issue 16, problem 10) as the Electron handlers call them: IPC
// only from the app's own top frame, navigation and new windows kept to the app, permissions denied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowIpcSender, decidePermission, decideNavigation, decideWindowOpen, isAppUrl } from './guards.ts';

const FILE_APP = { kind: 'file', indexUrl: 'file:///opt/unirl/out/renderer/index.html' } as const;
const DEV_APP = { kind: 'dev', indexUrl: 'http://localhost:5173/' } as const;

test('app URLs: the renderer index file (any hash) or the dev server origin, nothing that merely looks alike', () => {
  assert.ok(isAppUrl(FILE_APP, 'file:///opt/unirl/out/renderer/index.html#/runs/3'));
  assert.ok(!isAppUrl(FILE_APP, 'file:///etc/passwd'));
  assert.ok(!isAppUrl(FILE_APP, 'file:///opt/unirl/out/renderer/index.html.evil'));
  assert.ok(!isAppUrl(FILE_APP, 'https://evil.example/opt/unirl/out/renderer/index.html'));
  assert.ok(isAppUrl(DEV_APP, 'http://localhost:5173/runs'));
  assert.ok(!isAppUrl(DEV_APP, 'http://localhost:5174/'));
  assert.ok(!isAppUrl(DEV_APP, 'http://localhost.evil.example:5173/'));
  assert.ok(!isAppUrl(DEV_APP, 'not a url'));
});

test('IPC calls are accepted only from the app top frame', () => {
  assert.ok(allowIpcSender(FILE_APP, { url: 'file:///opt/unirl/out/renderer/index.html#/', isTopFrameOfAppWindow: true }));
  assert.ok(!allowIpcSender(FILE_APP, { url: 'file:///opt/unirl/out/renderer/index.html', isTopFrameOfAppWindow: false }), 'a subframe');
  assert.ok(!allowIpcSender(FILE_APP, { url: 'https://evil.example/', isTopFrameOfAppWindow: true }), 'navigated away');
  assert.ok(!allowIpcSender(FILE_APP, null), 'a frame that is gone');
});

test('navigation stays in the app; links to the web open in the system browser; other schemes nowhere', () => {
  assert.deepEqual(decideNavigation(FILE_APP, 'file:///opt/unirl/out/renderer/index.html#/eval'), { allow: true });
  assert.deepEqual(decideNavigation(FILE_APP, 'https://example.org/paper'), { allow: false, openExternal: 'https://example.org/paper' });
  assert.deepEqual(decideNavigation(FILE_APP, 'file:///etc/passwd'), { allow: false });
  assert.deepEqual(decideWindowOpen('https://arxiv.org/abs/2510.17937'), {
    action: 'deny',
    openExternal: 'https://arxiv.org/abs/2510.17937',
  });
  for (const url of ['file:///etc/passwd', 'javascript:alert(1)', 'smb://host/share', 'unirl-media://sample/1.png']) {
    assert.deepEqual(decideWindowOpen(url), { action: 'deny' }, url);
  }
});

test('permission requests are denied: the app needs none', () => {
  for (const permission of ['media', 'notifications', 'geolocation', 'clipboard-read', 'openExternal', 'midi']) {
    assert.equal(decidePermission(permission), false, permission);
  }
});
