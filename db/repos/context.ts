// What every repository is built from: the connection and a clock (injectable so tests are deterministic).
import type { Database, Statement } from 'better-sqlite3';
import { invalid, notFound, requireInteger, requireText } from '../errors.ts';

export interface RepoContext {
  db: Database;
  /** Milliseconds since the Unix epoch. */
  now: () => number;
}

const statements = new WeakMap<Database, Map<string, Statement>>();

/**
 * The connection's prepared statement for `sql`, prepared once: preparing costs more than running a small
 * insert, and the trainer writes thousands of rows a second (bench/db.ts). For fixed SQL only.
 */
export function cachedStatement(db: Database, sql: string): Statement {
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map()));
  let statement = cache.get(sql);
  if (!statement) cache.set(sql, (statement = db.prepare(sql)));
  return statement;
}

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 500;

export function pageBounds(query: { offset?: number; limit?: number }): { offset: number; limit: number } {
  const offset = requireInteger('offset', query.offset ?? 0, 0);
  const limit = Math.min(requireInteger('limit', query.limit ?? DEFAULT_PAGE_LIMIT, 1), MAX_PAGE_LIMIT);
  return { offset, limit };
}

/** `?, ?, ?` for an IN list of n values. */
export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

/** Groups items by key, keeping their order, mapping each to a value. */
export function groupBy<T, K, V>(items: readonly T[], key: (item: T) => K, value: (item: T) => V): Map<K, V[]> {
  const groups = new Map<K, V[]>();
  for (const item of items) {
    const list = groups.get(key(item));
    if (list) list.push(value(item));
    else groups.set(key(item), [value(item)]);
  }
  return groups;
}

/** Groups with people's marks since a time, and the newest mark's time (the next watermark). */
export interface MarkedGroups {
  groupIds: number[];
  latest: number;
}

export function markedGroups(rows: unknown[], since: number): MarkedGroups {
  const typed = rows as { group_id: number; latest: number }[];
  return { groupIds: typed.map((r) => r.group_id), latest: Math.max(since, ...typed.map((r) => r.latest)) };
}

export function markMeans(rows: unknown[]): Map<number, number> {
  return new Map((rows as { sample_id: number; mean: number }[]).map((r) => [r.sample_id, r.mean]));
}

/** Where one kind of person's mark is kept: its table, the marked row's table and key column, the mark's column. */
export interface MarkTable {
  table: 'critique_marks' | 'edit_marks';
  target: { table: 'reflection_rounds' | 'edits'; column: 'round_id' | 'edit_id'; what: string };
  valueColumn: 'correct' | 'followed';
}

/** Saves an annotator's yes/no mark on a row (again: replaces their earlier mark). */
export function saveMark(ctx: RepoContext, spec: MarkTable, targetId: number, annotator: string, value: boolean): void {
  requireText('annotator', annotator);
  if (typeof value !== 'boolean') throw invalid(spec.valueColumn, 'must be a boolean');
  if (!ctx.db.prepare(`SELECT 1 FROM ${spec.target.table} WHERE id = ?`).get(targetId)) throw notFound(spec.target.what, targetId);
  ctx.db
    .prepare(
      `INSERT INTO ${spec.table} (${spec.target.column}, annotator, ${spec.valueColumn}, created_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (${spec.target.column}, annotator)
     DO UPDATE SET ${spec.valueColumn} = excluded.${spec.valueColumn}, created_at = excluded.created_at`,
    )
    .run(targetId, annotator, value ? 1 : 0, ctx.now());
}
