// `unirl prune`: a finished run shrunk to its storage policy (or what --keep names), with the space freed.
import type { StorageKeep } from '../../contract/api.ts';
import { openStore, resolveDataDir } from '../../db/index.ts';
import { pruneRun } from '../api/disk.ts';
import { parseOptions, PRUNE, UsageError } from './args.ts';

/** "latest=1,best,every=500,latents=all" -> what to keep; a --keep that names nothing of a kind keeps none of it (best: off). */
export function parseKeep(text: string): StorageKeep {
  const keep: StorageKeep = { best: false };
  for (const item of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [key, value] = item.split('=') as [string, string | undefined];
    const count = (min: number) => {
      if (value === undefined || !/^\d+$/.test(value) || Number(value) < min)
        throw new UsageError(`--keep ${key} needs a whole number >= ${min}, got "${item}"`);
      return Number(value);
    };
    if (key === 'latest') keep.latest = count(1);
    else if (key === 'every') keep.every = count(0);
    else if (key === 'best' && value === undefined) keep.best = true;
    else if (key === 'latents' && (value === 'viewed' || value === 'all')) keep.latents = value;
    else throw new UsageError(`--keep: unknown item "${item}" (latest=N, best, every=K, latents=viewed|all)`);
  }
  return keep;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

export async function pruneCommand(args: string[]): Promise<number> {
  const flags = parseOptions(PRUNE, args);
  if (!flags.run || !/^\d+$/.test(flags.run) || Number(flags.run) < 1)
    throw new UsageError(`--run must be a run id (a positive integer), got "${flags.run ?? ''}"`);
  const keep = flags.keep !== undefined ? parseKeep(flags.keep) : {};
  const store = openStore(resolveDataDir({ cliDir: flags['data-dir'] }).dbPath);
  try {
    const r = pruneRun(store, Number(flags.run), keep);
    const p = r.checkpoints.policy;
    process.stdout.write(
      `policy: latest ${p.keepLatest} with optimizer state, ${p.keepBest ? 'the best' : 'not the best'}, ` +
        `${p.snapshotEvery > 0 ? `a snapshot every ${p.snapshotEvery} steps` : 'no snapshots'}\n`,
    );
    process.stdout.write(
      `checkpoints: deleted steps [${r.checkpoints.deleted.join(', ')}], ` +
        `weights only [${r.checkpoints.weightsOnly.join(', ')}]: ${mb(r.checkpoints.freedBytes)} freed\n`,
    );
    process.stdout.write(
      `tensors: ${mb(r.tensorBytesFreed)} freed; ` +
        `database ${mb(r.reclaim.beforeBytes)} -> ${mb(r.reclaim.afterBytes)} (${r.reclaim.mode}, ${r.reclaim.ms} ms)\n`,
    );
  } finally {
    store.close();
  }
  return 0;
}
