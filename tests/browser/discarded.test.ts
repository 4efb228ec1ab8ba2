// Discarded steps in the Rollouts screen (issue 16): a real nano run killed after the checkpoint of step 2,
// while step 3's groups were stored, then resumed: step 3 is drawn again at 3, and the first step 3 is
// discarded. Hidden by default; "Show discarded steps" lists it greyed with a note saying why.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, startHarness, type Harness } from './harness.ts';

const cli = join(repoRoot, 'bin', 'unirl.js');

/** Trains a nano run with a checkpoint every 2 steps and SIGKILLs it once step 3 is reported. */
async function killedAfterStep3(dataDir: string, config: string): Promise<void> {
  const child = spawn(
    process.execPath,
    [
      cli,
      'train',
      '--scenario',
      't2i',
      '--preset',
      'nano',
      '--data-dir',
      dataDir,
      '--config',
      config,
      '--steps',
      '50',
      '--name',
      'killed and resumed',
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      if (/step 3\/50/.test(output)) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', () => reject(new Error(`the trainer ended before step 3:\n${output}`)));
  });
  await new Promise((resolve) => child.once('exit', resolve));
}

let h: Harness;
before(async () => {
  h = await startHarness({
    prepare: async (dataDir) => {
      const config = join(dataDir, 'config.json');
      writeFileSync(config, JSON.stringify({ checkpointEvery: 2 }));
      await killedAfterStep3(dataDir, config);
      const resumed = spawnSync(
        process.execPath,
        [cli, 'train', '--scenario', 't2i', '--data-dir', dataDir, '--resume', '1', '--steps', '4'],
        { cwd: repoRoot, encoding: 'utf8' },
      );
      if (resumed.status !== 0) throw new Error(`resume failed:\n${resumed.stdout}${resumed.stderr}`);
    },
  });
});
after(async () => {
  await h?.close();
});

test('a resumed run hides its discarded step; "Show discarded steps" lists it greyed, with why', async () => {
  const { page } = h;
  await h.open('rollouts/1', 'Rollouts');
  const groups = page.getByRole('navigation', { name: 'Groups' });
  await groups
    .getByRole('button', { name: /^Step 4 ·/ })
    .first()
    .waitFor();
  assert.equal(await groups.getByRole('button', { name: /\(discarded\)/ }).count(), 0, 'hidden by default');
  await page.getByText(/8 groups in 4 steps/).waitFor();

  await page.getByLabel('Show discarded steps').check();
  const discarded = groups.getByRole('button', { name: /^Step 3 \(discarded\) ·/ });
  await discarded.first().waitFor();
  assert.ok((await discarded.count()) >= 1);
  assert.ok(Number(await discarded.first().evaluate((el) => getComputedStyle(el).opacity)) < 1, 'greyed');
  await discarded.first().click();
  await page
    .getByRole('note')
    .filter({ hasText: /Discarded step: the run was killed before a checkpoint saved/ })
    .waitFor();
  await h.screenshot('rollouts-discarded');

  await page.getByLabel('Show discarded steps').uncheck();
  await page.getByText(/8 groups in 4 steps/).waitFor();
  assert.deepEqual(h.pageErrors, []);
});
