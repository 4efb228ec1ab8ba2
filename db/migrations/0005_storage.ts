// Storage that scales (issue 21): trajectory tensors may be stored compactly (float16 or 8-bit quantised,
// deflated; `encoding`), and a DM trajectory records the seeds that draw it again (so its latents need not be
// kept). Old rows stay raw and without seeds.
import type { Migration } from '../migrate.ts';

export const migration0005: Migration = {
  version: 5,
  name: 'storage',
  up(db) {
    db.exec(`
      ALTER TABLE trajectory_tensors ADD COLUMN encoding TEXT NOT NULL DEFAULT 'raw' CHECK (encoding IN ('raw', 'f16z', 'q8z'));
      ALTER TABLE trajectories ADD COLUMN noise_seed INTEGER;
      ALTER TABLE trajectories ADD COLUMN sde_seed INTEGER;
    `);
  },
};
