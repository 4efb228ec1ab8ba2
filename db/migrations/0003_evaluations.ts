// Evaluations (issue 8's Evaluation screen): a ShapeEval suite scored on a checkpoint, with every image's
// verdict and reason so the screen can show failures first.
import type { Migration } from '../migrate.ts';

export const migration0003: Migration = {
  version: 3,
  name: 'evaluations',
  up(db) {
    db.exec(`
      CREATE TABLE evaluations (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE,
        checkpoint_path TEXT,
        suite TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running','completed','failed')),
        summary TEXT CHECK (summary IS NULL OR json_valid(summary)),
        error TEXT,
        created_at INTEGER NOT NULL,
        finished_at INTEGER
      ) STRICT;
      CREATE INDEX evaluations_by_run ON evaluations (run_id, id);

      CREATE TABLE eval_results (
        id INTEGER PRIMARY KEY,
        evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
        task TEXT NOT NULL,
        prompt TEXT NOT NULL,
        image_index INTEGER NOT NULL CHECK (image_index >= 0),
        correct INTEGER NOT NULL CHECK (correct IN (0, 1)),
        reward REAL NOT NULL,
        reason TEXT NOT NULL,
        image_png BLOB
      ) STRICT;
      -- The Evaluation screen pages through failures first, for all tasks or one.
      CREATE INDEX eval_results_by_outcome ON eval_results (evaluation_id, correct, id);
      CREATE INDEX eval_results_by_task ON eval_results (evaluation_id, task, correct, id);
    `);
  },
};
