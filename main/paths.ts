// The app's root folder (where package.json, assets/ and out/ live), found from this module's location.
// Paths relative to a source file break once electron-vite bundles main/ into out/main (and into an asar
// archive when packaged), so files the app ships are resolved from the root instead.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findAppRoot(start: string): string {
  for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'unirl-studio') return dir;
  }
  throw new Error(`no unirl-studio package.json above ${start}`);
}

export const APP_ROOT = findAppRoot(dirname(fileURLToPath(import.meta.url)));

/** A path inside the app's root folder. */
export function appPath(...parts: string[]): string {
  return join(APP_ROOT, ...parts);
}
