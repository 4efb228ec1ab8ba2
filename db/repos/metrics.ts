// Metrics per run and step, read back as columnar series for the charts.
import type { MetricSeries, MetricSeriesQuery } from '../../contract/domain.ts';
import { invalid, requireInteger, requireText } from '../errors.ts';
import type { MetricRow } from '../rows.ts';
import { cachedStatement, type RepoContext } from './context.ts';

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

  /** One series per requested name (empty when never logged), ascending by step. */
  series(query: MetricSeriesQuery): MetricSeries[] {
    const select = this.ctx.db.prepare('SELECT step, value FROM metrics WHERE run_id = ? AND name = ? AND step > ? ORDER BY step');
    return query.names.map((name) => {
      const rows = select.all(query.runId, name, query.afterStep ?? -1) as Pick<MetricRow, 'step' | 'value'>[];
      return { name, steps: rows.map((r) => r.step), values: rows.map((r) => r.value ?? NaN) };
    });
  }

  /** Every metric name the run has logged, sorted. */
  names(runId: number): string[] {
    return (this.ctx.db.prepare('SELECT DISTINCT name FROM metrics WHERE run_id = ? ORDER BY name').all(runId) as { name: string }[])
      .map((r) => r.name);
  }
}
