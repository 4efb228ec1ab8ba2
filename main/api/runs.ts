// Run lifecycle over the compute worker: create (validated config), start/resume, pause, stop.
// The trainer itself records the run's status transitions; this keeps one training job per run
// and turns job endings into events and log lines.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ReclaimInfo } from '../../contract/api.ts';
import type { Run, Scenario } from '../../contract/domain.ts';
import { ApiError } from '../../contract/rpc.ts';
import type { Store } from '../../db/index.ts';
import { JobFailed, type ComputeClient, type JobHandle } from '../compute/client.ts';
import { ConfigError, NANO_OVERRIDES, resolveTrainConfig, type TrainConfig } from '../rl/config.ts';
import { describeOwner, isThisProcess, liveOwner, runDirOf } from '../rl/owner.ts';
import { deleteRun } from './disk.ts';
import type { EventBus } from './events.ts';
import { resolveCheckpoint } from './files.ts';

/** Statuses from which `start` (re)launches training (a failed run may be retried). */
const STARTABLE = new Set<Run['status']>(['created', 'paused', 'interrupted', 'failed']);

export class RunController {
  private readonly jobs = new Map<number, JobHandle<'train'>>();

  constructor(
    private readonly store: Store,
    private readonly events: EventBus,
    private readonly compute: ComputeClient,
    private readonly dataDir: string,
  ) {}

  /**
   * Validates the config against the scenario's preset and stores the resolved config. `runtime` (Settings'
   * provider and threads) comes before the run's own config, which may still set its own.
   */
  create(
    name: string,
    scenario: Scenario,
    config: Record<string, unknown> | undefined,
    model: 'base' | 'nano',
    runtime?: { provider: string; threads: number },
  ): Run {
    let resolved: TrainConfig;
    try {
      resolved = resolveTrainConfig(scenario, model === 'nano' ? NANO_OVERRIDES : undefined, runtime ? { runtime } : undefined, config);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new ApiError({
        call: 'runs.create',
        code: 'invalid_argument',
        field: `config.${err.field}`,
        message: `"runs.create": ${err.message}`,
      });
    }
    // Starting weights come from the registry or the data dir, never from an arbitrary path.
    if (resolved.model.checkpoint !== null) {
      resolved.model.checkpoint = resolveCheckpoint(this.store, this.dataDir, resolved.model.checkpoint, 'config.model.checkpoint');
    }
    const run = this.store.runs.create({ name, scenario, config: JSON.parse(JSON.stringify(resolved)) });
    this.log(run.id, 'info', `run "${name}" created (${scenario}, ${model} model)`);
    this.events.publish('run.updated', run);
    return run;
  }

  /** `steps`: the step to train to (a completed run continues only with more steps than it has). */
  start(runId: number, steps?: number): Run {
    let run = this.store.runs.get(runId);
    if (this.jobs.has(runId)) throw this.precondition('runs.start', `run ${runId} is already training`);
    const owner = liveOwner(runDirOf(this.dataDir, runId));
    if (owner && !isThisProcess(owner)) throw this.precondition('runs.start', describeOwner(runId, owner));
    if (run.status === 'completed' && (steps === undefined || steps <= run.step)) {
      throw this.precondition('runs.start', `run ${runId} completed its ${run.step} steps: give steps > ${run.step} to continue it`);
    }
    if (!STARTABLE.has(run.status) && run.status !== 'completed') {
      throw this.precondition(
        'runs.start',
        `run ${runId} is '${run.status}': only created, paused, interrupted, failed or (with more steps) completed runs can start`,
      );
    }
    const from = run.status;
    if (steps !== undefined) {
      run = this.store.runs.setSteps(runId, steps);
      this.events.publish('run.updated', run);
    }
    const job = this.compute.start('train', { dataDir: this.dataDir, scenario: run.scenario, runId });
    this.jobs.set(runId, job);
    this.log(
      runId,
      'info',
      from === 'created'
        ? 'training started'
        : from === 'completed'
          ? `training continued to step ${steps}`
          : `training resumed (was ${from})`,
    );
    job.result.then(
      (result) => this.finished(runId, `training ended at step ${result.step} (${result.stoppedBy})`, 'info'),
      (err: unknown) => {
        const cancelled = err instanceof JobFailed && err.cancelled;
        const message = err instanceof Error ? err.message : String(err);
        if (!cancelled) this.markFailed(runId, message);
        this.finished(runId, cancelled ? 'training cancelled' : `training failed: ${message}`, cancelled ? 'info' : 'error');
      },
    );
    return run;
  }

  pause(runId: number): Run {
    this.store.runs.get(runId);
    const job = this.jobs.get(runId);
    if (!job) throw this.precondition('runs.pause', `run ${runId} is not training`);
    job.cancel('pause');
    this.log(runId, 'info', 'pausing after the current step');
    return this.store.runs.get(runId);
  }

  stop(runId: number): Run {
    const job = this.jobs.get(runId);
    if (job) {
      job.cancel('stop');
      this.log(runId, 'info', 'stopping after the current step');
      return this.store.runs.get(runId);
    }
    const run = this.store.runs.get(runId);
    if (run.status === 'paused' || run.status === 'interrupted' || run.status === 'created') {
      const stopped = this.store.runs.setStatus(runId, 'stopped');
      this.events.publish('run.updated', stopped);
      return stopped;
    }
    throw this.precondition('runs.stop', `run ${runId} is '${run.status}' and not training`);
  }

  /** Deletes a run that is not training, with its files (runs/<id>/: checkpoints, preference models). */
  /** Deletes a run with its rows, folder and exports, and gives the database's freed pages back (disk.ts). */
  delete(runId: number): { runId: number; removedFiles: boolean; fileBytesFreed: number; reclaim: ReclaimInfo } {
    const run = this.store.runs.get(runId);
    if (this.jobs.has(runId) || run.status === 'running') throw this.precondition('runs.delete', `run ${runId} is training: stop it first`);
    const dir = join(this.dataDir, 'runs', String(runId));
    const removedFiles = existsSync(dir);
    const deleted = deleteRun(this.store, this.dataDir, runId);
    const freed =
      `${(deleted.fileBytesFreed / 1e6).toFixed(1)} MB of files; ` +
      `database ${(deleted.reclaim.beforeBytes / 1e6).toFixed(1)} -> ${(deleted.reclaim.afterBytes / 1e6).toFixed(1)} MB ` +
      `by ${deleted.reclaim.mode} in ${deleted.reclaim.ms} ms`;
    this.events.publish(
      'log.appended',
      this.store.log.append(null, 'info', `run ${runId} "${run.name}" deleted${removedFiles ? ` with its files (${dir})` : ''}: ${freed}`),
    );
    this.events.publish('run.deleted', { runId });
    return { ...deleted, removedFiles };
  }

  isTraining(runId: number): boolean {
    return this.jobs.has(runId);
  }

  /** Jobs that died before the trainer could record the failure (bad weights, config) still fail the run. */
  private markFailed(runId: number, message: string): void {
    const run = this.store.runs.get(runId);
    if (run.status === 'failed' || run.status === 'completed' || run.status === 'stopped') return;
    try {
      this.store.runs.setStatus(runId, 'failed', message);
    } catch {
      // A transition the store refuses means the trainer already settled the status.
    }
  }

  private finished(runId: number, message: string, level: 'info' | 'error'): void {
    this.jobs.delete(runId);
    this.log(runId, level, message);
    this.events.publish('run.updated', this.store.runs.get(runId));
  }

  private log(runId: number, level: 'info' | 'error', message: string): void {
    this.events.publish('log.appended', this.store.log.append(runId, level, message));
  }

  private precondition(call: string, message: string): ApiError {
    return new ApiError({ call, code: 'failed_precondition', message: `"${call}": ${message}` });
  }
}
