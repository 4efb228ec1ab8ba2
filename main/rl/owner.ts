// Which process trains a run. A run left 'running' by a trainer that died (killed, out of memory, power
// loss) can be resumed once its trainer is known to be gone; a run whose trainer is alive must not be
// trained by a second process. The owner file sits in the run's folder while a trainer holds the run;
// it is created exclusively, so two trainers starting at once cannot both hold it.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Store } from '../../db/index.ts';

export interface RunOwner {
  pid: number;
  host: string;
  since: string;
}

const ownerFile = (runDir: string) => join(runDir, 'owner.json');

/** Where a run's checkpoints and owner file live. */
export const runDirOf = (dataDir: string, runId: number) => join(dataDir, 'runs', String(runId));

export function describeOwner(runId: number, owner: RunOwner): string {
  return `run ${runId} is being trained by process ${owner.pid} on ${owner.host} (since ${owner.since}): pause or stop it there first`;
}

/**
 * Records this process as the run's trainer; the returned function gives the run up. Throws when a live
 * process holds it. A dead owner's file is moved aside (a rename: only one claimant wins it) first.
 */
export function claimRun(runDir: string, runId = Number(runDir.split(/[\\/]/).pop())): () => void {
  mkdirSync(runDir, { recursive: true });
  const owner: RunOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const file = ownerFile(runDir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(owner) + '\n', { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = liveOwner(runDir);
      if (holder && !isThisProcess(holder)) throw new Error(describeOwner(runId, holder));
      try {
        renameSync(file, `${file}.stale-${process.pid}`);
        rmSync(`${file}.stale-${process.pid}`, { force: true });
      } catch {
        // Another claimant moved it first; the next attempt finds its file.
      }
    }
  }
  const holder = liveOwner(runDir);
  throw new Error(holder ? describeOwner(runId, holder) : `run ${runId}: could not record this process as its trainer in ${file}`);
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

/**
 * This process's own claim: left by a trainer in a worker thread of ours that died without releasing it
 * (the app keeps one job per run, so it is not a second trainer).
 */
export function isThisProcess(owner: RunOwner): boolean {
  return owner.pid === process.pid && owner.host === hostname();
}

/** At start-up: runs left 'running' whose trainer is gone become 'interrupted' (resumable); live ones stay. */
export function interruptAbandonedRuns(store: Store, dataDir: string): number[] {
  return store.runs.markInterrupted((runId) => liveOwner(runDirOf(dataDir, runId)) === null);
}
