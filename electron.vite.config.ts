// Builds the three processes for the desktop app: main (+ the compute worker), preload, renderer.
// The headless mode serves the same renderer build (out/renderer).
import { defineConfig } from 'electron-vite';
import { resolve } from 'node:path';
import rendererConfig from './renderer/vite.config.ts';

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: { index: resolve('main/electron/index.ts'), worker: resolve('main/compute/worker.ts') },
        external: ['better-sqlite3', 'onnxruntime-node'],
      },
    },
  },
  preload: {
    // Sandboxed preloads must be CommonJS.
    build: {
      outDir: 'out/preload',
      rollupOptions: { input: { index: resolve('preload/index.ts') }, output: { format: 'cjs', entryFileNames: '[name].cjs' } },
    },
  },
  renderer: rendererConfig,
});
