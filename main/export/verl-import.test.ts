import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePng, openStore, resolveDataDir } from '../../db/index.ts';
import { toUint8 } from '../world/image.ts';
import { renderScene } from '../world/render.ts';
import { Rng } from '../world/rng.ts';
import { sampleScene } from '../world/scene.ts';
import { importVerlRollouts, promptOfInput } from './verl-import.ts';

const bin = fileURLToPath(new URL('../../bin/unirl.js', import.meta.url));

function withDump(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'unirl-verl-dump-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeImage(dir: string, name: string, seed: number): void {
  const image = toUint8(renderScene(sampleScene(new Rng(seed), 1), { width: 32 }));
  writeFileSync(join(dir, name), encodePng(image.data, image.width, image.height));
}

function line(fields: Record<string, unknown>): string {
  return JSON.stringify({ input: 'a red circle', output: 'x.png', gts: '', score: 0.5, step: 1, ...fields });
}

test('promptOfInput takes the last user turn of a chat-templated input, and plain text as it is', () => {
  assert.equal(
    promptOfInput('<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\na red circle<|im_end|>\n<|im_start|>assistant\n'),
    'a red circle',
  );
  assert.equal(promptOfInput('  two blue squares '), 'two blue squares');
});

test('a dump imports step by step into groups by prompt; with --run it adds to that run', () =>
  withDump((dir) => {
    for (const [i, name] of ['a.png', 'b.png', 'c.png', 'd.png'].entries()) writeImage(dir, name, i);
    writeFileSync(
      join(dir, '2.jsonl'),
      [
        line({ input: 'two blue squares', output: 'a.png', score: 1, shapeeval: 1 }),
        line({ input: 'two blue squares', image: 'b.png', output: 'I drew two squares', score: 0.25, shapeeval: 0.25 }),
        line({ input: 'a red circle', output: 'c.png', score: 0 }),
      ]
        .map((l) => l.replace('"step":1', '"step":2'))
        .join('\n'),
    );
    writeFileSync(join(dir, '10.jsonl'), line({ output: 'd.png', score: 0.75, step: 10 }) + '\n');
    writeFileSync(join(dir, 'notes.txt'), 'not a step file');
    const store = openStore(':memory:');
    const first = importVerlRollouts(store, { dir, name: 'cluster run 1' });
    assert.deepEqual([first.steps, first.groups, first.samples, first.queued], [[2, 10], 3, 4, 1]);
    const run = store.runs.get(first.runId);
    assert.deepEqual([run.name, run.scenario, run.status, run.step], ['cluster run 1', 't2i', 'completed', 10]);
    const groups = store.groups.list({ runId: run.id }).items;
    assert.deepEqual(
      groups.map((g) => [g.step, g.prompt, g.groupSize, g.rankingStatus]),
      [
        [2, 'two blue squares', 2, 'pending'],
        [2, 'a red circle', 1, 'none'],
        [10, 'a red circle', 1, 'none'],
      ],
    );
    const [a, b] = store.samples.members(groups[0]!.id);
    assert.deepEqual(
      a!.rewards.map((c) => [c.name, c.value, c.weight]),
      [
        ['cluster', 1, 1],
        ['shapeeval', 1, 0],
      ],
    );
    assert.equal(b!.reward, 0.25);
    assert.equal(b!.text, 'I drew two squares', "an output that is not the image is kept as the sample's text");
    assert.deepEqual(a!.image, { width: 32, height: 32 });

    const again = importVerlRollouts(store, { dir, runId: run.id });
    assert.equal(again.runId, run.id);
    assert.equal(store.groups.list({ runId: run.id }).total, 6);
    store.close();
  }));

test('a bad dump is refused whole, naming the file and line', () =>
  withDump((dir) => {
    writeImage(dir, 'ok.png', 1);
    writeFileSync(join(dir, 'bad.png'), 'not a png');
    const store = openStore(':memory:');
    const cases: [string, RegExp][] = [
      [line({ output: 'missing.png' }), /1\.jsonl:2: no image: give "image"/],
      [line({ output: 'ok.png', score: 'high' }), /1\.jsonl:2: "score" must be a number/],
      [line({ output: 'bad.png' }), /1\.jsonl:2: .*bad\.png is not a PNG image/],
      ['{oops', /1\.jsonl:2: not JSON/],
    ];
    for (const [bad, error] of cases) {
      writeFileSync(join(dir, '1.jsonl'), `${line({ output: 'ok.png' })}\n${bad}\n`);
      assert.throws(() => importVerlRollouts(store, { dir }), error);
    }
    assert.equal(store.runs.list().length, 0, 'nothing is written from a dump with a bad line');
    assert.throws(() => importVerlRollouts(store, { dir: join(dir, 'nowhere') }), /no such folder/);
    rmSync(join(dir, '1.jsonl'));
    assert.throws(() => importVerlRollouts(store, { dir }), /no \{step\}\.jsonl files/);
    store.close();
  }));

test('unirl import reads a dump into --data-dir and says what came in; bad flags are usage errors', () =>
  withDump((dir) => {
    const dump = join(dir, 'dump');
    mkdirSync(dump);
    writeImage(dump, 'a.png', 1);
    writeImage(dump, 'b.png', 2);
    writeFileSync(join(dump, '3.jsonl'), [line({ output: 'a.png', step: 3 }), line({ output: 'b.png', step: 3 })].join('\n'));
    const run = spawnSync(process.execPath, [bin, 'import', '--rollouts', dump, '--data-dir', dir], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^run 1: 1 groups, 2 samples from step 3; 1 groups wait for ranking$/m);
    const store = openStore(resolveDataDir({ cliDir: dir }).dbPath);
    assert.equal(store.rankings.queueSize({ annotator: 'anyone' }), 1);
    store.close();
    const bad = spawnSync(process.execPath, [bin, 'import', '--rollouts', dump, '--run', '1', '--name', 'x', '--data-dir', dir], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /give one of them/);
    const serve = spawnSync(process.execPath, [bin, 'serve', '--reward-run', '1', '--data-dir', dir], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(serve.status, 2);
    assert.match(serve.stderr, /--reward-run needs --reward-service/);
  }));
