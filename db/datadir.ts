// Where the app keeps its data: the database, checkpoints and exports.
import { mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

export const DB_FILE = 'unirl.sqlite';
const APP_DIR = 'unirl-studio';

export interface DataDirOptions {
  /** --data-dir from the command line. */
  cliDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Electron's app.getPath('userData'), when running in Electron. */
  electronUserData?: string;
  platform?: NodeJS.Platform;
  home?: string;
}

export interface DataDir {
  dir: string;
  dbPath: string;
  /** Which setting chose it. */
  source: 'cli' | 'env' | 'electron' | 'default';
}

/** The per-user default: XDG data home on Linux, Application Support on macOS, %APPDATA% on Windows. */
function defaultDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, home: string): string {
  if (platform === 'win32') return join(env.APPDATA || join(home, 'AppData', 'Roaming'), APP_DIR);
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', APP_DIR);
  const xdg = env.XDG_DATA_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(home, '.local', 'share'), APP_DIR);
}

/** --data-dir, then UNIRL_DATA_DIR, then Electron's userData, then the per-user default; creates the folder. */
export function resolveDataDir(options: DataDirOptions = {}): DataDir {
  const env = options.env ?? process.env;
  const [chosen, source]: [string, DataDir['source']] = options.cliDir
    ? [options.cliDir, 'cli']
    : env.UNIRL_DATA_DIR
      ? [env.UNIRL_DATA_DIR, 'env']
      : options.electronUserData
        ? [options.electronUserData, 'electron']
        : [defaultDir(env, options.platform ?? process.platform, options.home ?? homedir()), 'default'];
  const dir = resolve(chosen);
  createFolder(dir);
  return { dir, dbPath: join(dir, DB_FILE), source };
}

/** Creates the data dir, or says in one line why it cannot be one. */
function createFolder(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const isFile = (() => {
      try {
        return statSync(dir).isFile();
      } catch {
        return false;
      }
    })();
    if (isFile) throw new Error(`data dir ${dir} is a file, not a folder: choose another with --data-dir or UNIRL_DATA_DIR`);
    throw new Error(`cannot create the data dir ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
