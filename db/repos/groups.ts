// Rollout groups: one prompt's G samples at one step, written whole, read page by page.
import type {
  GroupDetail,
  GroupKey,
  GroupListQuery,
  GroupPageQuery,
  KeysetPage,
  Page,
  QueueClosed,
  RankingStatus,
  RewardComponent,
  RolloutGroup,
} from '../../contract/domain.ts';
import { invalid, notFound, requireFiniteNumber, requireInteger, requireText } from '../errors.ts';
import type { RolloutGroupListRow } from '../rows.ts';
import type { RepoContext } from './context.ts';
import { cachedStatement, MAX_PAGE_LIMIT, pageBounds, placeholders } from './context.ts';
import { LIST_SELECT, memberIdsOf, toGroups } from './group-rows.ts';
import type { RankingsRepo } from './rankings.ts';
import { totalReward } from './samples.ts';
import type { SampleInput, SamplesRepo } from './samples.ts';

export interface GroupInput {
  runId: number;
  step: number;
  promptId: number;
  /** The G members, in index order. */
  samples: SampleInput[];
  /** 'pending' puts the group in the ranking queue. Default 'none'. */
  ranking?: 'none' | 'pending';
  /** Rankings (not skips) needed before the group counts as ranked. Default 1. */
  rankingsNeeded?: number;
  /** With ranking 'pending': the queue policy's score (higher is shown first) and its reason. */
  queue?: { score: number; reason: string };
  /** All G rewards equal. Default: computed from the samples' total rewards when every sample has some, else false. */
  zeroStd?: boolean;
}

export interface InsertedGroup {
  groupId: number;
  /** Member sample ids, in index order. */
  sampleIds: number[];
}

export interface RewardUpdate {
  sampleId: number;
  /** Upserted by name; components not named stay. */
  rewards?: RewardComponent[];
  advantage?: number | null;
}

/** The rows a group list shows (its run, its step, discarded or not), before any paging. */
function listFilter(query: GroupListQuery): { filter: string[]; params: number[] } {
  const filter = ['g.run_id = ?'];
  const params = [query.runId];
  if (!query.discarded) filter.push('g.discarded_at IS NULL');
  if (query.step !== undefined) {
    filter.push('g.step = ?');
    params.push(requireInteger('step', query.step, 0));
  }
  return { filter, params };
}

function allEqual(values: readonly number[]): boolean {
  return values.every((v) => v === values[0]);
}

export class GroupsRepo {
  constructor(
    private readonly ctx: RepoContext,
    private readonly samples: SamplesRepo,
    private readonly rankings: RankingsRepo,
  ) {}

  /** Inserts the group, its samples, their images, rewards and trajectories in one transaction. */
  insert(input: GroupInput): InsertedGroup {
    requireInteger('step', input.step, 0);
    if (!Array.isArray(input.samples) || input.samples.length === 0) throw invalid('samples', 'a group needs at least one sample');
    const ranking = input.ranking ?? 'none';
    if (ranking !== 'none' && ranking !== 'pending') throw invalid('ranking', `must be 'none' or 'pending', got '${ranking}'`);
    const rankingsNeeded = requireInteger('rankingsNeeded', input.rankingsNeeded ?? 1, 1);
    const rewarded = input.samples.every((s) => (s.rewards ?? []).length > 0);
    const zeroStd = input.zeroStd ?? (rewarded && allEqual(input.samples.map((s) => totalReward(s.rewards!))));
    return this.ctx.db.transaction(() => {
      const prompt = cachedStatement(this.ctx.db, 'SELECT run_id FROM prompts WHERE id = ?').get(input.promptId) as
        | { run_id: number }
        | undefined;
      if (!prompt) throw notFound('prompt', input.promptId);
      if (prompt.run_id !== input.runId)
        throw invalid('promptId', `prompt ${input.promptId} belongs to run ${prompt.run_id}, not run ${input.runId}`);
      const queue =
        input.queue && ranking === 'pending'
          ? { score: requireFiniteNumber('queue.score', input.queue.score), reason: requireText('queue.reason', input.queue.reason) }
          : null;
      const { lastInsertRowid } = cachedStatement(
        this.ctx.db,
        `INSERT INTO rollout_groups
           (run_id, step, prompt_id, group_size, zero_std, ranking_status, rankings_needed, created_at, queue_score)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        input.runId,
        input.step,
        input.promptId,
        input.samples.length,
        zeroStd ? 1 : 0,
        ranking,
        rankingsNeeded,
        this.ctx.now(),
        queue?.score ?? null,
      );
      const groupId = Number(lastInsertRowid);
      if (queue) cachedStatement(this.ctx.db, 'INSERT INTO group_queue (group_id, reason) VALUES (?, ?)').run(groupId, queue.reason);
      const sampleIds = input.samples.map((s, i) => this.samples.insertRow(`samples[${i}]`, groupId, 'member', i, null, s));
      return { groupId, sampleIds };
    })();
  }

  /** Groups of a run (optionally of one step), by step then id, a page at a time from an offset, with their total. */
  list(query: GroupListQuery): Page<RolloutGroup> {
    const { offset, limit } = pageBounds(query);
    const { filter, params } = listFilter(query);
    const { total } = cachedStatement(this.ctx.db, `SELECT count(*) AS total FROM rollout_groups g WHERE ${filter.join(' AND ')}`).get(
      ...params,
    ) as { total: number };
    return { items: this.read(query, offset, limit), total, offset, limit };
  }

  /**
   * A page by keyset (after a group, or from a step, then `offset` rows): a seek in the index and the page's
   * own rows, so a page deep in a long run costs what the first one does (no total: counting is not flat).
   */
  page(query: GroupPageQuery): KeysetPage<RolloutGroup, GroupKey> {
    const { offset, limit } = pageBounds(query);
    const items = this.read(query, offset, limit);
    const last = items[items.length - 1];
    return { items, next: last && items.length === limit ? { step: last.step, id: last.id } : null };
  }

  /** Every group of a run in list order, read by keyset pages (exports, whole-run views). */
  *each(query: Omit<GroupListQuery, 'offset' | 'limit'>): Generator<RolloutGroup> {
    for (let after: GroupKey | undefined; ; ) {
      const { items, next } = this.page({ ...query, limit: MAX_PAGE_LIMIT, ...(after ? { after } : {}) });
      yield* items;
      if (!next) return;
      after = next;
    }
  }

  private read(query: GroupPageQuery, offset: number, limit: number): RolloutGroup[] {
    const desc = query.order === 'desc';
    const { filter: seek, params } = listFilter(query);
    if (query.after) {
      seek.push(`(g.step, g.id) ${desc ? '<' : '>'} (?, ?)`);
      params.push(requireInteger('after.step', query.after.step, 0), requireInteger('after.id', query.after.id, 1));
    }
    if (query.fromStep !== undefined) {
      seek.push(`g.step ${desc ? '<=' : '>='} ?`);
      params.push(requireInteger('fromStep', query.fromStep, 0));
    }
    const order = desc ? 'DESC' : 'ASC';
    const rows = cachedStatement(
      this.ctx.db,
      `${LIST_SELECT} WHERE ${seek.join(' AND ')} ORDER BY g.step ${order}, g.id ${order} LIMIT ? OFFSET ?`,
    ).all(...params, limit, offset) as RolloutGroupListRow[];
    return toGroups(this.ctx, rows);
  }

  /** The steps of a run that have (not discarded) groups, ascending (for step navigation). */
  steps(runId: number): number[] {
    return (
      this.ctx.db
        .prepare('SELECT DISTINCT step FROM rollout_groups WHERE run_id = ? AND discarded_at IS NULL ORDER BY step')
        .all(runId) as { step: number }[]
    ).map((r) => r.step);
  }

  /**
   * How many groups each step of a run has, ascending by step (offsets for jumping to a step in a paged
   * list); with `discarded`, discarded groups count too, as list() with `discarded` pages them.
   */
  stepCounts(runId: number, discarded = false): { step: number; groups: number; discarded: number }[] {
    return this.ctx.db
      .prepare(
        `SELECT step, count(*) AS groups, count(discarded_at) AS discarded FROM rollout_groups
       WHERE run_id = ? ${discarded ? '' : 'AND discarded_at IS NULL'} GROUP BY step ORDER BY step`,
      )
      .all(runId) as { step: number; groups: number; discarded: number }[];
  }

  /**
   * Gives up the steps after `step` (a resume from that step's checkpoint): their groups are marked
   * discarded and leave the ranking queue (pending becomes none), and their metrics move to
   * discarded_metrics, in one transaction. Returns how many of each.
   */
  discardAfter(runId: number, step: number): { groups: number; metrics: number } {
    requireInteger('step', step, 0);
    return this.ctx.db.transaction(() => {
      const now = this.ctx.now();
      const groups = this.ctx.db
        .prepare(
          `UPDATE rollout_groups
         SET discarded_at = ?, ranking_status = CASE ranking_status WHEN 'pending' THEN 'none' ELSE ranking_status END
         WHERE run_id = ? AND step > ? AND discarded_at IS NULL`,
        )
        .run(now, runId, step).changes;
      const metrics = this.ctx.db
        .prepare(
          'INSERT INTO discarded_metrics (run_id, name, step, value, discarded_at) ' +
            'SELECT run_id, name, step, value, ? FROM metrics WHERE run_id = ? AND step > ?',
        )
        .run(now, runId, step).changes;
      this.ctx.db.prepare('DELETE FROM metrics WHERE run_id = ? AND step > ?').run(runId, step);
      return { groups, metrics };
    })();
  }

  find(id: number): RolloutGroup | null {
    const row = cachedStatement(this.ctx.db, `${LIST_SELECT} WHERE g.id = ?`).get(id) as RolloutGroupListRow | undefined;
    return row ? toGroups(this.ctx, [row])[0]! : null;
  }

  get(id: number): RolloutGroup {
    const group = this.find(id);
    if (!group) throw notFound('group', id);
    return group;
  }

  /** A group with its members and rankings. */
  detail(id: number): GroupDetail {
    return { ...this.get(id), samples: this.samples.members(id), rankings: this.rankings.forGroup(id) };
  }

  /** Rewards and advantages computed after the rollout (human rank reward, preference model), in one transaction. */
  updateRewards(groupId: number, updates: RewardUpdate[], zeroStd?: boolean): void {
    this.ctx.db.transaction(() => {
      const members = new Set(this.memberIds(groupId));
      updates.forEach((u, i) => {
        if (!members.has(u.sampleId)) throw invalid(`updates[${i}].sampleId`, `sample ${u.sampleId} is not a member of group ${groupId}`);
        if (u.rewards) this.samples.upsertRewards(u.sampleId, u.rewards);
        if (u.advantage !== undefined) this.samples.setAdvantage(u.sampleId, u.advantage);
      });
      if (zeroStd !== undefined) this.ctx.db.prepare('UPDATE rollout_groups SET zero_std = ? WHERE id = ?').run(zeroStd ? 1 : 0, groupId);
    })();
  }

  /** Puts a group in (or takes it out of) the ranking queue. */
  setRanking(groupId: number, status: Exclude<RankingStatus, 'ranked'>): void {
    const { changes } = this.ctx.db.prepare('UPDATE rollout_groups SET ranking_status = ? WHERE id = ?').run(status, groupId);
    if (changes === 0) throw notFound('group', groupId);
  }

  /** Takes a queued group out of the queue unranked, saying why (its rankings so far stay). */
  closeQueue(groupId: number, closed: QueueClosed): void {
    this.ctx.db.transaction(() => {
      this.setRanking(groupId, 'none');
      this.ctx.db
        .prepare(
          `INSERT INTO group_queue (group_id, reason, closed) VALUES (?, '', ?)
         ON CONFLICT (group_id) DO UPDATE SET closed = excluded.closed`,
        )
        .run(groupId, closed);
    })();
  }

  /** A run's groups still in the ranking queue, oldest first. */
  pendingOfRun(runId: number): number[] {
    return (
      this.ctx.db.prepare(`SELECT id FROM rollout_groups WHERE run_id = ? AND ranking_status = 'pending' ORDER BY id`).all(runId) as {
        id: number;
      }[]
    ).map((r) => r.id);
  }

  memberIds(groupId: number): number[] {
    return memberIdsOf(this.ctx, groupId);
  }

  /** Groups (any run) with this prompt text that people ranked (a ranking, not a skip), newest first. */
  rankedWithPrompt(text: string): number[] {
    return (
      this.ctx.db
        .prepare(
          `SELECT g.id FROM rollout_groups g JOIN prompts p ON p.id = g.prompt_id
       WHERE p.text = ? AND EXISTS (SELECT 1 FROM rankings r WHERE r.group_id = g.id AND r.skipped = 0) ORDER BY g.id DESC`,
        )
        .all(text) as { id: number }[]
    ).map((r) => r.id);
  }

  /** Of these groups, the ones still waiting for rankings (sync human mode waits until none are). */
  pendingRanking(groupIds: readonly number[]): number[] {
    if (groupIds.length === 0) return [];
    return (
      this.ctx.db
        .prepare(`SELECT id FROM rollout_groups WHERE id IN (${placeholders(groupIds.length)}) AND ranking_status = 'pending' ORDER BY id`)
        .all(...groupIds) as { id: number }[]
    ).map((r) => r.id);
  }
}
