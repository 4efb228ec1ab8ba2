// Opening the SQLite database with the settings every process of the app uses.
import Database from 'better-sqlite3';
import type { Database as DB } from 'better-sqlite3';
import { MIGRATIONS } from './migrations/index.ts';
import { migrate } from './migrate.ts';

/**
 * Opens (creating if needed) and migrates the database at `path` (or ':memory:').
 *
 * Durability: WAL with synchronous=NORMAL. A committed transaction is in the WAL file before COMMIT returns,
 * so a killed process (SIGKILL, crash) loses nothing; only a power cut or OS crash can drop the last few
 * transactions (never corrupting the file). FULL would fsync on every commit, which costs far more than
 * the trainer's writes are worth; a lost step after a power cut is recovered from the last checkpoint.
 */
export function openDatabase(path: string, options: { migrate?: boolean } = {}): DB {
  const db = openFile(path);
  try {
    // A new file frees deleted runs' pages with PRAGMA incremental_vacuum (no effect on an existing file: usage.ts).
    db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // The app, the trainer worker and the CLI may share the file: wait for a writer instead of failing.
    db.pragma('busy_timeout = 5000');
    if (options.migrate !== false) migrate(db, MIGRATIONS);
  } catch (err) {
    db.close();
    // A read-only folder lets SQLite open an existing file but not its WAL: say which file.
    const code = (err as { code?: string }).code ?? '';
    if (/^SQLITE_(CANTOPEN|READONLY|PERM)/.test(code))
      throw new Error(`cannot open the database ${path}: ${(err as Error).message} (is its folder writable?)`);
    throw err;
  }
  return db;
}

/** SQLite's "unable to open database file" names no file: this one does. */
function openFile(path: string): DB {
  try {
    return new Database(path);
  } catch (err) {
    const message = (err as Error).message;
    const hint = /unable to open/.test(message) ? ' (is its folder there and writable?)' : '';
    throw new Error(`cannot open the database ${path}: ${message}${hint}`);
  }
}
