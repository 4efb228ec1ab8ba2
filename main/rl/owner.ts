// Which process trains a run. A run left 'running' by a trainer that died (killed, out of memory, power
// loss) can be resumed once its trainer is known to be gone; a run whose trainer is alive must not be
// trained by a second process. The owner file sits in the run's folder while a trainer holds the run.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export interface RunOwner {
  pid: number;
  host: string;
  since: string;
}

const ownerFile = (runDir: string) => join(runDir, 'owner.json');

/** Records this process as the run's trainer; the returned function gives the run up. */
export function claimRun(runDir: string): () => void {
  mkdirSync(runDir, { recursive: true });
  const owner: RunOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  writeFileSync(ownerFile(runDir), JSON.stringify(owner) + '\n');
  return () => rmSync(ownerFile(runDir), { force: true });
}

/**
 * Whether a trainer may still hold the run: its owner process is alive on this machine, or it runs on
 * another machine (which cannot be checked from here). No owner file (a run from before owner files, or
 * one whose trainer ended) counts as gone.
 */
export function liveOwner(runDir: string): RunOwner | null {
  let owner: RunOwner;
  try {
    owner = JSON.parse(readFileSync(ownerFile(runDir), 'utf8')) as RunOwner;
  } catch {
    return null;
  }
  if (owner.host !== hostname()) return owner;
  try {
    process.kill(owner.pid, 0);
    return owner;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? owner : null;
  }
}
