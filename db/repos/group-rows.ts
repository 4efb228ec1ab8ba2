// Reading rollout groups as the contract's RolloutGroup: shared by the groups and rankings repositories
// (a leaf, so neither repository imports the other).
import type { RolloutGroup } from '../../contract/domain.ts';
import { notFound } from '../errors.ts';
import type { RolloutGroupListRow } from '../rows.ts';
import type { RepoContext } from './context.ts';
import { groupBy, placeholders } from './context.ts';

export const LIST_SELECT = `SELECT g.*, p.text AS prompt_text, p.task AS prompt_task, q.reason AS queue_reason, q.closed AS queue_closed
  FROM rollout_groups g JOIN prompts p ON p.id = g.prompt_id LEFT JOIN group_queue q ON q.group_id = g.id`;

/** Member sample ids of a group by index; not_found when the group does not exist. */
export function memberIdsOf(ctx: RepoContext, groupId: number): number[] {
  const ids = (
    ctx.db.prepare(`SELECT id FROM samples WHERE group_id = ? AND role = 'member' ORDER BY idx`).all(groupId) as { id: number }[]
  ).map((r) => r.id);
  if (ids.length === 0 && !ctx.db.prepare('SELECT 1 FROM rollout_groups WHERE id = ?').get(groupId)) throw notFound('group', groupId);
  return ids;
}

/** Maps rows to groups, with reward statistics of their members from one query. */
export function toGroups(ctx: RepoContext, rows: RolloutGroupListRow[]): RolloutGroup[] {
  if (rows.length === 0) return [];
  const totals = ctx.db
    .prepare(
      `SELECT s.group_id AS group_id, sum(rc.value * rc.weight) AS total
     FROM samples s JOIN reward_components rc ON rc.sample_id = s.id
     WHERE s.group_id IN (${placeholders(rows.length)}) AND s.role = 'member' GROUP BY s.id`,
    )
    .all(...rows.map((r) => r.id)) as { group_id: number; total: number }[];
  const byGroup = groupBy(
    totals,
    (t) => t.group_id,
    (t) => t.total,
  );
  return rows.map((row) => {
    const rewards = byGroup.get(row.id) ?? [];
    const mean = rewards.length ? rewards.reduce((a, b) => a + b, 0) / rewards.length : null;
    const std = mean === null ? null : Math.sqrt(rewards.reduce((a, r) => a + (r - mean) ** 2, 0) / rewards.length);
    return {
      id: row.id,
      runId: row.run_id,
      step: row.step,
      promptId: row.prompt_id,
      prompt: row.prompt_text,
      task: row.prompt_task,
      groupSize: row.group_size,
      zeroStd: row.zero_std === 1,
      rankingStatus: row.ranking_status,
      rankingsNeeded: row.rankings_needed,
      queueReason: row.queue_reason || null,
      queueClosed: row.queue_closed,
      rewardMean: mean,
      rewardStd: std,
      createdAt: row.created_at,
      discarded: row.discarded_at !== null,
    };
  });
}
