// Vite config of the renderer. electron.vite.config.ts reuses it for the Electron build;
// bin/build-renderer.js builds it for the headless server (out/renderer).
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import type { UserConfig } from 'vite';

const rendererRoot = fileURLToPath(new URL('.', import.meta.url));
export const rendererOutDir = fileURLToPath(new URL('../out/renderer', import.meta.url));

export const rendererConfig: UserConfig = {
  root: rendererRoot,
  // Relative asset URLs: the same build loads from the headless server and from Electron's file/protocol URL.
  base: './',
  plugins: [svelte({ compilerOptions: { runes: true } })],
  build: {
    outDir: rendererOutDir,
    emptyOutDir: true,
    target: 'chrome120',
    // Sourcemaps as files keep the CSP free of data: script URLs.
    sourcemap: true,
  },
  server: {
    // `npx vite --config renderer/vite.config.ts` in development: forward the API and media to a running `unirl serve`.
    proxy: process.env.UNIRL_DEV_SERVER
      ? {
          '/api': { target: process.env.UNIRL_DEV_SERVER, ws: true },
          '/media': { target: process.env.UNIRL_DEV_SERVER },
        }
      : undefined,
  },
};

export default rendererConfig;
