// The review screens on runs a real nano trainer wrote (no hand-made rows): the Reflections timeline
// with its prompts, clean critiques, marks and filters; and run status reaching every open screen
// through events, with no reload.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { Store } from '../../db/index.ts';
import { withStore } from './fixtures.ts';
import { trainJob } from '../../main/rl/job.ts';
import { pairedComparison } from '../../main/world/paired.ts';
import { startHarness, unlabelledControls, type Harness } from './harness.ts';

let h: Harness;
let reflectRunId: number;
let editRunId: number;
let t2iRunId: number;
const quiet = { progress: () => {}, checkCancelled: () => {} };

before(async () => {
  h = await startHarness({
    async prepare(dataDir) {
      reflectRunId = (await trainJob({ dataDir, scenario: 'reflect', nano: true, runName: 'nano reflect' }, quiet)).runId;
      editRunId = (await trainJob({ dataDir, scenario: 'edit', nano: true, runName: 'nano edit' }, quiet)).runId;
      // Every checkpoint kept (the default storage policy keeps the latest 2): the Evaluation screen lists all three.
      t2iRunId = (
        await trainJob(
          {
            dataDir,
            scenario: 't2i',
            nano: true,
            runName: 'nano t2i',
            config: { steps: 3, eval: { every: 1 }, storage: { keepLatest: 3 } },
          },
          quiet,
        )
      ).runId;
    },
  });
});
after(async () => {
  await h?.close();
});

const readStore = <T>(fn: (store: Store) => T): T => withStore(h.server.dataDir, fn);

/** Format tags of the model's text formats (main/models/formats.ts), which no screen should show. */
const RAW_TAG = /<\/?(think|answer|eos|bos|critique|generate|edit|pad|img|question|caption|unk)>/;

test('reflections: every cycle of a real run under its prompt, critiques without tags, verdicts, marks and filters', async () => {
  const { page } = h;
  const stored = readStore((store) =>
    store.groups
      .list({ runId: reflectRunId, limit: 100 })
      .items.flatMap((g) => store.reflections.forGroup(g.id).map((c) => ({ prompt: g.prompt, cycle: c }))),
  );
  assert.ok(stored.length >= 8 && stored.length <= 20, `${stored.length} cycles fit one page`);
  assert.ok(
    stored.some((s) => s.cycle.rounds.some((r) => RAW_TAG.test(r.critique))),
    'the stored completions carry format tags',
  );

  await h.open(`reflections/${reflectRunId}`, 'Reflections');
  await page.getByText(`${stored.length} cycles`).waitFor();
  const cards = page.getByRole('listitem', { name: /^Cycle \d+$/ });
  assert.equal(await cards.count(), stored.length);
  for (const { prompt, cycle } of stored) {
    const card = page.getByRole('listitem', { name: `Cycle ${cycle.id}`, exact: true });
    const text = await card.innerText();
    assert.ok(text.includes(`“${prompt}”`), `cycle ${cycle.id} shows its prompt "${prompt}"`);
    assert.match(text, /First image[\s\S]*scorer:[\s\S]*Round 1 · critique/);
    assert.equal(await card.getByRole('group', { name: /^Your mark on the critique of round/ }).count(), cycle.rounds.length);
    assert.equal(await card.getByRole('img').count(), 1 + cycle.rounds.filter((r) => r.refinedSampleId !== null).length);
  }
  const shown = await page.locator('main').innerText();
  assert.doesNotMatch(shown, RAW_TAG, 'no raw format tags on the screen');
  // The first cycle's images load (the rest load lazily as they scroll in).
  await page.waitForFunction(() =>
    [...document.querySelectorAll('main li[aria-label^="Cycle"]:first-child img')].every(
      (img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0,
    ),
  );
  await h.screenshot('reflections-nano');

  // A mark lands in SQLite and moves its cycle under "Critique marked wrong".
  const { cycle } = stored[1]!;
  const card = page.getByRole('listitem', { name: `Cycle ${cycle.id}`, exact: true });
  const marks = card.getByRole('group', { name: 'Your mark on the critique of round 1' });
  await marks.getByRole('button', { name: 'Critique wrong' }).click();
  await marks.getByText('0 right · 1 wrong (me)').waitFor();
  assert.equal(await marks.getByRole('button', { name: 'Critique wrong' }).getAttribute('aria-pressed'), 'true');
  assert.deepEqual(
    readStore((store) => store.reflections.get(cycle.id).rounds[0]!.marks.map((m) => [m.annotator, m.correct])),
    [['me', false]],
  );
  await page.getByRole('radio', { name: 'Critique marked wrong' }).check();
  await page.getByText('1 cycles · Critique marked wrong').waitFor();
  assert.equal(await cards.count(), 1);
  assert.equal(await cards.first().getAttribute('aria-label'), `Cycle ${cycle.id}`);
  // The other filters count what the stored verdicts say.
  const disagreeing = stored.filter((s) => s.cycle.rounds.some((r) => r.verdict !== r.scorerVerdict)).length;
  await page.getByRole('radio', { name: 'LM and scorer disagree' }).check();
  await page
    .getByText(disagreeing === 0 ? 'No cycle is “LM and scorer disagree”.' : `${disagreeing} cycles · LM and scorer disagree`)
    .waitFor();
  await page.getByRole('radio', { name: 'All cycles' }).check();
  await page.getByText(`${stored.length} cycles ·`).waitFor();
  assert.deepEqual(await unlabelledControls(page), []);
  assert.deepEqual(h.pageErrors, []);
});

test("edits: a card per group by step with the five stages once and every sample's edit, reconstruction and scores", async () => {
  const { page } = h;
  const groups = readStore((store) =>
    store.groups
      .list({ runId: editRunId, limit: 50, order: 'desc' })
      .items.map((g) => ({ group: g, edits: store.edits.forGroup(g.id), members: store.samples.members(g.id) })),
  );
  assert.ok(groups.length >= 2 && groups.every((g) => g.edits.length === g.group.groupSize), 'every member has its edit');
  await h.open(`edits/${editRunId}`, 'Edits');
  await page.getByText(`${groups.length} groups, newest step first`).waitFor();
  const cards = page.getByRole('listitem', { name: /^Edit group \d+$/ });
  assert.deepEqual(
    await cards.evaluateAll((els) => els.map((el) => el.getAttribute('aria-label'))),
    groups.map((g) => `Edit group ${g.group.id}`),
  );
  for (const { group, edits, members } of groups) {
    const card = page.getByRole('listitem', { name: `Edit group ${group.id}`, exact: true });
    const text = await card.innerText();
    assert.match(text, new RegExp(`Step ${group.step} · group #${group.id}`));
    const quoted = (s: string) => text.includes(`“${s}”`);
    assert.ok(quoted(edits[0]!.instruction) && quoted(edits[0]!.inverseInstruction), 'both instructions, once');
    assert.equal(text.split(edits[0]!.instruction).length - 1, 1);
    const rows = card.getByRole('row').filter({ has: page.getByRole('img') });
    assert.equal(await rows.count(), edits.length);
    // Source once, then edited and reconstruction per sample.
    assert.equal(await card.getByRole('img').count(), 1 + 2 * edits.length);
    const first = await rows.first().innerText();
    const member = members.find((m) => m.id === edits[0]!.editedSampleId)!;
    for (const value of [edits[0]!.compliance, edits[0]!.preservation, edits[0]!.cycleScore, member.reward])
      assert.ok(first.includes(value!.toFixed(3)), `${value} in ${first}`);
  }
  await page.waitForFunction(() =>
    [...document.querySelectorAll('main li[aria-label^="Edit group"]:first-child img')].every(
      (img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0,
    ),
  );
  await h.screenshot('edits-nano');
  assert.deepEqual(await unlabelledControls(page), []);
  assert.deepEqual(h.pageErrors, []);
});

test("rollouts: a sample's details show every trajectory, with the images made from it (refinements, reconstruction)", async () => {
  const { page } = h;
  for (const [runId, title] of [
    [reflectRunId, /^Refined image \d+ · id \d+$/],
    [editRunId, /^Reconstruction \(the inverse edit\) · id \d+$/],
  ] as const) {
    // The viewer opens on the newest group; pick a member of it that has images made from it.
    const { member, made } = readStore((store) => {
      const group = store.groups.list({ runId, limit: 1, order: 'desc' }).items[0]!;
      const member = store.samples.members(group.id).find((s) => store.samples.derived(s.id).length > 0)!;
      return { member, made: store.samples.derived(member.id) };
    });
    await h.open(`rollouts/${runId}`, 'Rollouts');
    await page.getByRole('button', { name: `Details of sample ${member.index + 1}`, exact: true }).click();
    const details = page.getByRole('region', { name: 'Sample details' });
    await details.waitFor();
    const sections = details.getByRole('region', { name: title });
    await sections.first().waitFor();
    assert.equal(await sections.count(), made.length, `every image made from sample ${member.id}`);
    assert.equal(
      await sections.first().getByRole('heading').first().innerText(),
      `${(await sections.first().getAttribute('aria-label'))!}`,
    );
    assert.ok((await sections.first().getAttribute('aria-label'))!.endsWith(`id ${made[0]!.id}`));
    await sections.first().getByRole('img').first().waitFor();
    await sections
      .first()
      .getByText(runId === editRunId ? 'Denoising (reverse)' : 'Denoising (refine1)')
      .waitFor();
  }
  assert.deepEqual(h.pageErrors, []);
});

test("dashboard: only the charts the run has, other runs overlaid, and a held-out prompt's image across the steps", async () => {
  const { page } = h;
  await h.open(`dashboard/${t2iRunId}`, 'Dashboard');
  await page.getByRole('figure', { name: 'Chart: Evaluation score' }).waitFor();
  const titles = await page.getByRole('figure').evaluateAll((els) => els.map((el) => el.getAttribute('aria-label')));
  assert.ok(titles.includes('Chart: Reward per component'), titles.join());
  assert.ok(!titles.includes('Chart: human'), 'no human chart on a run without human feedback');
  assert.ok(
    readStore((store) => store.metrics.names(t2iRunId)).includes('human/replayed_groups'),
    'although the trainer logged the counter',
  );

  // The held-out slider: one prompt's image at each evaluation step (3), newest first shown.
  const evaluations = readStore((store) => store.evaluations.list(t2iRunId));
  assert.equal(evaluations.length, 3);
  const heldOut = page.getByRole('region', { name: 'Held-out prompt across training' });
  const slider = heldOut.getByRole('slider');
  await slider.waitFor();
  assert.equal(await slider.getAttribute('aria-valuetext'), 'step 3');
  const strip = heldOut.getByRole('list', { name: "The prompt's image at every evaluation step" });
  assert.equal(await strip.getByRole('button').count(), 3);
  const prompt = await heldOut.getByRole('combobox').inputValue();
  const firstStep = readStore((store) => {
    const evaluation = evaluations.find((e) => e.summary!.step === 1)!;
    return store.evaluations
      .results({ evaluationId: evaluation.id, failuresFirst: false, limit: 100 })
      .items.find((r) => r.prompt === prompt)!;
  });
  await slider.fill('0');
  await heldOut.getByText('step 1 · scorer').waitFor();
  const src = await heldOut.getByRole('img', { name: `“${prompt}” at step 1` }).getAttribute('src');
  assert.ok(src!.endsWith(`/media/eval-result/${firstStep.id}.png`), src!);
  await strip.getByRole('button', { name: 'Show step 2' }).click();
  assert.equal(await slider.getAttribute('aria-valuetext'), 'step 2');

  // Up to six runs on one chart: the overlay is part of the link.
  await page.getByText(/^Compare with/).click();
  const picker = page.getByRole('group', { name: 'Runs to compare with' });
  await picker.getByLabel(`#${reflectRunId} nano reflect`).check();
  await picker.getByLabel(`#${editRunId} nano edit`).check();
  await page.waitForFunction((ids) => location.hash === `#/dashboard/${ids.join('/')}`, [t2iRunId, reflectRunId, editRunId]);
  const reward = page.getByRole('figure', { name: 'Chart: Reward per component' });
  for (const id of [t2iRunId, reflectRunId, editRunId])
    await reward
      .getByText(new RegExp(`^#${id} reward/mean`))
      .first()
      .waitFor();
  await h.screenshot('dashboard-nano', { fullPage: true });
  assert.deepEqual(await unlabelledControls(page), []);
  assert.deepEqual(h.pageErrors, []);
});

test(
  'runs: continue a completed run, rename, clone its config into the form, ' + 'compare runs, delete with its files after asking',
  async () => {
    const { page } = h;
    await h.open('runs', 'Runs');
    await page.getByLabel('Run name').fill('to manage');
    await page.getByLabel('Scenario').selectOption('t2i');
    await page.getByLabel('Model').selectOption('nano');
    await page.getByRole('button', { name: 'Create run' }).click();
    const heading = page.getByRole('heading', { name: /^#\d+ to manage$/ });
    await heading.waitFor();
    const runId = Number(/#(\d+)/.exec(await heading.innerText())![1]);
    const detail = page.getByRole('region', { name: `#${runId} to manage` });
    await detail.getByRole('button', { name: 'Start' }).click();
    await detail.locator('.badge', { hasText: /^completed$/ }).waitFor({ timeout: 60_000 });

    // Continue: two more steps on the completed run.
    await detail.getByLabel('Train on to step').fill('4');
    await detail.getByRole('button', { name: 'Continue' }).click();
    await detail.getByText('step 4 of 4').waitFor({ timeout: 60_000 });
    await detail.locator('.badge', { hasText: /^completed$/ }).waitFor({ timeout: 60_000 });
    const continued = readStore((store) => store.runs.get(runId));
    assert.equal(continued.step, 4);
    assert.equal((continued.config as { steps: number }).steps, 4);
    assert.deepEqual(
      readStore((store) => store.groups.steps(runId)),
      [1, 2, 3, 4],
    );

    // Rename.
    await detail.getByRole('button', { name: 'Rename' }).click();
    await detail.getByLabel('New name').fill('managed run');
    await detail.getByRole('button', { name: 'Save name' }).click();
    await page.getByRole('heading', { name: `#${runId} managed run` }).waitFor();
    assert.equal(
      readStore((store) => store.runs.get(runId).name),
      'managed run',
    );
    await page.getByRole('row').filter({ hasText: 'managed run' }).waitFor();

    // Clone: the form takes the run's config; the new run is created with it.
    const managed = page.getByRole('region', { name: `#${runId} managed run` });
    await managed.getByRole('button', { name: 'Clone' }).click();
    assert.equal(await page.getByLabel('Run name').inputValue(), 'managed run (copy)');
    assert.equal(await page.getByLabel('Model').inputValue(), 'nano');
    await page.getByText(`Cloned from run #${runId}`).waitFor();
    await page.getByRole('button', { name: 'Create run' }).click();
    const cloneHeading = page.getByRole('heading', { name: /^#\d+ managed run \(copy\)$/ });
    await cloneHeading.waitFor();
    const cloneId = Number(/#(\d+)/.exec(await cloneHeading.innerText())![1]);
    const [original, clone] = readStore((store) => [store.runs.get(runId), store.runs.get(cloneId)]);
    assert.equal(clone.status, 'created');
    assert.deepEqual(clone.config, original.config, 'the clone trains with the same config');

    // Compare: three runs ticked, one dashboard with all three.
    for (const id of [runId, cloneId, t2iRunId]) await page.getByLabel(`Compare run #${id}`).check();
    await page.getByRole('button', { name: 'Compare 3 runs on the dashboard' }).click();
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    assert.equal(new URL(page.url()).hash, `#/dashboard/${runId}/${cloneId}/${t2iRunId}`);
    const reward = page.getByRole('figure', { name: 'Chart: Reward per component' });
    for (const id of [runId, t2iRunId])
      await reward
        .getByText(new RegExp(`^#${id} reward/mean`))
        .first()
        .waitFor();

    // Delete asks first, then removes the rows and the run's folder.
    const runDir = join(h.server.dataDir, 'runs', String(runId));
    assert.ok(existsSync(join(runDir, 'checkpoints')), 'the run wrote checkpoints');
    await h.open(`runs/${runId}`, 'Runs');
    await managed.getByRole('button', { name: 'Delete…' }).click();
    const confirm = page.getByRole('alertdialog', { name: `Confirm deleting run #${runId}` });
    await confirm.getByRole('button', { name: 'Keep it' }).click();
    assert.ok(
      readStore((store) => store.runs.find(runId)),
      'kept',
    );
    await managed.getByRole('button', { name: 'Delete…' }).click();
    await h.screenshot('runs-delete-confirm');
    await confirm.getByRole('button', { name: 'Delete for good' }).click();
    await page.getByRole('row').filter({ hasText: 'managed run' }).filter({ hasNotText: 'copy' }).waitFor({ state: 'detached' });
    assert.equal(
      readStore((store) => store.runs.find(runId)),
      null,
    );
    assert.ok(!existsSync(runDir), 'its files are gone');
    assert.deepEqual(await unlabelledControls(page), []);
    assert.deepEqual(h.pageErrors, []);
  },
);

test(
  "evaluation: the model by default, checkpoints from a list, a run's evaluations " +
    "(training's too), two checkpoints side by side with a paired standard error",
  async () => {
    const { page } = h;
    await h.open('evaluation', 'Evaluation');
    assert.equal(await page.getByLabel('Generator').inputValue(), 'model');
    const checkpoint = page.getByLabel('Checkpoint', { exact: true });
    await checkpoint.locator('option').nth(1).waitFor({ state: 'attached' });
    const labels = await checkpoint.locator('option').allInnerTexts();
    assert.equal(labels[0], 'shipped base model');
    // The run's checkpoints that storage kept (checkpoint-policy.ts prunes older ones), newest first.
    const kept = readStore((store) => store.checkpoints.list(t2iRunId).map((c) => c.step)).sort((a, b) => b - a);
    assert.ok(kept.length >= 2 && kept[0] === 3, kept.join());
    for (const step of kept) assert.ok(labels.includes(`run ${t2iRunId} "nano t2i" step ${step}`), labels.join(' | '));
    const [newest, oldest] = [kept[0], kept[kept.length - 1]!];
    await checkpoint.selectOption({ label: `run ${t2iRunId} "nano t2i" step ${newest}` });
    await page.getByLabel('Side by side with').selectOption({ label: `run ${t2iRunId} "nano t2i" step ${oldest}` });
    await page.getByLabel('Prompts (limit)').fill('1');
    await page.getByRole('button', { name: 'Start evaluation' }).click();
    const jobs = page.getByRole('listitem', { name: 'Evaluation geneval with model' });
    for (const i of [0, 1]) await jobs.nth(i).getByText('succeeded').waitFor({ timeout: 120_000 });

    // Both recorded under the run, on the same prompts; the numbers are the shared paired maths on the stored results.
    const [later, earlier] = readStore((store) =>
      store.evaluations
        .list(t2iRunId)
        .filter((e) => e.suite === 'geneval')
        .map((e) => ({
          evaluation: e,
          results: store.evaluations.results({ evaluationId: e.id, failuresFirst: false, limit: 500 }).items,
        }))
        .sort((a, b) => a.evaluation.id - b.evaluation.id),
    );
    assert.ok(later && earlier, 'two evaluations of the run');
    assert.match(later.evaluation.checkpointPath!, new RegExp(`step-0*${newest}\\.safetensors$`));
    assert.match(earlier.evaluation.checkpointPath!, new RegExp(`step-0*${oldest}\\.safetensors$`));
    assert.deepEqual(
      later.results.map((r) => [r.prompt, r.imageIndex]),
      earlier.results.map((r) => [r.prompt, r.imageIndex]),
    );
    // The records show the pair as soon as both are in.
    await page.getByLabel('Evaluation to show').locator(`option[value="${later.evaluation.id}"]`).waitFor({ state: 'attached' });
    await page.waitForFunction(
      (id) => (document.querySelector('select[aria-label="Evaluation to show"]') as HTMLSelectElement | null)?.value === String(id),
      later.evaluation.id,
    );
    const paired = page.getByRole('region', { name: 'Paired comparison' });
    const summary = paired.getByLabel('Paired difference');
    await summary.getByText(`#${later.evaluation.id}`).waitFor();
    const expected = pairedComparison(
      later.results.map((r, i) => ({
        item: `${r.task}|${r.prompt}`,
        before: Number(earlier.results[i]!.correct),
        after: Number(r.correct),
      })),
    );
    const text = await summary.innerText();
    assert.ok(
      text.includes(`± ${(expected.standardError * 100).toFixed(1)}`) &&
        text.includes(`${expected.samples} image pairs on ${expected.items} prompts`),
      text,
    );
    await paired.getByLabel('Only where the two disagree').uncheck();
    assert.equal(await paired.getByRole('listitem').count(), Math.min(60, expected.samples));
    assert.equal(await paired.getByRole('listitem').first().getByRole('img').count(), 2);

    // The run's evaluations: the two above and the three its training made.
    await page.getByLabel('Evaluations of').selectOption({ label: `run #${t2iRunId} nano t2i (5, made while it trained included)` });
    const listed = await page.getByLabel('Evaluation to show').locator('option').allInnerTexts();
    assert.equal(listed.length, 5);
    assert.equal(listed.filter((l) => /held-out · model \(during training\) \(run #\d+, step \d\)/.test(l)).length, 3, listed.join(' | '));
    await h.screenshot('evaluation-paired-nano', { fullPage: true });
    assert.deepEqual(await unlabelledControls(page), []);
    assert.deepEqual(h.pageErrors, []);
  },
);

/** The status badge of a run in the Runs page's detail panel. */
async function waitForStatus(page: Page, status: string): Promise<void> {
  await page
    .getByRole('region', { name: /^#\d+ live status$/ })
    .locator('.badge', { hasText: new RegExp(`^${status}$`) })
    .first()
    .waitFor({ timeout: 15_000 });
}

test('status reaches every open screen by event: start, pause, resume and stop, with no reload', async () => {
  const { page } = h;
  await h.open('runs', 'Runs');
  await page.getByLabel('Run name').fill('live status');
  await page.getByLabel('Scenario').selectOption('t2i');
  await page.getByLabel('Model').selectOption('nano');
  // Sync: the trainer waits for rankings before its first step ends, so only a status event can tell the screens.
  await page.getByLabel('Human feedback').selectOption('sync');
  await page.getByRole('button', { name: 'Create run' }).click();
  await page.getByRole('heading', { name: /^#\d+ live status$/ }).waitFor();
  const runId = Number(/#(\d+)/.exec(await page.getByRole('heading', { name: /^#\d+ live status$/ }).innerText())![1]);

  // A second window on the same run.
  const other = await h.context.newPage();
  try {
    await other.goto(`${h.server.url}#/runs/${runId}`);
    await waitForStatus(other, 'created');
    await page.getByRole('button', { name: 'Start' }).click();
    for (const p of [page, other]) await waitForStatus(p, 'running');
    assert.equal(
      readStore((store) => store.runs.get(runId).step),
      0,
      'running before any step ended',
    );
    await other.getByRole('button', { name: 'Pause' }).click();
    for (const p of [page, other]) await waitForStatus(p, 'paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    for (const p of [page, other]) await waitForStatus(p, 'running');
    await page.getByRole('button', { name: 'Stop' }).click();
    for (const p of [page, other]) await waitForStatus(p, 'stopped');
    assert.equal(
      readStore((store) => store.runs.get(runId).status),
      'stopped',
    );
  } finally {
    await other.close();
  }
  assert.deepEqual(h.pageErrors, []);
});
