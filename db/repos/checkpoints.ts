// Checkpoints: where the trainer saved the weights of a run at a step.
import type { Checkpoint, JsonObject } from '../../contract/domain.ts';
import { requireInteger, requireText, toJson } from '../errors.ts';
import type { CheckpointRow } from '../rows.ts';
import type { RepoContext } from './context.ts';

function toCheckpoint(row: CheckpointRow): Checkpoint {
  return {
    id: row.id,
    runId: row.run_id,
    step: row.step,
    path: row.path,
    metadata: JSON.parse(row.metadata) as JsonObject,
    createdAt: row.created_at,
  };
}

export class CheckpointsRepo {
  constructor(private readonly ctx: RepoContext) {}

  /** Records a checkpoint; saving the same step again (after a resume) replaces the record. */
  add(input: { runId: number; step: number; path: string; metadata?: JsonObject }): Checkpoint {
    requireInteger('step', input.step, 0);
    requireText('path', input.path);
    const row = this.ctx.db
      .prepare(
        `INSERT INTO checkpoints (run_id, step, path, metadata, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (run_id, step) DO UPDATE SET path = excluded.path, metadata = excluded.metadata, created_at = excluded.created_at
       RETURNING *`,
      )
      .get(input.runId, input.step, input.path, toJson('metadata', input.metadata ?? {}), this.ctx.now()) as CheckpointRow;
    return toCheckpoint(row);
  }

  latest(runId: number): Checkpoint | null {
    const row = this.ctx.db.prepare('SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step DESC LIMIT 1').get(runId) as
      | CheckpointRow
      | undefined;
    return row ? toCheckpoint(row) : null;
  }

  /** Forgets the checkpoint of `runId` at `step` (its files are the caller's). */
  remove(runId: number, step: number): void {
    this.ctx.db.prepare('DELETE FROM checkpoints WHERE run_id = ? AND step = ?').run(runId, step);
  }

  list(runId: number): Checkpoint[] {
    return (this.ctx.db.prepare('SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step').all(runId) as CheckpointRow[]).map(
      toCheckpoint,
    );
  }
}
