// Reflection cycles: image -> critique -> refined image, round by round, owned by one group member.
import {
  REFLECTION_FILTERS,
  type CritiqueMark,
  type ReflectionCycle,
  type ReflectionFilter,
  type ReflectionRound,
  type Verdict,
} from '../../contract/domain.ts';
import { invalid, notFound, requireFiniteNumber } from '../errors.ts';
import type { CritiqueMarkRow, ReflectionCycleRow, ReflectionRoundRow } from '../rows.ts';
import type { RepoContext } from './context.ts';
import { groupBy, markedGroups, markMeans, placeholders, saveMark, type MarkedGroups, type MarkTable } from './context.ts';

const CRITIQUE_MARKS: MarkTable = {
  table: 'critique_marks',
  target: { table: 'reflection_rounds', column: 'round_id', what: 'reflection round' },
  valueColumn: 'correct',
};

export interface ReflectionRoundInput {
  judgedSampleId: number;
  refinedSampleId?: number | null;
  critique: string;
  verdict: Verdict;
  scorerVerdict: Verdict;
  reward?: number | null;
}

// The scorer's verdict on a cycle `c`'s first image, and on the image it ended on: a round's reward is
// ShapeEval's on the image it leaves, 1 exactly when correct; a last round without one leaves the first.
const FIRST_RIGHT = `coalesce((SELECT r.scorer_verdict = 'correct' FROM reflection_rounds r WHERE r.cycle_id = c.id AND r.round = 1), 0)`;
const FINAL_RIGHT = `coalesce((SELECT r.reward = 1 FROM reflection_rounds r WHERE r.cycle_id = c.id ORDER BY r.round DESC LIMIT 1), ${FIRST_RIGHT})`;

/** Which cycles each filter keeps, as a condition on `c`. */
const FILTER_SQL: Record<ReflectionFilter, string> = {
  all: '1',
  disagree: 'EXISTS (SELECT 1 FROM reflection_rounds r WHERE r.cycle_id = c.id AND r.verdict <> r.scorer_verdict)',
  corrected: `NOT ${FIRST_RIGHT} AND ${FINAL_RIGHT}`,
  broken: `${FIRST_RIGHT} AND NOT ${FINAL_RIGHT}`,
  markedWrong:
    'EXISTS (SELECT 1 FROM critique_marks m JOIN reflection_rounds r ON r.id = m.round_id WHERE r.cycle_id = c.id AND m.correct = 0)',
};

export interface CyclePage {
  items: { groupId: number; cycle: ReflectionCycle }[];
  total: number;
}

function checkVerdict(field: string, v: unknown): void {
  if (v !== 'correct' && v !== 'wrong') throw invalid(field, `must be 'correct' or 'wrong', got '${String(v)}'`);
}

export class ReflectionsRepo {
  constructor(private readonly ctx: RepoContext) {}

  /**
   * Records a whole cycle for group member `sampleId`; rounds are numbered 1.. in the given order. Every
   * judged/refined image must belong to the same group (the member or images derived from it).
   */
  insert(sampleId: number, rounds: ReflectionRoundInput[]): ReflectionCycle {
    if (!Array.isArray(rounds) || rounds.length === 0) throw invalid('rounds', 'a cycle needs at least one round');
    return this.ctx.db.transaction(() => {
      const owner = this.ctx.db.prepare(`SELECT group_id FROM samples WHERE id = ? AND role = 'member'`).get(sampleId) as
        | { group_id: number }
        | undefined;
      if (!owner) throw invalid('sampleId', `sample ${sampleId} is not a group member`);
      const groupOf = this.ctx.db.prepare('SELECT group_id FROM samples WHERE id = ?');
      const checkSample = (field: string, id: number) => {
        const row = groupOf.get(id) as { group_id: number } | undefined;
        if (!row) throw invalid(field, `sample ${id} does not exist`);
        if (row.group_id !== owner.group_id) throw invalid(field, `sample ${id} is not in group ${owner.group_id} of sample ${sampleId}`);
      };
      const { lastInsertRowid: cycleId } = this.ctx.db.prepare('INSERT INTO reflection_cycles (sample_id) VALUES (?)').run(sampleId);
      const insertRound = this.ctx.db.prepare(
        `INSERT INTO reflection_rounds (cycle_id, round, judged_sample_id, refined_sample_id, critique, verdict, scorer_verdict, reward)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      rounds.forEach((r, i) => {
        const field = `rounds[${i}]`;
        checkSample(`${field}.judgedSampleId`, r.judgedSampleId);
        if (r.refinedSampleId != null) checkSample(`${field}.refinedSampleId`, r.refinedSampleId);
        if (typeof r.critique !== 'string') throw invalid(`${field}.critique`, 'must be a string');
        checkVerdict(`${field}.verdict`, r.verdict);
        checkVerdict(`${field}.scorerVerdict`, r.scorerVerdict);
        if (r.reward != null) requireFiniteNumber(`${field}.reward`, r.reward);
        insertRound.run(
          cycleId,
          i + 1,
          r.judgedSampleId,
          r.refinedSampleId ?? null,
          r.critique,
          r.verdict,
          r.scorerVerdict,
          r.reward ?? null,
        );
      });
      return this.get(Number(cycleId));
    })();
  }

  get(id: number): ReflectionCycle {
    const row = this.ctx.db.prepare('SELECT * FROM reflection_cycles WHERE id = ?').get(id) as ReflectionCycleRow | undefined;
    if (!row) throw notFound('reflection cycle', id);
    return this.withRounds(row);
  }

  /** The cycle owned by a group member, or null. */
  forSample(sampleId: number): ReflectionCycle | null {
    const row = this.ctx.db.prepare('SELECT * FROM reflection_cycles WHERE sample_id = ?').get(sampleId) as ReflectionCycleRow | undefined;
    return row ? this.withRounds(row) : null;
  }

  /** The cycles of a group's members, by member index. */
  forGroup(groupId: number): ReflectionCycle[] {
    const rows = this.ctx.db
      .prepare(
        'SELECT c.* FROM reflection_cycles c JOIN samples s ON s.id = c.sample_id ' +
          "WHERE s.group_id = ? AND s.role = 'member' ORDER BY s.idx",
      )
      .all(groupId) as ReflectionCycleRow[];
    return rows.map((r) => this.withRounds(r));
  }

  /**
   * A page of a run's cycles that pass the filter, newest step first (a group's members in order), with the
   * number that pass; filtered and paged in SQL, so a page deep in a long run reads only its own rounds.
   */
  page(runId: number, filter: ReflectionFilter, offset: number, limit: number): CyclePage {
    if (!REFLECTION_FILTERS.includes(filter)) throw invalid('filter', `must be one of ${REFLECTION_FILTERS.join(', ')}, got '${filter}'`);
    const from = `FROM reflection_cycles c JOIN samples s ON s.id = c.sample_id JOIN rollout_groups g ON g.id = s.group_id
       WHERE g.run_id = ? AND g.discarded_at IS NULL AND s.role = 'member' AND (${FILTER_SQL[filter]})`;
    const { total } = this.ctx.db.prepare(`SELECT count(*) AS total ${from}`).get(runId) as { total: number };
    const rows = this.ctx.db
      .prepare(`SELECT c.*, g.id AS group_id ${from} ORDER BY g.step DESC, g.id DESC, s.idx LIMIT ? OFFSET ?`)
      .all(runId, limit, offset) as (ReflectionCycleRow & { group_id: number })[];
    return { items: rows.map((row) => ({ groupId: row.group_id, cycle: this.withRounds(row) })), total };
  }

  /** A person marks a critique right or wrong (again: replaces their earlier mark). */
  mark(roundId: number, annotator: string, correct: boolean): void {
    saveMark(this.ctx, CRITIQUE_MARKS, roundId, annotator, correct);
  }

  /** Per member sample of the group: the mean of its critiques' marks, +1 right / -1 wrong (the critiqueMark reward). */
  markMeans(groupId: number): Map<number, number> {
    return markMeans(
      this.ctx.db
        .prepare(
          `SELECT c.sample_id AS sample_id, avg(CASE m.correct WHEN 1 THEN 1.0 ELSE -1.0 END) AS mean
       FROM critique_marks m JOIN reflection_rounds r ON r.id = m.round_id JOIN reflection_cycles c ON c.id = r.cycle_id
       JOIN samples s ON s.id = c.sample_id WHERE s.group_id = ? GROUP BY c.sample_id`,
        )
        .all(groupId),
    );
  }

  /** Groups of a run with a critique mark made or changed at or after `since` (ms), and the latest mark's time. */
  markedSince(runId: number, since: number): MarkedGroups {
    return markedGroups(
      this.ctx.db
        .prepare(
          `SELECT s.group_id AS group_id, max(m.created_at) AS latest
       FROM critique_marks m JOIN reflection_rounds r ON r.id = m.round_id JOIN reflection_cycles c ON c.id = r.cycle_id
       JOIN samples s ON s.id = c.sample_id JOIN rollout_groups g ON g.id = s.group_id
       WHERE g.run_id = ? AND m.created_at >= ? GROUP BY s.group_id`,
        )
        .all(runId, since),
      since,
    );
  }

  private withRounds(cycle: ReflectionCycleRow): ReflectionCycle {
    const rows = this.ctx.db
      .prepare('SELECT * FROM reflection_rounds WHERE cycle_id = ? ORDER BY round')
      .all(cycle.id) as ReflectionRoundRow[];
    const marks =
      rows.length === 0
        ? []
        : (this.ctx.db
            .prepare(`SELECT * FROM critique_marks WHERE round_id IN (${placeholders(rows.length)}) ORDER BY created_at`)
            .all(...rows.map((r) => r.id)) as CritiqueMarkRow[]);
    const marksByRound = groupBy(
      marks,
      (m) => m.round_id,
      (m): CritiqueMark => ({ annotator: m.annotator, correct: m.correct === 1, createdAt: m.created_at }),
    );
    const rounds: ReflectionRound[] = rows.map((r) => ({
      id: r.id,
      cycleId: r.cycle_id,
      round: r.round,
      judgedSampleId: r.judged_sample_id,
      refinedSampleId: r.refined_sample_id,
      critique: r.critique,
      verdict: r.verdict,
      scorerVerdict: r.scorer_verdict,
      reward: r.reward,
      marks: marksByRound.get(r.id) ?? [],
    }));
    return { id: cycle.id, sampleId: cycle.sample_id, rounds };
  }
}
