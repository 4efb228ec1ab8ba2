// Human feedback that reaches the policy (issue 14): why each group is in the ranking queue and why it left
// it without a ranking, and people's marks on edits (instruction followed or not), a reward like critique marks.
import type { Migration } from '../migrate.ts';

export const migration0006: Migration = {
  version: 6,
  name: 'human_queue',
  up(db) {
    db.exec(`
      CREATE TABLE group_queue (
        group_id INTEGER PRIMARY KEY REFERENCES rollout_groups(id) ON DELETE CASCADE,
        -- The run's queue policy's score (higher is shown first) and the reason the queue shows.
        score REAL NOT NULL,
        reason TEXT NOT NULL,
        -- Why a queued group left the queue unranked: a skip released it (sync), the trainer can no longer
        -- use it (stale), or sync mode stopped waiting (timeout).
        closed TEXT CHECK (closed IS NULL OR closed IN ('released', 'stale', 'timeout'))
      ) STRICT;

      CREATE TABLE edit_marks (
        edit_id INTEGER NOT NULL REFERENCES edits(id) ON DELETE CASCADE,
        annotator TEXT NOT NULL,
        followed INTEGER NOT NULL CHECK (followed IN (0, 1)),
        created_at INTEGER NOT NULL,
        PRIMARY KEY (edit_id, annotator)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX edit_marks_by_time ON edit_marks (created_at);
      CREATE INDEX critique_marks_by_time ON critique_marks (created_at);
    `);
  },
};
