// Versions of the learned preference reward model of a run and how well each orders held-out pairs.
import type { PreferenceModel } from '../../contract/domain.ts';
import { invalid, requireInteger, requireText } from '../errors.ts';
import type { PreferenceModelRow } from '../rows.ts';
import type { RepoContext } from './context.ts';

export interface PreferenceModelInput {
  runId: number;
  path: string;
  trainPairs: number;
  heldoutPairs: number;
  heldoutAccuracy: number | null;
}

function toModel(row: PreferenceModelRow): PreferenceModel {
  return {
    id: row.id,
    runId: row.run_id,
    version: row.version,
    path: row.path,
    trainPairs: row.train_pairs,
    heldoutPairs: row.heldout_pairs,
    heldoutAccuracy: row.heldout_accuracy,
    createdAt: row.created_at,
  };
}

export class PreferencesRepo {
  constructor(private readonly ctx: RepoContext) {}

  /** Records a newly trained model as the run's next version. */
  add(input: PreferenceModelInput): PreferenceModel {
    requireText('path', input.path);
    requireInteger('trainPairs', input.trainPairs, 0);
    requireInteger('heldoutPairs', input.heldoutPairs, 0);
    const acc = input.heldoutAccuracy;
    if (acc !== null && !(typeof acc === 'number' && acc >= 0 && acc <= 1))
      throw invalid('heldoutAccuracy', `must be in [0, 1] or null, got ${acc}`);
    const row = this.ctx.db
      .prepare(
        `INSERT INTO preference_models (run_id, version, path, train_pairs, heldout_pairs, heldout_accuracy, created_at)
       VALUES (?, (SELECT coalesce(max(version), 0) + 1 FROM preference_models WHERE run_id = ?), ?, ?, ?, ?, ?) RETURNING *`,
      )
      .get(input.runId, input.runId, input.path, input.trainPairs, input.heldoutPairs, acc, this.ctx.now()) as PreferenceModelRow;
    return toModel(row);
  }

  latest(runId: number): PreferenceModel | null {
    const row = this.ctx.db.prepare('SELECT * FROM preference_models WHERE run_id = ? ORDER BY version DESC LIMIT 1').get(runId) as
      | PreferenceModelRow
      | undefined;
    return row ? toModel(row) : null;
  }

  list(runId: number): PreferenceModel[] {
    return (
      this.ctx.db.prepare('SELECT * FROM preference_models WHERE run_id = ? ORDER BY version').all(runId) as PreferenceModelRow[]
    ).map(toModel);
  }
}
