// The ranking queue at scale (issue 21): the queue policy's score moves from group_queue to the group row, so
// one partial index holds the pending groups in the order the queue shows them (score, highest first, then
// oldest). The queue then reads its first rows from the index instead of sorting every pending group (12,500
// in a million-sample run that queues 10% of its groups). group_queue keeps the reason and why a group left.
// The sync runs whose groups come first are found by status, not per pending group.
import type { Migration } from '../migrate.ts';

export const migration0007: Migration = {
  version: 7,
  name: 'queue_order',
  up(db) {
    db.exec(`
      ALTER TABLE rollout_groups ADD COLUMN queue_score REAL;
      UPDATE rollout_groups SET queue_score = (SELECT q.score FROM group_queue q WHERE q.group_id = rollout_groups.id)
        WHERE id IN (SELECT group_id FROM group_queue);
      ALTER TABLE group_queue DROP COLUMN score;
      -- NULL (no score) sorts last in DESC order, as the queue wants.
      DROP INDEX rollout_groups_ranking_queue;
      DROP INDEX rollout_groups_ranking_queue_all;
      CREATE INDEX rollout_groups_queue_by_run ON rollout_groups (run_id, queue_score DESC, id) WHERE ranking_status = 'pending';
      CREATE INDEX rollout_groups_queue ON rollout_groups (queue_score DESC, id) WHERE ranking_status = 'pending';
      -- The queue of all runs first finds the runs training in sync mode, among the running ones.
      CREATE INDEX runs_by_status ON runs (status);
    `);
  },
};
