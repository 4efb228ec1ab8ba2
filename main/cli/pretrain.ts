// `unirl pretrain`: supervised pretraining of the unified model on ShapeWorld, in-process with a console
// progress bar. The compute worker runs the same `pretrain` function as a job.
import { resolveDataDir } from '../../db/datadir.ts';
import { DATA_MIX_NAMES, type DataMixName } from '../models/data.ts';
import { pretrain } from '../models/pretrain.ts';
import { parseOptions, PRETRAIN, UsageError } from './args.ts';

function positiveNumber(value: string | undefined, flag: string, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    throw new UsageError(`--${flag} must be a positive ${integer ? 'integer' : 'number'}, got "${value}"`);
  return n;
}

export async function pretrainCommand(args: string[]): Promise<number> {
  const flags = parseOptions(PRETRAIN, args);
  const steps = positiveNumber(flags.steps, 'steps', true);
  const minutes = positiveNumber(flags.minutes, 'minutes', false);
  if (steps === undefined && minutes === undefined) throw new UsageError('give --minutes N or --steps N');
  if (flags.resume && flags.from) throw new UsageError('--resume continues --out; --from starts a new stage from other weights: give one');
  if (flags.mix !== undefined && !(DATA_MIX_NAMES as string[]).includes(flags.mix))
    throw new UsageError(`--mix must be one of ${DATA_MIX_NAMES.join(', ')}, got "${flags.mix}"`);
  const options = {
    preset: flags.preset ?? 'base',
    dataDir: resolveDataDir({ cliDir: flags['data-dir'] }).dir,
    resume: flags.resume ?? false,
    ...(flags.out ? { out: flags.out } : {}),
    ...(flags.from ? { from: flags.from } : {}),
    ...(flags.mix ? { mix: flags.mix as DataMixName } : {}),
    ...(steps !== undefined ? { steps } : {}),
    ...(minutes !== undefined ? { minutes } : {}),
    threads: positiveNumber(flags.threads, 'threads', true) ?? 2,
    ...(flags.seed !== undefined ? { seed: Number(flags.seed) } : {}),
    ...(flags['dm-batch'] !== undefined ? { dmBatch: positiveNumber(flags['dm-batch'], 'dm-batch', true)! } : {}),
    ...(flags['lm-batch'] !== undefined ? { lmBatch: positiveNumber(flags['lm-batch'], 'lm-batch', true)! } : {}),
    ...(flags.lr !== undefined ? { lr: positiveNumber(flags.lr, 'lr', false)! } : {}),
  };
  let cancelled = false;
  const onSignal = () => {
    cancelled = true;
  };
  process.once('SIGINT', onSignal);
  const tty = process.stdout.isTTY;
  let lastLine = 0;
  const result = await pretrain(options, {
    progress({ done, total, message }) {
      const width = 24;
      const filled = Math.round((done / total) * width);
      const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${((done / total) * 100).toFixed(1)}% ${message ?? ''}`;
      if (tty) process.stdout.write(`\r${line}`);
      else if (performance.now() - lastLine > 10_000) {
        lastLine = performance.now();
        console.log(line);
      }
    },
    checkCancelled() {
      if (cancelled) throw new Error('cancelled (the last checkpoint is kept; continue with --resume)');
    },
  });
  process.off('SIGINT', onSignal);
  if (tty) process.stdout.write('\n');
  console.log(
    `done: ${result.steps} steps in ${(result.seconds / 60).toFixed(1)} min, ` +
      `dm loss ${result.dmLoss.toFixed(4)}, lm loss ${result.lmLoss.toFixed(3)}`,
  );
  console.log(`checkpoint ${result.checkpoint}`);
  console.log(`loss curve ${result.lossCurve}`);
  return 0;
}
