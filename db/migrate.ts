// Schema migrations: numbered, applied in order, tracked in PRAGMA user_version.
import type { Database } from 'better-sqlite3';

export interface Migration {
  /** 1, 2, 3, ... with no gaps; user_version holds the last one applied. */
  version: number;
  name: string;
  up(db: Database): void;
}

export class SchemaTooNewError extends Error {
  constructor(
    readonly databaseVersion: number,
    readonly appVersion: number,
  ) {
    super(
      `database schema version ${databaseVersion} is newer than this app supports (schema version ` +
        `${appVersion}); upgrade UniRL Studio or open another data directory`,
    );
    this.name = 'SchemaTooNewError';
  }
}

export function schemaVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function checkRegistry(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`migration registry is out of order: entry ${i} ('${m.name}') has version ${m.version}, expected ${i + 1}`);
    }
  });
}

/**
 * Applies every pending migration (up to `target`, default all) in ONE transaction: either the database
 * reaches the target version or, when any migration throws, it stays exactly as it was.
 * Returns the versions applied.
 */
export function migrate(db: Database, migrations: readonly Migration[], target = migrations.length): number[] {
  checkRegistry(migrations);
  const current = schemaVersion(db);
  if (current > migrations.length) throw new SchemaTooNewError(current, migrations.length);
  if (target < current || target > migrations.length) {
    throw new Error(`cannot migrate from schema version ${current} to ${target} (known: 0..${migrations.length})`);
  }
  const pending = migrations.slice(current, target);
  if (pending.length === 0) return [];
  db.transaction(() => {
    for (const m of pending) {
      try {
        m.up(db);
      } catch (err) {
        throw new Error(`migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, { cause: err });
      }
    }
    // user_version lives in the database header and is written inside the transaction, so it rolls back too.
    db.pragma(`user_version = ${target}`);
    const violations = db.pragma('foreign_key_check') as unknown[];
    if (violations.length > 0) throw new Error(`migrations to version ${target} left ${violations.length} foreign key violations`);
  })();
  return pending.map((m) => m.version);
}
