// Builds the three processes for the desktop app: main (+ the compute worker), preload, renderer.
// The headless mode serves the same renderer build (out/renderer).
import { defineConfig } from 'electron-vite';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import rendererConfig from './renderer/vite.config.ts';

// electron-vite picks its Node and Chrome build targets from the installed electron package, which npm
// drops when Electron's binary cannot be downloaded (it is an optional dependency). The bundles need only
// the major version, so it comes from package.json's declared range when the package is absent.
if (!process.env.ELECTRON_MAJOR_VER) {
  const { optionalDependencies } = JSON.parse(readFileSync(resolve('package.json'), 'utf8')) as {
    optionalDependencies: Record<string, string>;
  };
  const major = /\d+/.exec(optionalDependencies.electron ?? '')?.[0];
  if (!major) throw new Error('package.json declares no electron version in optionalDependencies');
  process.env.ELECTRON_MAJOR_VER = major;
}

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
  // electron-vite wants the renderer's entry named (plain Vite finds renderer/index.html by itself).
  renderer: { ...rendererConfig, build: { ...rendererConfig.build, rollupOptions: { input: resolve('renderer/index.html') } } },
});
