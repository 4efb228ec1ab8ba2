#!/usr/bin/env node
// `npm start`: the desktop app where Electron is installed; otherwise say so in one line and serve
// the same app headless.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function electronBinary() {
  try {
    return require('electron'); // the package exports the path of its binary
  } catch {
    return null;
  }
}

const electron = electronBinary();
if (electron && typeof electron === 'string') {
  const child = spawn(
    process.execPath,
    [new URL('../node_modules/electron-vite/bin/electron-vite.js', import.meta.url).pathname, 'preview'],
    {
      stdio: 'inherit',
    },
  );
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  console.log('Electron is not installed here; serving UniRL Studio headless instead (open the URL below in a browser).');
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../main/cli/index.ts');
  process.exitCode = await main(['serve', ...process.argv.slice(2)]);
}
