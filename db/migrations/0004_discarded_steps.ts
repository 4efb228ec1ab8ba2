// Discarded steps (issue 16): resuming from the checkpoint of step k gives up the steps after it, whose
// updates no saved weights hold. Their groups stay for audit, marked with when they were discarded (hidden
// from lists and exports by default, out of the ranking queue); their metrics move to discarded_metrics, so the
// resumed steps k+1... can log theirs under the same step numbers.
import type { Migration } from '../migrate.ts';

export const migration0004: Migration = {
  version: 4,
  name: 'discarded_steps',
  up(db) {
    db.exec(`
      ALTER TABLE rollout_groups ADD COLUMN discarded_at INTEGER;
      -- Lists and step counts read the kept groups of a run (discarded_at IS NULL), in step order.
      CREATE INDEX rollout_groups_kept ON rollout_groups (run_id, discarded_at, step, id);

      CREATE TABLE discarded_metrics (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        step INTEGER NOT NULL,
        value REAL,
        discarded_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX discarded_metrics_by_run ON discarded_metrics (run_id, step);
    `);
  },
};
