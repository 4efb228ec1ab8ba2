import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePng, renderScene, sampleSceneForSpec, Rng, specOf } from '../world/index.ts';

const bin = fileURLToPath(new URL('../../bin/unirl.js', import.meta.url));
const unirl = (...args: string[]) => spawnSync(process.execPath, [bin, 'eval', ...args], { encoding: 'utf8', timeout: 60_000 });

test('unirl eval --write-prompts, then --images on what was drawn: the per-task table and --json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unirl-eval-cli-'));
  try {
    const prompts = join(dir, 'prompts');
    const wrote = unirl('--suite', 'counting', '--write-prompts', prompts, '--limit', '3');
    assert.equal(wrote.status, 0, wrote.stderr);
    assert.match(wrote.stdout, /wrote 3 prompts \(counting\)/);
    for (const folder of readdirSync(prompts)) {
      const { spec } = specOf(JSON.parse(readFileSync(join(prompts, folder, 'metadata.jsonl'), 'utf8')), 'geneval', folder);
      writeFileSync(
        join(prompts, folder, 'samples', '0000.png'),
        encodePng(renderScene(sampleSceneForSpec(spec, new Rng(1)), { width: 80, height: 80 })),
      );
    }
    const out = join(dir, 'out.json');
    const scored = unirl('--images', prompts, '--json', out, '--jsonl', join(dir, 'images.jsonl'));
    assert.equal(scored.status, 0, scored.stderr);
    assert.match(scored.stdout, /^counting\s+3\s+3\s+1\.000/m);
    assert.equal(JSON.parse(readFileSync(out, 'utf8')).overall, 1);
    assert.equal(readFileSync(join(dir, 'images.jsonl'), 'utf8').trim().split('\n').length, 3);

    const badRule = unirl('--images', prompts, '--rule', 'lenient');
    assert.equal(badRule.status, 2);
    assert.match(badRule.stderr, /--rule must be one of geneval, strict, got "lenient"/);
    assert.match(unirl('--images', prompts, '--suite', 'geneval').stderr, /--images scores a folder of images; it takes no --suite/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
