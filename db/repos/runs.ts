// Runs: creation, status changes (with the allowed transitions), progress.
import type { Run, RunConfig, RunStatus, Scenario } from '../../contract/domain.ts';
import { RUN_STATUSES, SCENARIOS } from '../../contract/domain.ts';
import { invalid, notFound, requireInteger, requireText, StoreError, toJson } from '../errors.ts';
import type { RunRow } from '../rows.ts';
import type { RepoContext } from './context.ts';

export interface RunInput {
  name: string;
  scenario: Scenario;
  config: RunConfig;
}

/** Which status may follow which. 'interrupted' is set by markInterrupted() when the app finds a dead run. */
const TRANSITIONS: Record<RunStatus, readonly RunStatus[]> = {
  created: ['running', 'stopped', 'failed'],
  running: ['paused', 'stopped', 'completed', 'failed', 'interrupted'],
  paused: ['running', 'stopped', 'failed'],
  interrupted: ['running', 'stopped', 'failed'],
  failed: ['running'],
  stopped: [],
  // A completed run can be continued with more steps (`unirl train --resume ID --steps N`).
  completed: ['running'],
};

function toRun(row: RunRow): Run {
  return {
    id: row.id,
    name: row.name,
    scenario: row.scenario,
    config: JSON.parse(row.config) as RunConfig,
    status: row.status,
    step: row.step,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    error: row.error,
  };
}

export class RunsRepo {
  constructor(private readonly ctx: RepoContext) {}

  create(input: RunInput): Run {
    const name = requireText('name', input.name);
    if (!SCENARIOS.includes(input.scenario)) throw invalid('scenario', `must be one of ${SCENARIOS.join(', ')}, got '${input.scenario}'`);
    if (typeof input.config !== 'object' || input.config === null || Array.isArray(input.config)) {
      throw invalid('config', 'must be a JSON object');
    }
    const now = this.ctx.now();
    const { lastInsertRowid } = this.ctx.db
      .prepare(
        `INSERT INTO runs (name, scenario, config, status, step, created_at, updated_at, error)
       VALUES (?, ?, ?, 'created', 0, ?, ?, NULL)`,
      )
      .run(name, input.scenario, toJson('config', input.config), now, now);
    return this.get(Number(lastInsertRowid));
  }

  find(id: number): Run | null {
    const row = this.ctx.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
    return row ? toRun(row) : null;
  }

  get(id: number): Run {
    const run = this.find(id);
    if (!run) throw notFound('run', id);
    return run;
  }

  /** Newest first. */
  list(): Run[] {
    return (this.ctx.db.prepare('SELECT * FROM runs ORDER BY id DESC').all() as RunRow[]).map(toRun);
  }

  /** Moves a run to `status`; `error` is recorded for 'failed' and cleared otherwise. */
  setStatus(id: number, status: RunStatus, error: string | null = null): Run {
    if (!RUN_STATUSES.includes(status)) throw invalid('status', `must be one of ${RUN_STATUSES.join(', ')}, got '${status}'`);
    return this.ctx.db.transaction(() => {
      const run = this.get(id);
      if (!TRANSITIONS[run.status].includes(status)) {
        throw new StoreError('failed_precondition', `run ${id} cannot go from '${run.status}' to '${status}'`);
      }
      this.ctx.db
        .prepare('UPDATE runs SET status = ?, error = ?, updated_at = ? WHERE id = ?')
        .run(status, status === 'failed' ? (error ?? 'unknown error') : null, this.ctx.now(), id);
      return this.get(id);
    })();
  }

  setStep(id: number, step: number): void {
    requireInteger('step', step, 0);
    const { changes } = this.ctx.db.prepare('UPDATE runs SET step = ?, updated_at = ? WHERE id = ?').run(step, this.ctx.now(), id);
    if (changes === 0) throw notFound('run', id);
  }

  rename(id: number, name: string): Run {
    requireText('name', name);
    const { changes } = this.ctx.db.prepare('UPDATE runs SET name = ?, updated_at = ? WHERE id = ?').run(name.trim(), this.ctx.now(), id);
    if (changes === 0) throw notFound('run', id);
    return this.get(id);
  }

  /** Sets how many steps the run trains to (continuing a completed run); never while it runs, never below its step. */
  setSteps(id: number, steps: number): Run {
    requireInteger('steps', steps, 1);
    return this.ctx.db.transaction(() => {
      const run = this.get(id);
      if (run.status === 'running')
        throw new StoreError('failed_precondition', `run ${id} is running: its steps can change only while it does not train`);
      if (steps <= run.step) throw invalid('steps', `must be more than the ${run.step} steps run ${id} has trained, got ${steps}`);
      this.ctx.db
        .prepare('UPDATE runs SET config = ?, updated_at = ? WHERE id = ?')
        .run(toJson('config', { ...run.config, steps }), this.ctx.now(), id);
      return this.get(id);
    })();
  }

  /** The config can change only before the run starts. */
  setConfig(id: number, config: RunConfig): Run {
    return this.ctx.db.transaction(() => {
      const run = this.get(id);
      if (run.status !== 'created')
        throw new StoreError('failed_precondition', `run ${id} is '${run.status}': its config can change only before it starts`);
      this.ctx.db.prepare('UPDATE runs SET config = ?, updated_at = ? WHERE id = ?').run(toJson('config', config), this.ctx.now(), id);
      return this.get(id);
    })();
  }

  /** At startup: runs still marked running belong to a process that died. Returns their ids. */
  markInterrupted(abandoned: (runId: number) => boolean = () => true): number[] {
    return this.ctx.db.transaction(() => {
      const running = (this.ctx.db.prepare(`SELECT id FROM runs WHERE status = 'running'`).all() as { id: number }[]).map((r) => r.id);
      const update = this.ctx.db.prepare(`UPDATE runs SET status = 'interrupted', updated_at = ? WHERE id = ?`);
      const interrupted = running.filter(abandoned);
      for (const id of interrupted) update.run(this.ctx.now(), id);
      return interrupted;
    })();
  }

  /** Deletes the run and everything recorded for it. */
  delete(id: number): void {
    const { changes } = this.ctx.db.prepare('DELETE FROM runs WHERE id = ?').run(id);
    if (changes === 0) throw notFound('run', id);
  }
}
