// Human feedback reaches the policy (issue 14), driven through the real UI against real nano runs: a sync run
// created from the form with people's default weights, ranked by keyboard, whose stored rewards carry the human
// weight and whose advantages differ from the automatic ones; a sync run whose groups are all skipped and goes
// on; a reflection run whose critique, marked on the Reflections screen, becomes a reward in a later update.
// And the form's other choices reaching the trainer: a DiffusionNFT run with global-std advantages (ranked by
// people, so that its groups differ) logs what only that objective logs; Flow-GRPO's SDE window is stored.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../db/index.ts';
import { groupAdvantages } from '../../main/rl/advantages.ts';
import { advantageOptions, parseTrainConfig } from '../../main/rl/config.ts';
import { meanStd } from '../../main/rl/stats.ts';
import type { TrainConfig } from '../../main/rl/config.ts';
import { humanPart } from '../../main/rl/feedback.ts';
import { withStore } from './fixtures.ts';
import { startHarness, unlabelledControls, type Harness } from './harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.close();
});

const read = <T>(fn: (store: Store) => T): T => withStore(h.server.dataDir, fn);

/** Fills the new-run form (`choose` sets more fields) and creates the run; returns its id. */
async function createRun(
  name: string,
  scenario: string,
  human: 'off' | 'sync',
  steps: number,
  { promptsPerStep, choose }: { promptsPerStep?: number; choose?: () => Promise<void> } = {},
): Promise<number> {
  const { page } = h;
  await h.open('runs', 'Runs');
  await page.getByLabel('Run name').fill(name);
  await page.getByLabel('Scenario').selectOption(scenario);
  await page.getByLabel('Model').selectOption('nano');
  await page.getByLabel('Human feedback').selectOption(human);
  await page.getByLabel('Steps', { exact: true }).fill(String(steps));
  if (promptsPerStep !== undefined) await page.getByLabel('Prompts per step').fill(String(promptsPerStep));
  await choose?.();
  await page.getByRole('button', { name: 'Create run' }).click();
  const row = page.getByRole('row').filter({ hasText: name });
  await row.waitFor();
  return Number((await row.getByRole('cell').first().innerText()).trim());
}

async function start(runId: number): Promise<void> {
  await h.open(`runs/${runId}`, 'Runs');
  await h.page.getByRole('button', { name: 'Start' }).click();
}

/** Answers every group the Ranking screen shows with `keys` until the run completes. */
async function answerUntilDone(runId: number, keys: string[], label: string): Promise<void> {
  const { page } = h;
  await h.open('ranking', 'Ranking');
  const deadline = Date.now() + 150_000;
  for (;;) {
    const status = read((s) => s.runs.get(runId).status);
    if (status === 'completed') return;
    assert.ok(status !== 'failed' && Date.now() < deadline, `${label}: run ${runId} is ${status}`);
    const samples = page.getByRole('list', { name: 'Samples in display order' });
    if (!(await samples.isVisible().catch(() => false))) {
      await page.waitForTimeout(300);
      continue;
    }
    // The group may leave between the two looks (the run finished its last step): look again.
    const prompt = await page
      .getByRole('region', { name: 'Prompt' })
      .innerText({ timeout: 5_000 })
      .catch(() => null);
    if (prompt === null) continue;
    for (const key of keys) await page.keyboard.press(key);
    // The next group (or the empty queue) replaces this one.
    for (
      let i = 0;
      i < 40 &&
      (await page
        .getByRole('region', { name: 'Prompt' })
        .innerText()
        .catch(() => '')) === prompt;
      i++
    )
      await page.waitForTimeout(100);
  }
}

test('a sync run created from the form waits for people; keyboard rankings weigh in its rewards and change its advantages', async () => {
  const { page } = h;
  await h.open('runs', 'Runs');
  await page.getByLabel('Model').selectOption('nano');
  await page.getByLabel('Human feedback').selectOption('sync');
  assert.equal(await page.getByLabel('Weight of humanRank').inputValue(), '0.25', 'sync mode gives rankings their default weight');
  await page.getByText('Advanced: the resolved config').click();
  await h.screenshot('run-form', { fullPage: true });
  await page.getByLabel('Weight of humanRank').fill('0');
  await page.getByLabel('Weight of preference').fill('0');
  await page.getByLabel('Run name').fill('refused');
  await page
    .getByRole('alert', { name: 'Config problem' })
    .filter({ hasText: /'sync' waits for people's rankings, but their weight is 0/ })
    .waitFor();
  assert.ok(
    await page.getByRole('button', { name: 'Create run' }).isDisabled(),
    'a wait for rankings that weigh nothing cannot be created',
  );
  await h.screenshot('run-form-refused');

  const runId = await createRun('nano ranked by people', 't2i', 'sync', 2);
  const config = read((s) => s.runs.get(runId).config) as { rewards: Record<string, number> };
  assert.equal(config.rewards.humanRank, 0.25);
  await start(runId);

  await h.open('ranking', 'Ranking');
  await page.getByRole('status', { name: `Run ${runId} waiting` }).waitFor({ timeout: 60_000 });
  await page.getByRole('list', { name: 'Samples in display order' }).waitFor();
  await h.screenshot('ranking-sync-waiting');
  // Rank by keyboard: 1..4 in display order, then Enter.
  await answerUntilDone(runId, ['1', '2', '3', '4', 'Enter'], 'ranking');
  await page
    .getByRole('region', { name: 'What your last ranking did' })
    .getByLabel('advantage before and after')
    .first()
    .waitFor({ timeout: 20_000 });
  await h.screenshot('ranking-effect', { fullPage: true });

  read((store) => {
    const groups = store.groups.list({ runId, limit: 50 }).items;
    assert.ok(groups.length >= 4 && groups.every((g) => g.rankingStatus === 'ranked'), groups.map((g) => g.rankingStatus).join());
    let differ = 0;
    // t2i's preset normalises by the spread of the whole step's (automatic) rewards.
    const { loss } = parseTrainConfig(store.runs.get(runId).config);
    assert.equal(loss.advantage, 'globalStd');
    const automaticOf = (groupId: number) => store.samples.members(groupId).map((s) => s.reward - humanPart(s.rewards));
    for (const group of groups) {
      const members = store.samples.members(group.id);
      for (const s of members) {
        const human = s.rewards.find((r) => r.name === 'humanRank');
        assert.ok(human && human.weight === 0.25, `sample ${s.id} carries the human weight: ${JSON.stringify(s.rewards)}`);
      }
      const batchStd = meanStd(groups.filter((g) => g.step === group.step).flatMap((g) => automaticOf(g.id))).std;
      const automatic = groupAdvantages(automaticOf(group.id), { ...advantageOptions(loss), batchStd }).advantages;
      if (members.some((s, k) => Math.abs(s.advantage! - automatic[k]!) > 1e-6)) differ++;
    }
    assert.ok(differ >= 1, 'rankings changed the advantages of ranked groups');
  });
  assert.deepEqual(h.pageErrors, []);
});

test('sync mode: skipping every group releases it and the run goes on to the end', async () => {
  const { page } = h;
  const runId = await createRun('nano skipped', 't2i', 'sync', 2);
  await start(runId);
  await answerUntilDone(runId, ['s'], 'skipping');
  read((store) => {
    const groups = store.groups.list({ runId, limit: 50 }).items;
    assert.ok(groups.length >= 4);
    assert.deepEqual(
      groups.map((g) => g.queueClosed),
      groups.map(() => 'released'),
    );
    assert.ok(groups.every((g) => store.samples.members(g.id).every((s) => !s.rewards.some((r) => r.name === 'humanRank'))));
  });
  await h.open('ranking', 'Ranking');
  await page.getByText('Nothing to rank').waitFor();
  assert.doesNotMatch(await page.locator('main').innerText(), /You ranked \d+ this session/, 'skips are not counted as rankings');
  assert.deepEqual(h.pageErrors, []);
});

test('a critique marked on the Reflections screen is a reward in the next update', async () => {
  const { page } = h;
  // Steps of 12 prompts last long enough (even on a fast machine) for the mark to land while its group is
  // still fresh (human.stalenessLimit steps); the run is stopped once the mark has reached an update.
  const runId = await createRun('nano reflect marked', 'reflect', 'off', 200, { promptsPerStep: 12 });
  await start(runId);
  const note = page.getByRole('note', { name: 'What a mark does' });
  for (let i = 0; !(await note.isVisible().catch(() => false)); i++) {
    assert.ok(i < 300, 'no reflection cycle showed up');
    await h.open(`reflections/${runId}`, 'Reflections');
    await page.waitForTimeout(500);
  }
  assert.match(await note.innerText(), /critiqueMark weight, 0.5 in this run/);
  // The list holds still while the run trains: a person brings in the newest cycles and marks one that
  // says a mark still trains it.
  const fresh = page.getByRole('listitem', { name: /^Cycle \d+$/ }).filter({ hasText: 'a mark now trains this group again' });
  let cycle = '';
  for (let attempt = 0; ; attempt++) {
    assert.ok(attempt < 20, 'no fresh cycle could be marked');
    const newest = page.getByRole('button', { name: 'Show the newest cycles' });
    if (await newest.isVisible()) await newest.click();
    cycle =
      (await fresh
        .first()
        .getAttribute('aria-label', { timeout: 3000 })
        .catch(() => null)) ?? '';
    if (!cycle) continue;
    const marks = page
      .getByRole('listitem', { name: cycle, exact: true })
      .getByRole('group', { name: 'Your mark on the critique of round 1' });
    if (
      await marks
        .getByRole('button', { name: 'Critique wrong' })
        .click({ timeout: 3000 })
        .then(
          () => true,
          () => false,
        )
    )
      break;
  }
  const marks = page
    .getByRole('listitem', { name: cycle, exact: true })
    .getByRole('group', { name: 'Your mark on the critique of round 1' });
  await marks.getByText(/0 right · 1 wrong/).waitFor();
  const markedAt = read((s) => s.runs.get(runId).step);
  const stored = read((s) => (s.db.prepare('SELECT count(*) AS n FROM critique_marks').get() as { n: number }).n);
  assert.equal(stored, 1, 'the mark is stored');
  await h.screenshot('reflections-marked', { fullPage: true });

  // The next step applies the mark (stored reward) and trains the group again (its metrics row).
  const deadline = Date.now() + 150_000;
  for (;;) {
    await page.waitForTimeout(500);
    const seen = read((store) => {
      const marked = store.db
        .prepare(
          `SELECT c.sample_id AS id FROM critique_marks m JOIN reflection_rounds r ON r.id = m.round_id
         JOIN reflection_cycles c ON c.id = r.cycle_id`,
        )
        .get() as { id: number };
      const sample = store.samples.get(marked.id);
      const reward = sample.rewards.find((r) => r.name === 'critiqueMark');
      const replayed = store.metrics.series({ runId, names: ['human/replayed_groups'] })[0]!;
      const replays = replayed.steps.filter((step, i) => step > markedAt && replayed.values[i]! >= 1);
      const groupStep = store.groups.get(sample.groupId).step;
      const run = store.runs.get(runId);
      return { reward, replays, groupStep, runStep: run.step, status: run.status };
    });
    assert.ok(Date.now() < deadline, `the mark did not reach an update: ${JSON.stringify({ ...seen, markedAt })} (human.stalenessLimit 4)`);
    if (!seen.reward || seen.replays.length === 0) continue;
    assert.deepEqual(seen.reward, { name: 'critiqueMark', value: -1, weight: 0.5 });
    break;
  }
  await h.open(`runs/${runId}`, 'Runs');
  await page.getByRole('button', { name: 'Stop' }).click();
  assert.deepEqual(h.pageErrors, []);
});

test('the DM objective and the advantages chosen in the form train the run; Clone takes them back', async () => {
  const { page } = h;
  await h.open('runs', 'Runs');
  // Text reasoning trains the LM only: advantages to choose, no DM objective.
  await page.getByLabel('Scenario').selectOption('text');
  await page.getByLabel('Advantages').waitFor();
  assert.equal(await page.getByLabel('DM objective').count(), 0);

  // Random nano weights draw nothing ShapeEval can score: every group's rewards tie and nothing would train.
  // People's rankings give the groups their spread (sync: each step waits for them).
  const runId = await createRun('nano nft', 't2i', 'sync', 2, {
    choose: async () => {
      // t2i's preset is bench:rl's winner: DiffusionNFT with global-std advantages.
      assert.equal(await page.getByLabel('DM objective').inputValue(), 'nft', 'the preset');
      assert.equal(await page.getByLabel('Advantages').inputValue(), 'globalStd', 'the preset');
      await page.getByText("÷ the std of the whole step's rewards").waitFor();
      await page.getByLabel('DM objective').selectOption('flowGrpo');
      await page.getByLabel('SDE window').waitFor();
      await page.getByLabel('DM objective').selectOption('nft');
      assert.equal(await page.getByLabel('SDE window').count(), 0, 'no window for an objective without SDE likelihoods');
      assert.equal(await page.getByLabel('NFT beta').inputValue(), '1');
      // Every trainable denoising step instead of the preset's 0.6 of them.
      assert.equal(await page.getByLabel('Denoising steps trained (share)').inputValue(), '0.6', 'the preset');
      await page.getByLabel('Denoising steps trained (share)').fill('1');
      await page.getByLabel('Advantages').selectOption('winRate');
      await page.getByText('the share of its group a sample beats').waitFor();
      await page.getByRole('group', { name: 'Optimisation' }).scrollIntoViewIfNeeded();
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await h.screenshot('run-form-objectives');
    },
  });
  const config = read((s) => s.runs.get(runId).config) as TrainConfig;
  assert.deepEqual(
    [config.loss.dm.objective, config.loss.advantage, config.rollout.sdeWindow, config.rollout.timestepFraction],
    ['nft', 'winRate', null, 1],
  );
  await start(runId);
  await answerUntilDone(runId, ['1', '2', '3', '4', 'Enter'], 'ranking the NFT run');
  // old_deviation (v_old against v_theta) is a metric only DiffusionNFT's term logs.
  const names = read((s) => s.metrics.names(runId));
  assert.ok(names.includes('old_deviation/dm'), `the trainer ran DiffusionNFT: ${names.join(', ')}`);
  // The share reached the update: all of the trajectory's steps but the last (the preset's 0.6 trains fewer).
  const trained = read((s) => s.metrics.series({ runId, names: ['update/dm_steps_per_sample'] })[0]!.values);
  assert.ok(trained.length > 0 && trained.every((n) => n === config.rollout.sdeSteps - 1), `steps trained per sample: ${trained}`);
  assert.ok(Math.round(0.6 * (config.rollout.sdeSteps - 1)) < config.rollout.sdeSteps - 1, 'the preset would train fewer');

  // Clone fills the choices back; Flow-GRPO with a fixed 2-step window from step 1 is stored as such.
  await h.open(`runs/${runId}`, 'Runs');
  await page
    .getByRole('region', { name: `#${runId} nano nft` })
    .getByRole('button', { name: 'Clone' })
    .click();
  await page.getByText(`Cloned from run #${runId}`).waitFor();
  const shown = [await page.getByLabel('DM objective').inputValue(), await page.getByLabel('Advantages').inputValue()];
  assert.deepEqual(shown, ['nft', 'winRate']);
  await page.getByLabel('DM objective').selectOption('flowGrpo');
  await page.getByLabel('SDE window').selectOption('fixed');
  await page.getByLabel('Window size (steps)').fill('4');
  await page.getByLabel('Window start (0 = first step)').fill('1');
  const tooLong = /SDE window \(start 1, size 4\) ends after the trajectory's 4 steps/;
  await page.getByRole('alert', { name: 'Config problem' }).filter({ hasText: tooLong }).waitFor();
  await page.getByLabel('Window size (steps)').fill('2');
  await page.getByLabel('Run name').fill('nano windowed');
  await page.getByRole('button', { name: 'Create run' }).click();
  await page.getByRole('row').filter({ hasText: 'nano windowed' }).waitFor();
  const windowed = read((s) => s.runs.list().find((r) => r.name === 'nano windowed')!.config) as TrainConfig;
  const stored = [windowed.loss.dm.objective, windowed.loss.advantage, windowed.rollout.sdeWindow];
  assert.deepEqual(stored, ['flowGrpo', 'winRate', { size: 2, start: 1 }]);
  assert.deepEqual(await unlabelledControls(page), []);
  assert.deepEqual(h.pageErrors, []);
});
