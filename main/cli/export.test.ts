import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seedRolloutGroups } from '../../tests/browser/fixtures.ts';
import { readParquetFile } from '../export/read-parquet.ts';

const bin = fileURLToPath(new URL('../../bin/unirl.js', import.meta.url));

test('unirl export writes the asked files into --out from --data-dir; bad flags are usage errors', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'unirl-cli-export-'));
  try {
    const { runId } = seedRolloutGroups(dataDir, { groups: 2, groupSize: 3 });
    const out = join(dataDir, 'out');
    const run = spawnSync(
      process.execPath,
      [bin, 'export', '--run', String(runId), '--format', 'rollouts', '--out', out, '--data-dir', dataDir],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /rollouts\.parquet\s+6 rows/);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.deepEqual(manifest.formats, ['rollouts']);
    assert.equal(readParquetFile(join(out, 'rollouts.parquet')).rows.length, 6);

    const bad = spawnSync(
      process.execPath,
      [bin, 'export', '--run', String(runId), '--format', 'parquet', '--out', out, '--data-dir', dataDir],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--format must be one of rollouts, pairs/);
    const missing = spawnSync(process.execPath, [bin, 'export', '--run', '999', '--out', out, '--data-dir', dataDir], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /run 999 not found/);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
