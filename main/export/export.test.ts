import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { openStore } from '../../db/index.ts';
import { seedEdits, seedGroups, seedReflections } from '../../tests/browser/fixtures.ts';
import { exportRun } from './export.ts';
import { readParquetFile } from './read-parquet.ts';

function readJsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

function withExport(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'unirl-export-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('rollouts, pairs, Pick-a-Pic and raw rankings read back with their images', () =>
  withExport((dir) => {
    const store = openStore(':memory:');
    const seeded = seedGroups(store, { groups: 2, groupSize: 3, seed: 4 });
    const [a, b, c] = seeded.sampleIds[0]!;
    // ann: a > b = c (a tie); bob skips the group.
    store.rankings.submit({
      groupId: seeded.groupIds[0]!,
      annotator: 'ann',
      durationMs: 10,
      ranks: [
        { sampleId: a!, rank: 1 },
        { sampleId: b!, rank: 2 },
        { sampleId: c!, rank: 2 },
      ],
    });
    store.rankings.submit({ groupId: seeded.groupIds[0]!, annotator: 'bob', durationMs: 5, skipped: true });

    const manifest = exportRun(store, { runId: seeded.runId, format: 'all', outDir: dir });
    const onDisk = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    assert.deepEqual(
      onDisk.files.map((f: { path: string; rows: number }) => [f.path, f.rows]),
      [
        ['rollouts.parquet', 6],
        ['pairs.trl.parquet', 2],
        ['pickapic.parquet', 3],
        ['rankings.jsonl', 2],
        ['reflections.jsonl', 0],
        ['edits.jsonl', 0],
        ['verl.train.parquet', 2],
        ['unirl_reward.py', 0],
      ],
    );
    assert.equal(manifest.images, 3, 'PNG files for the ranked samples the rankings JSONL names');
    assert.equal(onDisk.imageFormat, 'png');
    assert.equal(onDisk.download, undefined, 'only the headless handler adds a download URL');
    const schemaOf = (path: string) => onDisk.files.find((f: { path: string }) => f.path === path).schema as Record<string, string>;
    assert.match(schemaOf('pairs.trl.parquet').chosen!, /^image \{bytes: binary \(PNG\), path: string\}/);
    assert.equal(schemaOf('pickapic.parquet').jpg_0, 'binary');
    assert.equal(schemaOf('rollouts.parquet').rewards, 'list<struct<name: string, value: float64, weight: float64>>');

    // Read back by an independent reader (Arrow's Rust parquet). Rollouts in long format, the image inside.
    const rollouts = readParquetFile(join(dir, 'rollouts.parquet')).rows;
    const first = rollouts.find((r) => r.sample_id === a)!;
    assert.equal(first.step, 1);
    assert.equal(first.seed, BigInt(store.samples.get(a!).seed));
    assert.deepEqual(first.human_ranks, [{ annotator: 'ann', rank: 1 }]);
    assert.deepEqual((first.rewards as { name: string; value: number }[]).find((c) => c.name === 'shapeeval')?.value, 1);
    assert.equal(PNG.sync.read(Buffer.from((first.image as { bytes: Uint8Array }).bytes)).width, 32);

    // TRL rows hold the images' PNG bytes as datasets' Image struct, and the file declares them as Image
    // features for `datasets`.
    const pairs = readParquetFile(join(dir, 'pairs.trl.parquet'));
    assert.equal(pairs.types.chosen, 'Struct<{bytes:Binary, path:Utf8}>');
    const features = JSON.parse(pairs.metadata.get('huggingface')!).info.features;
    assert.deepEqual(features.chosen, { _type: 'Image' });
    assert.deepEqual(features.prompt, { dtype: 'string', _type: 'Value' });
    // a beats b and a beats c; the tie b = c gives no row.
    type Cell = { bytes: Uint8Array; path: string };
    assert.deepEqual(
      pairs.rows.map((p) => [(p.chosen as Cell).path, (p.rejected as Cell).path]),
      [
        [`sample-${a}.png`, `sample-${b}.png`],
        [`sample-${a}.png`, `sample-${c}.png`],
      ],
    );
    assert.deepEqual(Buffer.from((pairs.rows[0]!.chosen as Cell).bytes), store.samples.imagePng(a!));
    assert.equal(pairs.rows[0]!.prompt, first.prompt);
    // Pick-a-Pic: raw image bytes like the Hub's pickapic_v2, the tie kept as 0.5 / 0.5.
    const pick = readParquetFile(join(dir, 'pickapic.parquet'));
    assert.equal(pick.types.jpg_0, 'Binary');
    assert.deepEqual(
      pick.rows.map((p) => [p.label_0, p.label_1]),
      [
        [1, 0],
        [1, 0],
        [0.5, 0.5],
      ],
    );
    assert.deepEqual(Buffer.from(pick.rows[2]!.jpg_1 as Uint8Array), store.samples.imagePng(c!));
    assert.equal(PNG.sync.read(Buffer.from(pick.rows[0]!.jpg_0 as Uint8Array)).width, 32);
    assert.equal(pick.rows[0]!.caption, rollouts[0]!.prompt);
    assert.equal(pick.rows[0]!.user_id, 'ann');

    // The manifest's schema names exactly the columns the rows have.
    assert.deepEqual(Object.keys(readJsonl(join(dir, 'rankings.jsonl'))[0]!), Object.keys(schemaOf('rankings.jsonl')));
    assert.deepEqual(Object.keys(pick.rows[0]!), Object.keys(schemaOf('pickapic.parquet')));
    assert.deepEqual(Object.keys(first), Object.keys(schemaOf('rollouts.parquet')));

    const rankings = readJsonl(join(dir, 'rankings.jsonl'));
    assert.deepEqual(
      rankings.map((r) => [r.annotator, r.skipped]),
      [
        ['ann', false],
        ['bob', true],
      ],
    );
    assert.deepEqual(
      (rankings[0]!.ranks as { rank: number }[]).map((r) => r.rank),
      [1, 2, 2],
    );
    store.close();
  }));

test('reflection cycles and edits export with every image of the cycle', () =>
  withExport((dir) => {
    const store = openStore(':memory:');
    const cycles = seedReflections(store);
    const edits = seedEdits(store);
    exportRun(store, { runId: cycles.runId, format: 'reflections', outDir: join(dir, 'r') });
    const [cycle] = readJsonl(join(dir, 'r', 'reflections.jsonl'));
    const rounds = cycle!.rounds as { judged_image: string; refined_image: string | null; critique_correct: boolean }[];
    assert.equal(rounds.length, 3);
    assert.deepEqual(
      rounds.map((r) => r.critique_correct),
      [true, false, true],
    );
    assert.equal(rounds[2]!.refined_image, null);
    for (const r of rounds) assert.ok(existsSync(join(dir, 'r', r.judged_image)), r.judged_image);
    assert.ok(!existsSync(join(dir, 'r', 'rollouts.parquet')), 'only the asked format is written');

    const reflectionSchema = JSON.parse(readFileSync(join(dir, 'r', 'manifest.json'), 'utf8')).files[0].schema;
    assert.deepEqual(Object.keys(cycle!), Object.keys(reflectionSchema));

    assert.throws(
      () => exportRun(store, { runId: edits.runId, format: 'verl', outDir: join(dir, 'v') }),
      /run \d+ \(scenario edit\): the verl export is for runs that draw images from prompts alone/,
    );
    exportRun(store, { runId: edits.runId, format: 'edits', outDir: join(dir, 'e') });
    const rows = readJsonl(join(dir, 'e', 'edits.jsonl'));
    assert.deepEqual(Object.keys(rows[0]!), Object.keys(JSON.parse(readFileSync(join(dir, 'e', 'manifest.json'), 'utf8')).files[0].schema));
    assert.equal(rows.length, 3);
    assert.match(rows[0]!.source_image as string, /^images\/edit-source-\d+\.png$/);
    for (const key of ['source_image', 'edited_image', 'reconstruction_image'])
      assert.ok(existsSync(join(dir, 'e', rows[0]![key] as string)), key);
    assert.equal(rows[0]!.instruction, store.edits.get(edits.editIds[0]!).instruction);
    store.close();
  }));

test('an unknown run is an error naming it', () =>
  withExport((dir) => {
    const store = openStore(':memory:');
    assert.throws(() => exportRun(store, { runId: 42, format: 'all', outDir: dir }), /run 42 not found/);
    store.close();
  }));
