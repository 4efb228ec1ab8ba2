// What every repository is built from: the connection and a clock (injectable so tests are deterministic).
import type { Database, Statement } from 'better-sqlite3';
import { requireInteger } from '../errors.ts';

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
