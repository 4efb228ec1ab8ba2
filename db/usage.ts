// What a run takes in the database, and giving freed pages back to the file system. Sizes are of the stored
// values (SQLite's pages hold them with some slack); `other` is the rest of the file shared out by samples.
import type { Store } from './store.ts';

export interface RunDbUsage {
  runId: number;
  samples: number;
  /** PNG bytes of the run's samples, edit sources and evaluation images. */
  imageBytes: number;
  /** Trajectory tensor bytes as stored (compact or raw). */
  tensorBytes: number;
  /** Rows without their blobs (rewards, metrics, logs, indexes), estimated: the file's other used bytes by share of samples. */
  rowBytes: number;
}

export interface FileUsage {
  /** The database file and its write-ahead log. */
  fileBytes: number;
  walBytes: number;
  /** Pages free inside the file (given back by reclaimSpace). */
  freeBytes: number;
  /** 'incremental': freed pages go back with PRAGMA incremental_vacuum; 'none': a VACUUM rewrites the file. */
  autoVacuum: 'none' | 'full' | 'incremental';
}

export function fileUsage(store: Store): FileUsage {
  const pageSize = store.db.pragma('page_size', { simple: true }) as number;
  const pages = store.db.pragma('page_count', { simple: true }) as number;
  const free = store.db.pragma('freelist_count', { simple: true }) as number;
  const wal = store.db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
  const mode = store.db.pragma('auto_vacuum', { simple: true }) as number;
  return {
    fileBytes: pages * pageSize,
    walBytes: Math.max(0, wal[0]?.log ?? 0) * pageSize,
    freeBytes: free * pageSize,
    autoVacuum: (['none', 'full', 'incremental'] as const)[mode] ?? 'none',
  };
}

/** The database usage of every run (one query per kind of blob). */
export function runsDbUsage(store: Store): RunDbUsage[] {
  const q = <T>(sql: string) => store.db.prepare(sql).all() as T[];
  const byRun = (rows: { run_id: number; bytes: number | null }[]) => new Map(rows.map((r) => [r.run_id, r.bytes ?? 0]));
  const samples = new Map(
    q<{ run_id: number; n: number }>(
      'SELECT g.run_id, count(*) AS n FROM samples s JOIN rollout_groups g ON g.id = s.group_id GROUP BY g.run_id',
    ).map((r) => [r.run_id, r.n]),
  );
  const images = byRun(
    q(`SELECT run_id, sum(bytes) AS bytes FROM (
      SELECT g.run_id, length(s.image_png) AS bytes FROM samples s JOIN rollout_groups g ON g.id = s.group_id
      UNION ALL SELECT g.run_id, length(e.source_png) FROM edits e
        JOIN samples s ON s.id = e.edited_sample_id JOIN rollout_groups g ON g.id = s.group_id
      UNION ALL SELECT v.run_id, length(r.image_png) FROM eval_results r
        JOIN evaluations v ON v.id = r.evaluation_id WHERE v.run_id IS NOT NULL
    ) GROUP BY run_id`),
  );
  const tensors = byRun(
    q(`SELECT g.run_id, sum(length(tt.data)) AS bytes FROM trajectory_tensors tt
      JOIN trajectories t ON t.id = tt.trajectory_id JOIN samples s ON s.id = t.sample_id
      JOIN rollout_groups g ON g.id = s.group_id GROUP BY g.run_id`),
  );
  const runs = q<{ id: number }>('SELECT id FROM runs ORDER BY id').map((r) => r.id);
  const file = fileUsage(store);
  const blobs = [...images.values(), ...tensors.values()].reduce((a, b) => a + b, 0);
  const totalSamples = [...samples.values()].reduce((a, b) => a + b, 0);
  const rest = Math.max(0, file.fileBytes - file.freeBytes - blobs);
  return runs.map((runId) => ({
    runId,
    samples: samples.get(runId) ?? 0,
    imageBytes: images.get(runId) ?? 0,
    tensorBytes: tensors.get(runId) ?? 0,
    rowBytes: totalSamples > 0 ? Math.round((rest * (samples.get(runId) ?? 0)) / totalSamples) : 0,
  }));
}

export interface ReclaimReport {
  beforeBytes: number;
  afterBytes: number;
  mode: 'incremental_vacuum' | 'vacuum';
  ms: number;
}

/**
 * Gives the file's free pages back to the file system: PRAGMA incremental_vacuum where the file is in
 * incremental mode (new databases, open.ts), else one VACUUM that also switches it to incremental mode (it
 * rewrites the file: it needs its size free on disk once, and waits for other writers).
 */
export function reclaimSpace(store: Store): ReclaimReport {
  const t0 = performance.now();
  const sizeOf = () =>
    (store.db.pragma('page_count', { simple: true }) as number) * (store.db.pragma('page_size', { simple: true }) as number);
  const beforeBytes = sizeOf();
  const incremental = store.db.pragma('auto_vacuum', { simple: true }) === 2;
  if (incremental) {
    store.db.pragma('incremental_vacuum');
  } else {
    store.db.pragma('auto_vacuum = INCREMENTAL');
    store.db.exec('VACUUM');
  }
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  return { beforeBytes, afterBytes: sizeOf(), mode: incremental ? 'incremental_vacuum' : 'vacuum', ms: Math.round(performance.now() - t0) };
}
