import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { Database as DB } from 'better-sqlite3';
import { migrate, schemaVersion, SchemaTooNewError } from '../migrate.ts';
import type { Migration } from '../migrate.ts';
import { openDatabase } from '../open.ts';
import { MIGRATIONS } from './index.ts';

function rawDb(): DB {
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  return db;
}

function tables(db: DB): Map<string, boolean> {
  const rows = db.prepare(`SELECT name, strict FROM pragma_table_list WHERE schema = 'main' AND name NOT LIKE 'sqlite_%'`).all() as {
    name: string;
    strict: number;
  }[];
  return new Map(rows.map((r) => [r.name, r.strict === 1]));
}

/** Every row of every table, to compare before and after a migration. */
function snapshot(db: DB): Record<string, unknown[]> {
  return Object.fromEntries([...tables(db).keys()].sort().map((t) => [t, db.prepare(`SELECT * FROM "${t}" ORDER BY 1, 2`).all()]));
}

/** Rows written by an app at schema version 1: a run with a group, samples, a ranking, a reflection round. */
function seedVersion1(db: DB): void {
  db.exec(`
    INSERT INTO runs VALUES (1, 'r', 'reflect', '{"g":2}', 'running', 3, 10, 11, NULL);
    INSERT INTO prompts VALUES (1, 1, 'a red circle', 'single_object', '{}');
    INSERT INTO rollout_groups (id, run_id, step, prompt_id, group_size, zero_std, ranking_status, rankings_needed, created_at)
      VALUES (1, 1, 3, 1, 2, 0, 'pending', 1, 12);
    INSERT INTO samples VALUES (1, 1, 'member', 0, NULL, 7, 'critique', x'89504e47', 8, 8, 0.5);
    INSERT INTO samples VALUES (2, 1, 'member', 1, NULL, 8, NULL, NULL, NULL, NULL, -0.5);
    INSERT INTO reward_components VALUES (1, 'shapeeval', 1.0, 1.0);
    INSERT INTO rankings VALUES (1, 1, 'ann', 0, 13, 1500);
    INSERT INTO ranking_entries VALUES (1, 1, 1), (1, 2, 2);
    INSERT INTO reflection_cycles VALUES (1, 1);
    INSERT INTO reflection_rounds VALUES (1, 1, 1, 1, NULL, 'looks right', 'correct', 'correct', 1.0);
    INSERT INTO metrics VALUES (1, 'kl', 3, 0.01);
    INSERT INTO events VALUES (1, 1, 14, 'info', 'started', NULL);
  `);
}

/** Version 2 adds a preference model and a critique mark on top of the version-1 rows. */
function seedVersion2(db: DB): void {
  seedVersion1(db);
  db.exec(`
    INSERT INTO preference_models VALUES (1, 1, 1, '/p.safetensors', 10, 4, 0.75, 20);
    INSERT INTO critique_marks VALUES (1, 'ann', 1, 21);
  `);
}

/** Version 3 adds an evaluation with one result, a trajectory with a raw tensor, and an edit of the group's second member. */
function seedVersion3(db: DB): void {
  seedVersion2(db);
  db.exec(`
    INSERT INTO evaluations VALUES (1, 1, '/c.safetensors', 'geneval', 'completed', '{"overall":0.5}', NULL, 30, 31);
    INSERT INTO eval_results VALUES (1, 1, 'counting', 'two red circles', 0, 0, 0.5, 'found 1 red circle', NULL);
    INSERT INTO trajectories (id, sample_id, kind, label) VALUES (1, 1, 'dm', 'dm');
    INSERT INTO trajectory_tensors (trajectory_id, name, dtype, shape, data) VALUES (1, 'logProbs', 'float32', '[1]', x'0000803f');
    INSERT INTO edits VALUES (1, 2, 1, NULL, 'make it blue', 'make it red', NULL, 0.5, 0.9, NULL);
  `);
}

/** Version 4 adds a discarded metric. */
function seedVersion4(db: DB): void {
  seedVersion3(db);
  db.exec(`INSERT INTO discarded_metrics VALUES (1, 'kl', 3, 0.01, 40)`);
}

/** Version 5 adds a trajectory with its seeds and an 8-bit tensor. */
function seedVersion5(db: DB): void {
  seedVersion4(db);
  db.exec(`
    INSERT INTO trajectories VALUES (2, 2, 'dm', 'dm', 7, 8);
    INSERT INTO trajectory_tensors VALUES (2, 'latents', 'float32', '[1]', x'00', 'q8z');
  `);
}

/** Version 6 adds a queued group's note (with the queue policy's score) and a closed one, and an edit mark. */
function seedVersion6(db: DB): void {
  seedVersion5(db);
  db.exec(`
    INSERT INTO rollout_groups (id, run_id, step, prompt_id, group_size, zero_std, ranking_status, rankings_needed, created_at)
      VALUES (2, 1, 4, 1, 2, 0, 'none', 1, 50);
    INSERT INTO group_queue VALUES (1, 0.4, 'reward spread 0.40', NULL), (2, 0, '', 'stale');
    INSERT INTO edit_marks VALUES (1, 'ann', 1, 40);
  `);
}

const seeds: Record<number, (db: DB) => void> = {
  0: () => {},
  1: seedVersion1,
  2: seedVersion2,
  3: seedVersion3,
  4: seedVersion4,
  5: seedVersion5,
  6: seedVersion6,
};

/** Columns a migration moved to another table (checked by that migration's own test), left out of "keeps its rows". */
const moved: Record<number, Record<string, string[]>> = { 7: { group_queue: ['score'] } };

/** Rows with only the given columns (a migration may add columns; the old ones keep their values). */
const project = (rows: unknown[], like: unknown[]) =>
  rows.map((row, i) => Object.fromEntries(Object.keys((like[i] ?? {}) as object).map((k) => [k, (row as Record<string, unknown>)[k]])));

test('the registry is numbered 1..n without gaps and every version has a seed for its successor test', () => {
  assert.deepEqual(
    MIGRATIONS.map((m) => m.version),
    MIGRATIONS.map((_, i) => i + 1),
  );
  for (let v = 0; v < MIGRATIONS.length; v++) assert.ok(seeds[v], `no seed rows for schema version ${v}`);
});

for (const m of MIGRATIONS) {
  test(`migration ${m.version} (${m.name}) applies on version ${m.version - 1} and keeps its rows`, () => {
    const db = rawDb();
    migrate(db, MIGRATIONS, m.version - 1);
    seeds[m.version - 1]!(db); // every version has a seed: checked by the test above
    const before = snapshot(db);
    assert.deepEqual(migrate(db, MIGRATIONS, m.version), [m.version]);
    assert.equal(schemaVersion(db), m.version);
    const after = snapshot(db);
    for (const [table, rows] of Object.entries(before)) {
      const kept = rows.map((row) =>
        Object.fromEntries(Object.entries(row as object).filter(([column]) => !moved[m.version]?.[table]?.includes(column))),
      );
      assert.deepEqual(project(after[table]!, kept), kept, `rows of ${table} changed`);
    }
    for (const [table, strict] of tables(db)) assert.ok(strict, `table ${table} is not STRICT`);
    assert.deepEqual(db.pragma('foreign_key_check'), []);
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  });
}

test('migration 1 creates the whole schema', () => {
  const db = rawDb();
  migrate(db, MIGRATIONS, 1);
  for (const t of [
    'runs',
    'checkpoints',
    'prompts',
    'rollout_groups',
    'samples',
    'trajectories',
    'trajectory_tensors',
    'reward_components',
    'rankings',
    'ranking_entries',
    'reflection_cycles',
    'reflection_rounds',
    'edits',
    'metrics',
    'events',
  ]) {
    assert.ok(tables(db).has(t), `missing table ${t}`);
  }
});

test('migration 2 adds the preference-model and critique-mark tables, usable with version-1 rows', () => {
  const db = rawDb();
  migrate(db, MIGRATIONS, 1);
  seedVersion1(db);
  migrate(db, MIGRATIONS, 2);
  db.exec(`
    INSERT INTO preference_models VALUES (1, 1, 1, '/p.safetensors', 10, 4, 0.75, 20);
    INSERT INTO critique_marks VALUES (1, 'ann', 1, 21);
  `);
  assert.throws(() => db.prepare(`INSERT INTO critique_marks VALUES (99, 'ann', 1, 21)`).run(), /FOREIGN KEY/);
});

test('migration 3 adds evaluations, usable with a version-2 database', () => {
  const db = rawDb();
  migrate(db, MIGRATIONS, 2);
  seedVersion2(db);
  migrate(db, MIGRATIONS, 3);
  db.exec(`
    INSERT INTO evaluations VALUES (1, 1, '/c.safetensors', 'geneval', 'completed', '{"overall":0.5}', NULL, 30, 31);
    INSERT INTO evaluations VALUES (2, NULL, NULL, 'geneval', 'running', NULL, NULL, 32, NULL);
    INSERT INTO eval_results VALUES (1, 1, 'counting', 'two red circles', 0, 0, 0.5, 'found 1 red circle', NULL);
  `);
  assert.throws(() => db.exec(`INSERT INTO eval_results VALUES (2, 1, 'counting', 'x', 0, 2, 0.5, 'r', NULL)`), /CHECK constraint failed/);
});

test('migration 4 marks no group discarded and sets discarded metrics apart, usable with a version-3 database', () => {
  const db = rawDb();
  migrate(db, MIGRATIONS, 3);
  seedVersion3(db);
  migrate(db, MIGRATIONS, 4);
  assert.deepEqual(db.prepare('SELECT discarded_at FROM rollout_groups').all(), [{ discarded_at: null }]);
  db.exec(`INSERT INTO discarded_metrics VALUES (1, 'kl', 3, 0.01, 40)`);
  db.exec(`INSERT INTO metrics VALUES (1, 'kl', 4, 0.02)`);
  assert.throws(() => db.exec(`INSERT INTO discarded_metrics VALUES (99, 'kl', 3, 0.01, 40)`), /FOREIGN KEY/);
  db.close();
});

test('migration 5 marks old tensors raw and old trajectories without seeds; new rows take an encoding and seeds', () => {
  const db = rawDb();
  migrate(db, MIGRATIONS, 4);
  seedVersion4(db);
  migrate(db, MIGRATIONS, 5);
  assert.deepEqual(db.prepare('SELECT encoding FROM trajectory_tensors').all(), [{ encoding: 'raw' }]);
  assert.deepEqual(db.prepare('SELECT noise_seed, sde_seed FROM trajectories').all(), [{ noise_seed: null, sde_seed: null }]);
  db.exec(`INSERT INTO trajectories VALUES (2, 2, 'dm', 'dm', 7, 4294967295)`);
  db.exec(`INSERT INTO trajectory_tensors VALUES (2, 'latents', 'float32', '[1]', x'00', 'q8z')`);
  assert.throws(
    () => db.exec(`INSERT INTO trajectory_tensors VALUES (2, 'means', 'float32', '[1]', x'00', 'zip')`),
    /CHECK constraint failed/,
  );
  db.close();
});

test('migration 6 adds the ranking queue notes and edit marks, usable with a version-5 database', () => {
  const db = rawDb();
  migrate(db, MIGRATIONS, 5);
  seedVersion5(db);
  migrate(db, MIGRATIONS, 6);
  db.exec(`
    INSERT INTO group_queue VALUES (1, 0.4, 'reward spread 0.40', NULL);
    INSERT INTO edit_marks VALUES (1, 'ann', 1, 40);
  `);
  assert.throws(() => db.exec(`UPDATE group_queue SET closed = 'lost' WHERE group_id = 1`), /CHECK constraint failed/);
  assert.throws(() => db.exec(`INSERT INTO edit_marks VALUES (99, 'ann', 0, 41)`), /FOREIGN KEY/);
  db.exec('DELETE FROM rollout_groups WHERE id = 1');
  assert.equal((db.prepare('SELECT count(*) AS n FROM group_queue').get() as { n: number }).n, 0, 'queue notes go with their group');
  db.close();
});

test("migration 7 moves the queue score onto the group, where the pending groups' index orders by it", () => {
  const db = rawDb();
  migrate(db, MIGRATIONS, 6);
  seedVersion6(db);
  migrate(db, MIGRATIONS, 7);
  assert.deepEqual(db.prepare('SELECT id, queue_score FROM rollout_groups ORDER BY id').all(), [
    { id: 1, queue_score: 0.4 },
    { id: 2, queue_score: 0 },
  ]);
  assert.deepEqual(db.prepare('SELECT * FROM group_queue ORDER BY group_id').all(), [
    { group_id: 1, reason: 'reward spread 0.40', closed: null },
    { group_id: 2, reason: '', closed: 'stale' },
  ]);
  const plan = db
    .prepare(
      `EXPLAIN QUERY PLAN SELECT id FROM rollout_groups WHERE ranking_status = 'pending' AND run_id = 1 ORDER BY queue_score DESC, id`,
    )
    .all();
  assert.match(JSON.stringify(plan), /rollout_groups_queue_by_run/);
  assert.doesNotMatch(JSON.stringify(plan), /TEMP B-TREE/, 'read in order, not sorted');
  db.close();
});

test('all pending migrations run in one transaction: a failure leaves the database unchanged', () => {
  const db = rawDb();
  migrate(db, MIGRATIONS, 1);
  seedVersion1(db);
  const before = snapshot(db);
  const failing: Migration = {
    version: MIGRATIONS.length + 1,
    name: 'broken',
    up: (d) => d.exec('CREATE TABLE half_done (x INTEGER) STRICT; SELECT * FROM no_such_table'),
  };
  assert.throws(
    () => migrate(db, [...MIGRATIONS, failing]),
    new RegExp(`migration ${failing.version} \\(broken\\) failed: no such table: no_such_table`),
  );
  assert.equal(schemaVersion(db), 1);
  assert.deepEqual(snapshot(db), before);
  assert.ok(!tables(db).has('preference_models'), 'migration 2 was applied although a later one failed');
  assert.ok(!tables(db).has('evaluations'), 'migration 3 was applied although a later one failed');
  assert.ok(!tables(db).has('half_done'));
});

test('a database newer than the app is refused naming both versions', () => {
  const db = rawDb();
  db.pragma('user_version = 99');
  assert.throws(
    () => migrate(db, MIGRATIONS),
    (err: unknown) => {
      assert.ok(err instanceof SchemaTooNewError);
      assert.match(
        err.message,
        new RegExp(`database schema version 99 is newer than this app supports \\(schema version ${MIGRATIONS.length}\\)`),
      );
      return true;
    },
  );
});

test('openDatabase migrates once, then applies nothing on reopen; settings are on', () => {
  const db = openDatabase(':memory:');
  assert.equal(schemaVersion(db), MIGRATIONS.length);
  assert.deepEqual(migrate(db, MIGRATIONS), []);
  assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
  assert.equal(db.pragma('synchronous', { simple: true }), 1); // NORMAL
  assert.equal(db.pragma('busy_timeout', { simple: true }), 5000);
});

test('a registry out of order is refused', () => {
  assert.throws(
    () => migrate(rawDb(), [MIGRATIONS[1]!, MIGRATIONS[0]!]),
    /out of order: entry 0 \('human_feedback'\) has version 2, expected 1/,
  );
});
