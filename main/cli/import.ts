// `unirl import --rollouts DIR`: a cluster's verl rollout dump ({step}.jsonl + PNG images) into a run, for
// the Rollouts and Ranking screens. See main/export/verl-import.ts for the format.
import { openStore, resolveDataDir } from '../../db/index.ts';
import { importVerlRollouts } from '../export/verl-import.ts';
import { IMPORT, parseOptions, UsageError } from './args.ts';

export async function importCommand(args: string[]): Promise<number> {
  const flags = parseOptions(IMPORT, args);
  if (!flags.rollouts) throw new UsageError("--rollouts DIR is required (verl's trainer.rollout_data_dir)");
  if (flags.run !== undefined && !/^[1-9]\d*$/.test(flags.run))
    throw new UsageError(`--run must be a run id (a positive integer), got "${flags.run}"`);
  if (flags.run !== undefined && flags.name !== undefined)
    throw new UsageError('--run adds to an existing run, --name names a new one: give one of them');
  const store = openStore(resolveDataDir({ cliDir: flags['data-dir'] }).dbPath);
  try {
    const result = importVerlRollouts(store, {
      dir: flags.rollouts,
      ...(flags.run !== undefined ? { runId: Number(flags.run) } : {}),
      ...(flags.name !== undefined ? { name: flags.name } : {}),
    });
    const steps = result.steps.length > 1 ? `steps ${result.steps[0]}-${result.steps.at(-1)}` : `step ${result.steps[0]}`;
    process.stdout.write(
      `run ${result.runId}: ${result.groups} groups, ${result.samples} samples from ${steps}; ${result.queued} groups wait for ranking\n`,
    );
  } finally {
    store.close();
  }
  return 0;
}
