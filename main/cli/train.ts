// `unirl train`: GRPO on the unified model for a scenario, in-process, with a progress bar and one line
// per step. The compute worker runs the same `trainJob` (main/rl/job.ts).
import { existsSync, readFileSync } from 'node:fs';
import { SCENARIOS, type Scenario } from '../../contract/domain.ts';
import { JobCancelled } from '../compute/job-context.ts';
import { CRITERIA, isCriterion } from '../world/criteria.ts';
import { trainJob } from '../rl/job.ts';
import type { StepSummary } from '../rl/trainer.ts';
import { parseOptions, TRAIN, UsageError } from './args.ts';

function positive(value: string | undefined, flag: string, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    throw new UsageError(`--${flag} must be a positive ${integer ? 'integer' : 'number'}, got "${value}"`);
  return n;
}

/** One console line per step: progress bar, reward, the GRPO health numbers, timing. */
export function stepLine(s: StepSummary): string {
  const m = s.metrics;
  const width = 20;
  const done = Math.max(s.step / s.totalSteps, s.limitSeconds ? s.elapsedSeconds / s.limitSeconds : 0);
  const filled = Math.min(width, Math.round(done * width));
  const num = (name: string, digits = 3) =>
    m[name] === undefined ? '-' : Math.abs(m[name]) < 1e-3 && m[name] !== 0 ? m[name].toExponential(1) : m[name].toFixed(digits);
  const parts = [
    `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] step ${s.step}` +
      `${s.limitSeconds ? ` ${(s.elapsedSeconds / 60).toFixed(1)}/${(s.limitSeconds / 60).toFixed(0)} min` : `/${s.totalSteps}`}`,
    `reward ${num('reward/mean')} ±${num('reward/std')}`,
    `zero-std ${num('frac_reward_zero_std', 2)}`,
    ...(['lm', 'dm'] as const)
      .filter((k) => m[`policy_loss/${k}`] !== undefined)
      // Flow-GRPO clips ratios; DiffusionNFT has none, and shows how far it moved from its old policy instead.
      .map(
        (k) =>
          `${k}: kl ${num(`kl/${k}`)} ${m[`clip_fraction/${k}`] !== undefined ? `clip ${num(`clip_fraction/${k}`, 2)}` : `drift ${num(`old_deviation/${k}`)}`}`,
      ),
    ...(m['eval/accuracy'] !== undefined ? [`eval ${num('eval/accuracy')}`] : []),
    `${num('time/step', 1)} s (rollout ${num('time/rollout', 1)}, update ${num('time/update', 1)})`,
    `${num('samples_per_s', 1)} samples/s`,
  ];
  return parts.join('  ');
}

export async function trainCommand(args: string[]): Promise<number> {
  const flags = parseOptions(TRAIN, args);
  const scenario = flags.scenario as Scenario | undefined;
  if (!scenario || !SCENARIOS.includes(scenario))
    throw new UsageError(`--scenario must be one of ${SCENARIOS.join(', ')}${flags.scenario ? `, got "${flags.scenario}"` : ''}`);
  if (flags.steps !== undefined && flags.minutes !== undefined) throw new UsageError('give --steps or --minutes, not both');
  if (flags.human !== undefined && !['off', 'sync', 'async'].includes(flags.human))
    throw new UsageError(`--human must be sync, async or off, got "${flags.human}"`);
  if (flags.preset !== undefined && flags.preset !== 'nano' && flags.preset !== 'base')
    throw new UsageError(`--preset must be nano or base, got "${flags.preset}"`);
  if (flags.annotator !== undefined && !isCriterion(flags.annotator))
    throw new UsageError(`--annotator must be one of ${Object.keys(CRITERIA).join(', ')}, got "${flags.annotator}"`);
  const runId = positive(flags.resume, 'resume', true);
  const steps = positive(flags.steps, 'steps', true);
  const minutes = positive(flags.minutes, 'minutes', false);
  const threads = positive(flags.threads, 'threads', true);
  const fromFile = flags.config ? readConfigFile(flags.config) : {};
  const fromFlags = {
    ...(flags.preset ? { model: { preset: flags.preset } } : {}),
    ...(steps !== undefined ? { steps, minutes: null } : {}),
    ...(minutes !== undefined ? { minutes, steps: 1_000_000 } : {}),
    ...(flags.human ? { human: { mode: flags.human } } : {}),
    ...(threads !== undefined ? { runtime: { threads } } : {}),
    ...(flags.seed !== undefined ? { seed: Number(flags.seed) } : {}),
  };
  let cancelled = false;
  const onSignal = () => {
    cancelled = true;
    console.log('\npausing after this step (a checkpoint is written; continue with --resume)...');
  };
  process.once('SIGINT', onSignal);
  try {
    const result = await trainJob(
      {
        scenario,
        config: mergeObjects(fromFile, fromFlags),
        nano: flags.preset === 'nano',
        ...(flags['data-dir'] ? { dataDir: flags['data-dir'] } : {}),
        ...(runId !== undefined ? { runId } : {}),
        ...(flags.name ? { runName: flags.name } : {}),
        ...(flags.checkpoint ? { checkpoint: flags.checkpoint } : {}),
        ...(flags.annotator && isCriterion(flags.annotator) ? { scriptedAnnotator: flags.annotator } : {}),
      },
      {
        progress: () => {},
        checkCancelled: () => {
          if (cancelled) throw new JobCancelled();
        },
      },
      {
        onStep: (s) => console.log(stepLine(s)),
        log: (line) => console.log(line),
        // Ctrl-C pauses: the run stays resumable, as the app's pause button leaves it.
        cancelledStatus: () => 'paused',
      },
    );
    console.log(`run ${result.runId}: ${result.step} steps (${result.stoppedBy}); checkpoint ${result.checkpoint ?? 'none'}`);
    if (result.stoppedBy === 'cancelled')
      console.log(
        `paused; continue with: unirl train --scenario ${scenario} --resume ${result.runId}` +
          `${flags['data-dir'] ? ` --data-dir ${flags['data-dir']}` : ''} [--steps N | --minutes M]`,
      );
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
  }
}

/** The --config file's JSON object; errors name the file and what is wrong with it. */
function readConfigFile(path: string): object {
  if (!existsSync(path)) throw new UsageError(`--config ${path}: no such file`);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`--config ${path}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new UsageError(`--config ${path}: must hold a JSON object of TrainConfig fields`);
  return value;
}

/** The config file's object with the flags' fields merged in (flags win, nested objects merge). */
function mergeObjects(base: object, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(patch)) {
    const current = out[key];
    out[key] = isObject(value) && isObject(current) ? { ...current, ...value } : value;
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
