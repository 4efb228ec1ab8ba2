// Human rankings of groups: submit (validated), undo, the per-annotator queue, and new rankings for the trainer.
import type { Ranking, RankingInput, RankingQueueQuery, RolloutGroup } from '../../contract/domain.ts';
import { invalid, notFound, requireInteger, requireText } from '../errors.ts';
import type { RankingEntryRow, RankingRow, RolloutGroupListRow } from '../rows.ts';
import type { RepoContext } from './context.ts';
import { cachedStatement, groupBy, placeholders } from './context.ts';
import { LIST_SELECT, memberIdsOf, toGroups } from './group-rows.ts';

/** The annotator (the last parameter) has not ranked or skipped group g yet. */
const NOT_DONE = 'NOT EXISTS (SELECT 1 FROM rankings r WHERE r.group_id = g.id AND r.annotator = ?)';
/** Runs a person is holding up: training in sync mode, which waits for their rankings (found among the running ones). */
const SYNC_RUNNING =
  "SELECT id FROM runs INDEXED BY runs_by_status WHERE status = 'running' AND json_extract(config, '$.human.mode') = 'sync'";

export class RankingsRepo {
  constructor(private readonly ctx: RepoContext) {}

  /**
   * Saves an annotator's ranking of a group (replacing their earlier one). Ranks: one entry per member,
   * 1 = best, equal ranks are ties, each in 1..G. The group becomes 'ranked' once it has `rankingsNeeded`
   * rankings that are not skips.
   */
  submit(input: RankingInput): Ranking {
    const annotator = requireText('annotator', input.annotator);
    const durationMs = requireInteger('durationMs', input.durationMs, 0);
    return this.ctx.db.transaction(() => {
      const members = memberIdsOf(this.ctx, input.groupId);
      const ranks = input.skipped === true ? [] : this.checkRanks(input.groupId, members, input.ranks);
      this.ctx.db.prepare('DELETE FROM rankings WHERE group_id = ? AND annotator = ?').run(input.groupId, annotator);
      const { lastInsertRowid } = this.ctx.db
        .prepare('INSERT INTO rankings (group_id, annotator, skipped, created_at, duration_ms) VALUES (?, ?, ?, ?, ?)')
        .run(input.groupId, annotator, input.skipped === true ? 1 : 0, this.ctx.now(), durationMs);
      const insertEntry = this.ctx.db.prepare('INSERT INTO ranking_entries (ranking_id, sample_id, rank) VALUES (?, ?, ?)');
      for (const r of ranks) insertEntry.run(lastInsertRowid, r.sampleId, r.rank);
      this.refreshStatus(input.groupId);
      return this.get(Number(lastInsertRowid));
    })();
  }

  private checkRanks(groupId: number, members: number[], ranks: unknown): { sampleId: number; rank: number }[] {
    if (!Array.isArray(ranks)) throw invalid('ranks', 'must be an array of {sampleId, rank} (or set skipped: true)');
    const memberSet = new Set(members);
    const seen = new Set<number>();
    ranks.forEach((r: { sampleId?: unknown; rank?: unknown }, i) => {
      const sampleId = requireInteger(`ranks[${i}].sampleId`, r?.sampleId);
      if (!memberSet.has(sampleId)) throw invalid(`ranks[${i}].sampleId`, `sample ${sampleId} is not a member of group ${groupId}`);
      if (seen.has(sampleId)) throw invalid(`ranks[${i}].sampleId`, `sample ${sampleId} is ranked twice`);
      seen.add(sampleId);
      const rank = requireInteger(`ranks[${i}].rank`, r?.rank);
      if (rank < 1 || rank > members.length) throw invalid(`ranks[${i}].rank`, `must be in 1..${members.length}, got ${rank}`);
    });
    if (seen.size !== members.length) {
      const missing = members.filter((id) => !seen.has(id));
      throw invalid('ranks', `must rank every sample of group ${groupId}; missing ${missing.join(', ')}`);
    }
    return ranks as { sampleId: number; rank: number }[];
  }

  /** ranked <-> pending as rankings arrive or are undone; groups never queued ('none') stay out of the queue. */
  private refreshStatus(groupId: number): void {
    this.ctx.db
      .prepare(
        `UPDATE rollout_groups SET ranking_status = CASE
         WHEN (SELECT count(*) FROM rankings WHERE group_id = @groupId AND skipped = 0) >= rankings_needed THEN 'ranked'
         WHEN ranking_status = 'ranked' THEN 'pending'
         ELSE ranking_status END
       WHERE id = @groupId`,
      )
      .run({ groupId });
  }

  get(id: number): Ranking {
    const row = this.ctx.db.prepare('SELECT * FROM rankings WHERE id = ?').get(id) as RankingRow | undefined;
    if (!row) throw notFound('ranking', id);
    return this.toRankings([row])[0]!;
  }

  /** Every annotator's ranking of a group, oldest first. */
  forGroup(groupId: number): Ranking[] {
    return this.toRankings(this.ctx.db.prepare('SELECT * FROM rankings WHERE group_id = ? ORDER BY id').all(groupId) as RankingRow[]);
  }

  /** Removes a ranking; the group goes back to the queue if it no longer has enough. */
  remove(id: number): Ranking {
    return this.ctx.db.transaction(() => {
      const ranking = this.get(id);
      this.ctx.db.prepare('DELETE FROM rankings WHERE id = ?').run(id);
      this.refreshStatus(ranking.groupId);
      return ranking;
    })();
  }

  /**
   * Takes back one of the annotator's rankings or skips by id (the screen undoes only what it saved in this
   * session, never an earlier one silently); its group is back in their queue if it still needs rankings.
   */
  undo(annotator: string, rankingId: number): Ranking {
    const ranking = this.get(rankingId);
    if (ranking.annotator !== annotator) throw invalid('rankingId', `ranking ${rankingId} is ${ranking.annotator}'s, not ${annotator}'s`);
    return this.remove(rankingId);
  }

  /**
   * The next groups waiting for this annotator (pending, and not yet ranked or skipped by them): first the
   * groups a sync run is waiting on, then by the queue policy's score (highest first), then oldest first.
   * Each part is read in that order from the pending groups' index (rollout_groups_queue*), so the queue
   * costs the same with 10 or 10,000 groups waiting.
   */
  queue(query: RankingQueueQuery): RolloutGroup[] {
    const limit = requireInteger('limit', query.limit ?? 10, 1);
    const annotator = requireText('annotator', query.annotator);
    const select = (where: string) =>
      cachedStatement(
        this.ctx.db,
        `${LIST_SELECT} WHERE g.ranking_status = 'pending' AND ${where} AND ${NOT_DONE} ORDER BY g.queue_score DESC, g.id LIMIT ?`,
      );
    // One run: its groups share their priority.
    if (query.runId !== undefined)
      return toGroups(this.ctx, select('g.run_id = ?').all(query.runId, annotator, limit) as RolloutGroupListRow[]);
    const waiting = JSON.stringify((cachedStatement(this.ctx.db, SYNC_RUNNING).all() as { id: number }[]).map((r) => r.id));
    const first = select('g.run_id IN (SELECT value FROM json_each(?))').all(waiting, annotator, limit) as RolloutGroupListRow[];
    const rest =
      first.length < limit
        ? (select('g.run_id NOT IN (SELECT value FROM json_each(?))').all(
            waiting,
            annotator,
            limit - first.length,
          ) as RolloutGroupListRow[])
        : [];
    return toGroups(this.ctx, [...first, ...rest]);
  }

  /** How many groups wait for this annotator. */
  queueSize(query: Omit<RankingQueueQuery, 'limit'>): number {
    const annotator = requireText('annotator', query.annotator);
    const [where, params] = query.runId === undefined ? ['', [annotator]] : ['AND g.run_id = ?', [query.runId, annotator]];
    return (
      cachedStatement(
        this.ctx.db,
        `SELECT count(*) AS n FROM rollout_groups g WHERE g.ranking_status = 'pending' ${where} AND ${NOT_DONE}`,
      ).get(...params) as { n: number }
    ).n;
  }

  /** Rankings (not skips) of a run's groups with id > afterId, oldest first: what the trainer has not seen yet. */
  since(runId: number, afterId = 0): Ranking[] {
    return this.toRankings(
      this.ctx.db
        .prepare(
          `SELECT r.* FROM rankings r JOIN rollout_groups g ON g.id = r.group_id
       WHERE r.id > ? AND g.run_id = ? AND r.skipped = 0 AND g.discarded_at IS NULL ORDER BY r.id`,
        )
        .all(afterId, runId) as RankingRow[],
    );
  }

  private toRankings(rows: RankingRow[]): Ranking[] {
    if (rows.length === 0) return [];
    const entries = this.ctx.db
      .prepare(
        `SELECT e.* FROM ranking_entries e JOIN samples s ON s.id = e.sample_id
       WHERE e.ranking_id IN (${placeholders(rows.length)}) ORDER BY e.ranking_id, s.idx`,
      )
      .all(...rows.map((r) => r.id)) as RankingEntryRow[];
    const byRanking = groupBy(
      entries,
      (e) => e.ranking_id,
      (e) => ({ sampleId: e.sample_id, rank: e.rank }),
    );
    return rows.map((r) => ({
      id: r.id,
      groupId: r.group_id,
      annotator: r.annotator,
      skipped: r.skipped === 1,
      ranks: byRanking.get(r.id) ?? [],
      createdAt: r.created_at,
      durationMs: r.duration_ms,
    }));
  }
}
