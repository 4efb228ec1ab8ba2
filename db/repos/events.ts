// The log: events of a run (or of the app, runId null), appended and tailed.
import type { JsonValue, LogEvent, LogLevel, LogTailQuery } from '../../contract/domain.ts';
import { LOG_LEVELS } from '../../contract/domain.ts';
import { invalid, requireInteger, toJson } from '../errors.ts';
import type { EventRow } from '../rows.ts';
import type { RepoContext } from './context.ts';

function toEvent(row: EventRow): LogEvent {
  return {
    id: row.id,
    runId: row.run_id,
    time: row.time,
    level: row.level,
    message: row.message,
    data: row.data === null ? null : (JSON.parse(row.data) as JsonValue),
  };
}

export class EventsRepo {
  constructor(private readonly ctx: RepoContext) {}

  append(runId: number | null, level: LogLevel, message: string, data: JsonValue | null = null): LogEvent {
    if (!LOG_LEVELS.includes(level)) throw invalid('level', `must be one of ${LOG_LEVELS.join(', ')}, got '${level}'`);
    if (typeof message !== 'string') throw invalid('message', 'must be a string');
    const row = this.ctx.db
      .prepare('INSERT INTO events (run_id, time, level, message, data) VALUES (?, ?, ?, ?, ?) RETURNING *')
      .get(runId, this.ctx.now(), level, message, data === null ? null : toJson('data', data)) as EventRow;
    return toEvent(row);
  }

  /** The last `limit` events (after `afterId` when given), oldest first. */
  tail(query: LogTailQuery): LogEvent[] {
    const limit = requireInteger('limit', query.limit ?? 200, 1);
    const conditions = [query.runId === null ? 'run_id IS NULL' : 'run_id = ?'];
    const params: number[] = query.runId === null ? [] : [query.runId];
    if (query.afterId !== undefined) {
      conditions.push('id > ?');
      params.push(query.afterId);
    }
    const rows = this.ctx.db
      .prepare(`SELECT * FROM events WHERE ${conditions.join(' AND ')} ORDER BY id DESC LIMIT ?`)
      .all(...params, limit) as EventRow[];
    return rows.reverse().map(toEvent);
  }
}
