// The initial schema: everything a run records. STRICT tables (types enforced), times in ms since epoch.
import type { Migration } from '../migrate.ts';

export const migration0001: Migration = {
  version: 1,
  name: 'initial',
  up(db) {
    db.exec(`
      CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        scenario TEXT NOT NULL CHECK (scenario IN ('t2i','cot','text','vqa','edit','reflect')),
        config TEXT NOT NULL CHECK (json_valid(config)),
        status TEXT NOT NULL CHECK (status IN ('created','running','paused','stopped','completed','failed','interrupted')),
        step INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        error TEXT
      ) STRICT;

      CREATE TABLE checkpoints (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        path TEXT NOT NULL,
        metadata TEXT NOT NULL CHECK (json_valid(metadata)),
        created_at INTEGER NOT NULL,
        UNIQUE (run_id, step)
      ) STRICT;

      CREATE TABLE prompts (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        text TEXT NOT NULL,
        task TEXT NOT NULL,
        spec TEXT NOT NULL CHECK (json_valid(spec)),
        UNIQUE (run_id, task, text)
      ) STRICT;

      CREATE TABLE rollout_groups (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        prompt_id INTEGER NOT NULL REFERENCES prompts(id),
        group_size INTEGER NOT NULL CHECK (group_size > 0),
        zero_std INTEGER NOT NULL CHECK (zero_std IN (0, 1)),
        ranking_status TEXT NOT NULL CHECK (ranking_status IN ('none','pending','ranked')),
        rankings_needed INTEGER NOT NULL DEFAULT 1 CHECK (rankings_needed > 0),
        created_at INTEGER NOT NULL
      ) STRICT;
      -- Rollout viewer: groups of a run by step.
      CREATE INDEX rollout_groups_by_run_step ON rollout_groups (run_id, step, id);
      -- Ranking queue: only the groups waiting for people are indexed, so the queue stays small and fast.
      CREATE INDEX rollout_groups_ranking_queue ON rollout_groups (run_id, id) WHERE ranking_status = 'pending';
      CREATE INDEX rollout_groups_ranking_queue_all ON rollout_groups (id) WHERE ranking_status = 'pending';

      CREATE TABLE samples (
        id INTEGER PRIMARY KEY,
        group_id INTEGER NOT NULL REFERENCES rollout_groups(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('member','derived')),
        idx INTEGER NOT NULL CHECK (idx >= 0),
        parent_sample_id INTEGER REFERENCES samples(id) ON DELETE CASCADE,
        seed INTEGER NOT NULL,
        text TEXT,
        image_png BLOB,
        image_width INTEGER,
        image_height INTEGER,
        advantage REAL,
        CHECK ((role = 'member') = (parent_sample_id IS NULL)),
        CHECK ((image_png IS NULL) = (image_width IS NULL) AND (image_png IS NULL) = (image_height IS NULL))
      ) STRICT;
      CREATE INDEX samples_by_group ON samples (group_id, role, idx);
      CREATE UNIQUE INDEX samples_member_index ON samples (group_id, idx) WHERE role = 'member';
      CREATE INDEX samples_by_parent ON samples (parent_sample_id) WHERE parent_sample_id IS NOT NULL;

      CREATE TABLE trajectories (
        id INTEGER PRIMARY KEY,
        sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('lm','dm')),
        label TEXT NOT NULL,
        UNIQUE (sample_id, kind, label)
      ) STRICT;

      -- One typed blob per named tensor: raw little-endian bytes, with dtype and shape (JSON int array).
      CREATE TABLE trajectory_tensors (
        trajectory_id INTEGER NOT NULL REFERENCES trajectories(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        dtype TEXT NOT NULL CHECK (dtype IN ('float32','float64','int32','uint32','int16','uint16','int8','uint8','int64')),
        shape TEXT NOT NULL CHECK (json_valid(shape)),
        data BLOB NOT NULL,
        PRIMARY KEY (trajectory_id, name)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE reward_components (
        sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        value REAL NOT NULL,
        weight REAL NOT NULL,
        PRIMARY KEY (sample_id, name)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE rankings (
        id INTEGER PRIMARY KEY,
        group_id INTEGER NOT NULL REFERENCES rollout_groups(id) ON DELETE CASCADE,
        annotator TEXT NOT NULL,
        skipped INTEGER NOT NULL CHECK (skipped IN (0, 1)),
        created_at INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
        UNIQUE (group_id, annotator)
      ) STRICT;
      CREATE INDEX rankings_by_annotator ON rankings (annotator, id);

      CREATE TABLE ranking_entries (
        ranking_id INTEGER NOT NULL REFERENCES rankings(id) ON DELETE CASCADE,
        sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
        rank INTEGER NOT NULL CHECK (rank >= 1),
        PRIMARY KEY (ranking_id, sample_id)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE reflection_cycles (
        id INTEGER PRIMARY KEY,
        sample_id INTEGER NOT NULL UNIQUE REFERENCES samples(id) ON DELETE CASCADE
      ) STRICT;

      CREATE TABLE reflection_rounds (
        id INTEGER PRIMARY KEY,
        cycle_id INTEGER NOT NULL REFERENCES reflection_cycles(id) ON DELETE CASCADE,
        round INTEGER NOT NULL CHECK (round >= 1),
        judged_sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
        refined_sample_id INTEGER REFERENCES samples(id) ON DELETE CASCADE,
        critique TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('correct','wrong')),
        scorer_verdict TEXT NOT NULL CHECK (scorer_verdict IN ('correct','wrong')),
        reward REAL,
        UNIQUE (cycle_id, round)
      ) STRICT;

      CREATE TABLE edits (
        id INTEGER PRIMARY KEY,
        edited_sample_id INTEGER NOT NULL UNIQUE REFERENCES samples(id) ON DELETE CASCADE,
        source_sample_id INTEGER REFERENCES samples(id) ON DELETE CASCADE,
        source_png BLOB,
        instruction TEXT NOT NULL,
        inverse_instruction TEXT NOT NULL,
        reconstruction_sample_id INTEGER REFERENCES samples(id) ON DELETE CASCADE,
        compliance REAL,
        preservation REAL,
        cycle_score REAL,
        CHECK ((source_sample_id IS NULL) <> (source_png IS NULL))
      ) STRICT;

      CREATE TABLE metrics (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        step INTEGER NOT NULL,
        -- NULL stands for NaN (SQLite stores NaN as NULL); a diverged loss is still worth a point.
        value REAL,
        PRIMARY KEY (run_id, name, step)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE,
        time INTEGER NOT NULL,
        level TEXT NOT NULL CHECK (level IN ('debug','info','warn','error')),
        message TEXT NOT NULL,
        data TEXT CHECK (data IS NULL OR json_valid(data))
      ) STRICT;
      CREATE INDEX events_by_run ON events (run_id, id);

      -- Child-side indexes for foreign keys, so deleting a run or a sample does not scan these tables.
      CREATE INDEX rollout_groups_by_prompt ON rollout_groups (prompt_id);
      CREATE INDEX ranking_entries_by_sample ON ranking_entries (sample_id);
      CREATE INDEX reflection_rounds_by_judged ON reflection_rounds (judged_sample_id);
      CREATE INDEX reflection_rounds_by_refined ON reflection_rounds (refined_sample_id) WHERE refined_sample_id IS NOT NULL;
      CREATE INDEX edits_by_source ON edits (source_sample_id) WHERE source_sample_id IS NOT NULL;
      CREATE INDEX edits_by_reconstruction ON edits (reconstruction_sample_id) WHERE reconstruction_sample_id IS NOT NULL;
    `);
  },
};
