// Metrics per run and step, read back as columnar series for the charts.
import type { MetricSeries, MetricSeriesQuery } from '../../contract/domain.ts';
import { invalid, requireInteger, requireText } from '../errors.ts';
import type { MetricRow } from '../rows.ts';
import { cachedStatement, type RepoContext } from './context.ts';

const DEFAULT_MAX_POINTS = 1000;

/** The grid: first, first + stride, ... below last, and last. */
const GRID = 'WITH RECURSIVE grid(at) AS (SELECT ? UNION ALL SELECT at + ? FROM grid WHERE at + ? < ?)';
/** A series logged at every step has a point at each grid step: one seek each. */
const ON_GRID =
  `${GRID} SELECT step, value FROM metrics WHERE run_id = ? AND name = ? ` +
  'AND step IN (SELECT at FROM grid UNION SELECT ?) ORDER BY step';
/**
 * Any series: per grid step, the first point logged at or after it. CROSS JOIN keeps the picked steps
 * outside, so each is one seek (the planner would otherwise walk the whole series per point).
 */
const NEAR_GRID = `${GRID},
  picked(step) AS (
    SELECT DISTINCT (SELECT step FROM metrics WHERE run_id = ? AND name = ? AND step >= at ORDER BY step LIMIT 1)
    FROM (SELECT at FROM grid UNION SELECT ?))
  SELECT m.step, m.value FROM picked CROSS JOIN metrics m ON m.run_id = ? AND m.name = ? AND m.step = picked.step ORDER BY m.step`;

export class MetricsRepo {
  constructor(private readonly ctx: RepoContext) {}

  /**
   * Records one step's metrics in one transaction. Logging a step again (after resuming from a checkpoint)
   * overwrites it. NaN is kept (stored as NULL, read back as NaN); infinities are kept too.
   */
  log(runId: number, step: number, values: Record<string, number>): void {
    requireInteger('step', step, 0);
    const entries = Object.entries(values);
    for (const [name, value] of entries) {
      requireText('metric name', name);
      if (typeof value !== 'number') throw invalid(`values.${name}`, `must be a number, got ${typeof value}`);
    }
    const insert = cachedStatement(
      this.ctx.db,
      `INSERT INTO metrics (run_id, name, step, value) VALUES (?, ?, ?, ?)
       ON CONFLICT (run_id, name, step) DO UPDATE SET value = excluded.value`,
    );
    this.ctx.db.transaction(() => {
      for (const [name, value] of entries) insert.run(runId, name, step, Number.isNaN(value) ? null : value);
    })();
  }

  /**
   * One series per requested name (empty when never logged), ascending by step, thinned to about
   * `maxPoints` points: a long run logs a point per step, which no chart can show, and reading them all made
   * the dashboard's load grow with the run (8 series of 31,250 steps: ~0.5 s). Thinning seeks one point per
   * stride in the primary key, so its cost depends on maxPoints, not on the run's length.
   */
  series(query: MetricSeriesQuery): MetricSeries[] {
    const maxPoints = requireInteger('maxPoints', query.maxPoints ?? DEFAULT_MAX_POINTS, 2);
    const after = query.afterStep ?? -1;
    // Two seeks (one query with both min() and max() would scan the range).
    const range = cachedStatement(
      this.ctx.db,
      `SELECT
      (SELECT step FROM metrics WHERE run_id = ? AND name = ? AND step > ? ORDER BY step LIMIT 1) AS first,
      (SELECT step FROM metrics WHERE run_id = ? AND name = ? AND step > ? ORDER BY step DESC LIMIT 1) AS last`,
    );
    const all = cachedStatement(this.ctx.db, 'SELECT step, value FROM metrics WHERE run_id = ? AND name = ? AND step > ? ORDER BY step');
    return query.names.map((name) => {
      const { first, last } = range.get(query.runId, name, after, query.runId, name, after) as {
        first: number | null;
        last: number | null;
      };
      const stride = first === null || last === null || last - first < maxPoints ? 1 : Math.ceil((last - first) / (maxPoints - 1));
      let rows = (stride === 1 ? all.all(query.runId, name, after) : []) as Pick<MetricRow, 'step' | 'value'>[];
      if (stride > 1) {
        const grid = [first, stride, stride, last];
        rows = cachedStatement(this.ctx.db, ON_GRID).all(...grid, query.runId, name, last) as typeof rows;
        if (rows.length < Math.ceil((last! - first!) / stride) + 1) {
          rows = cachedStatement(this.ctx.db, NEAR_GRID).all(...grid, query.runId, name, last, query.runId, name) as typeof rows;
        }
      }
      return { name, steps: rows.map((r) => r.step), values: rows.map((r) => r.value ?? NaN), ...(stride > 1 ? { stride } : {}) };
    });
  }

  /** Every metric name the run has logged, sorted. */
  names(runId: number): string[] {
    return (this.ctx.db.prepare('SELECT DISTINCT name FROM metrics WHERE run_id = ? ORDER BY name').all(runId) as { name: string }[]).map(
      (r) => r.name,
    );
  }
}
