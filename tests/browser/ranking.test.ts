// Keyboard ranking against a real `unirl serve` whose store holds two seeded groups: the ranks
// typed on the keyboard land in SQLite, undo takes back a ranking saved on this page (never an earlier one),
// skip records a skip that is not counted as a ranking.
// Also shoots the Rollouts and Ranking screens with real ShapeWorld images.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, resolveDataDir } from '../../db/index.ts';
import type { Ranking } from '../../contract/domain.ts';
import { seedRolloutGroups, type SeededRun } from './fixtures.ts';
import { startHarness, type Harness } from './harness.ts';

let h: Harness;
let seeded: SeededRun;
before(async () => {
  h = await startHarness({
    prepare(dataDir) {
      seeded = seedRolloutGroups(dataDir, { groups: 2, groupSize: 4, seed: 7, runName: 'ranking fixture' });
    },
  });
});
after(async () => {
  await h?.close();
});

function rankingsOf(groupId: number): Ranking[] {
  const store = openStore(resolveDataDir({ cliDir: h.server.dataDir }).dbPath);
  try {
    return store.rankings.forGroup(groupId);
  } finally {
    store.close();
  }
}

/** Sample ids in the order the screen shows them (key 1 = first). */
async function displayedSampleIds(): Promise<number[]> {
  const sources = await h.page
    .getByRole('list', { name: 'Samples in display order' })
    .locator('img')
    .evaluateAll((images) => images.map((img) => (img as HTMLImageElement).getAttribute('src') ?? ''));
  return sources.map((src) => Number(/\/media\/sample\/(\d+)\.png/.exec(src)?.[1]));
}

/** Waits until the ranking screen shows the members of `groupId`. */
async function waitForGroup(groupId: number): Promise<void> {
  const members = seeded.sampleIds[seeded.groupIds.indexOf(groupId)]!;
  const deadline = Date.now() + 10_000;
  let shown: number[] = [];
  while (Date.now() < deadline) {
    shown = await displayedSampleIds();
    if (shown.length === members.length && shown.every((id) => members.includes(id))) return;
    await h.page.waitForTimeout(50);
  }
  assert.fail(`the ranking screen shows samples ${shown}, not group ${groupId}'s ${members}`);
}

test('the rollout viewer shows the seeded group with its images and rewards', async () => {
  const { page } = h;
  await h.open(`rollouts/${seeded.runId}`, 'Rollouts');
  await page.getByRole('button', { name: /^Step 2 ·/ }).waitFor();
  const grid = page.getByRole('region', { name: 'Group', exact: true });
  await grid.getByRole('img').first().waitFor();
  assert.equal(await grid.getByRole('img').count(), 4);
  // Every image actually decoded from the media endpoint.
  await page.waitForFunction(() =>
    [...document.querySelectorAll<HTMLImageElement>('section[aria-label="Group"] img')].every(
      (img) => img.complete && img.naturalWidth === 32,
    ),
  );
  assert.match(await grid.innerText(), /shapeeval/);
  await h.screenshot('rollouts');
  assert.deepEqual(h.pageErrors, []);
});

test('a group ranked by keyboard is saved with ties; undo and skip work', async () => {
  const { page } = h;
  await h.open('ranking', 'Ranking');
  // The queue holds both seeded groups, oldest first.
  const [first, second] = seeded.groupIds as [number, number];
  await waitForGroup(first);
  const shown = await displayedSampleIds();

  // 2 best, tied with 1; then 4; the remaining one (3) is last. Enter submits.
  await page.keyboard.press('2');
  await page.keyboard.press('t');
  await page.keyboard.press('1');
  await page.keyboard.press('4');
  await h.screenshot('ranking');
  await page.keyboard.press('Enter');
  await page.getByText('1 ranked by').waitFor();

  const [saved] = rankingsOf(first);
  assert.ok(saved, 'a ranking row exists for the first group');
  assert.equal(saved.skipped, false);
  const rankOf = new Map(saved.ranks.map((r) => [r.sampleId, r.rank]));
  assert.deepEqual(
    [shown[1], shown[0], shown[3], shown[2]].map((id) => rankOf.get(id!)),
    [1, 1, 3, 4],
  );

  // The second group is open now; u with nothing typed takes back the saved ranking and reopens it.
  await waitForGroup(second);
  await page.keyboard.press('u');
  await page.getByText('0 ranked by').waitFor();
  await waitForGroup(first);
  assert.deepEqual(rankingsOf(first), []);

  // s skips: recorded as a skip (not counted as a ranking), and the queue moves on.
  await page.keyboard.press('s');
  await waitForGroup(second);
  await page.getByText('0 ranked by').waitFor();
  const [skip] = rankingsOf(first);
  assert.equal(skip?.skipped, true);
  assert.deepEqual(skip?.ranks, []);

  // After a reload nothing was saved on this page: u says so and leaves the earlier skip alone.
  await page.reload();
  await waitForGroup(second);
  await page.keyboard.press('u');
  await page.getByRole('status').filter({ hasText: 'Nothing to undo' }).waitFor();
  assert.equal(rankingsOf(first)[0]?.skipped, true, 'an earlier decision is never undone silently');
  assert.deepEqual(h.pageErrors, []);
});
