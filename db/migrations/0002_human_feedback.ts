// Human feedback beyond rankings (issues 6 and 8): versions of the learned preference reward model with
// their held-out accuracy, and people marking a reflection critique right or wrong.
import type { Migration } from '../migrate.ts';

export const migration0002: Migration = {
  version: 2,
  name: 'human_feedback',
  up(db) {
    db.exec(`
      CREATE TABLE preference_models (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        version INTEGER NOT NULL CHECK (version >= 1),
        path TEXT NOT NULL,
        train_pairs INTEGER NOT NULL CHECK (train_pairs >= 0),
        heldout_pairs INTEGER NOT NULL CHECK (heldout_pairs >= 0),
        heldout_accuracy REAL CHECK (heldout_accuracy IS NULL OR (heldout_accuracy >= 0 AND heldout_accuracy <= 1)),
        created_at INTEGER NOT NULL,
        UNIQUE (run_id, version)
      ) STRICT;

      CREATE TABLE critique_marks (
        round_id INTEGER NOT NULL REFERENCES reflection_rounds(id) ON DELETE CASCADE,
        annotator TEXT NOT NULL,
        correct INTEGER NOT NULL CHECK (correct IN (0, 1)),
        created_at INTEGER NOT NULL,
        PRIMARY KEY (round_id, annotator)
      ) STRICT, WITHOUT ROWID;
    `);
  },
};
