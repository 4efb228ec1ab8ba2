import assert from 'node:assert/strict';
import type { MetricSeries } from '../contract/domain.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodePng } from './png.ts';
import { openStore } from './store.ts';
import type { Store } from './store.ts';
import { groupInput, sampleInput, seedRun, solidImage } from './test-fixtures/seed.ts';

function memStore(): Store {
  let clock = 1_000;
  return openStore(':memory:', { now: () => clock++ });
}

function count(store: Store, table: string): number {
  return (store.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}

test('runs: create, allowed transitions, refused transitions, failure reason, interrupted at startup', () => {
  const store = memStore();
  const run = store.runs.create({ name: 'first', scenario: 'cot', config: { steps: 10, nested: { a: [1, 2] } } });
  assert.equal(run.status, 'created');
  assert.deepEqual(store.runs.get(run.id).config, { steps: 10, nested: { a: [1, 2] } });
  assert.equal(store.runs.setStatus(run.id, 'running').status, 'running');
  store.runs.setStep(run.id, 7);
  assert.equal(store.runs.get(run.id).step, 7);
  assert.throws(() => store.runs.setStatus(run.id, 'created'), /run 1 cannot go from 'running' to 'created'/);
  assert.throws(() => store.runs.setConfig(run.id, {}), /its config can change only before it starts/);
  const failed = store.runs.setStatus(run.id, 'failed', 'NaN loss');
  assert.equal(failed.error, 'NaN loss');
  assert.equal(store.runs.setStatus(run.id, 'running').error, null);
  assert.deepEqual(store.runs.markInterrupted(), [run.id]);
  assert.equal(store.runs.get(run.id).status, 'interrupted');
  assert.throws(() => store.runs.create({ name: ' ', scenario: 't2i', config: {} }), /name: must be a non-empty string/);
  assert.throws(() => store.runs.create({ name: 'x', scenario: 'video' as 't2i', config: {} }), /scenario: must be one of/);
  assert.throws(() => store.runs.create({ name: 'x', scenario: 't2i', config: { lr: NaN } }), /config: holds a non-finite number/);
  assert.throws(() => store.runs.get(99), /run 99 not found/);
  store.close();
});

test('a group is written whole: samples, PNG images, rewards, typed trajectories; read back the same', () => {
  const store = memStore();
  const { runId, promptId } = seedRun(store);
  const { groupId, sampleIds } = store.groups.insert(groupInput(runId, promptId, 3, [0, 1, 0.5, 0.5], { ranking: 'pending' }));
  assert.equal(sampleIds.length, 4);
  const detail = store.groups.detail(groupId);
  assert.equal(detail.prompt, 'a red circle');
  assert.equal(detail.groupSize, 4);
  assert.equal(detail.zeroStd, false);
  assert.equal(detail.rankingStatus, 'pending');
  // totals = shapeeval + 0.5 x format(1) -> 0.5, 1.5, 1, 1: mean 1, population std sqrt(0.125)
  assert.equal(detail.rewardMean, 1);
  assert.ok(Math.abs(detail.rewardStd! - Math.sqrt(0.125)) < 1e-12);
  assert.deepEqual(
    detail.samples.map((s) => s.index),
    [0, 1, 2, 3],
  );
  assert.deepEqual(detail.samples[1]!.rewards, [
    { name: 'format', value: 1, weight: 0.5 },
    { name: 'shapeeval', value: 1, weight: 1 },
  ]);
  assert.equal(detail.samples[1]!.reward, 1.5);
  assert.deepEqual(detail.samples[1]!.image, { width: 8, height: 8 });
  const png = store.samples.imagePng(sampleIds[1]!)!;
  assert.deepEqual(decodePng(png).rgb, solidImage(8, 8, 301 % 256).rgb);
  const [lm, dm] = store.samples.trajectories(sampleIds[1]!);
  assert.ok(lm && dm, 'both trajectories read back');
  assert.equal(lm.kind, 'lm');
  assert.deepEqual(lm.tensors.tokenIds, { dtype: 'int32', shape: [5], data: Int32Array.of(1, 2, 3, 4, 301) });
  assert.equal(dm.label, 'dm');
  const means = dm.tensors.means;
  assert.ok(means, 'the DM trajectory keeps its means');
  assert.deepEqual(means.shape, [3, 4, 3]);
  assert.ok(means.data instanceof Float32Array);
  assert.equal(store.groups.insert(groupInput(runId, promptId, 3, [1, 1])).groupId > groupId, true);
  assert.equal(store.groups.find(groupId + 1)!.zeroStd, true);
  const unrewarded = groupInput(runId, promptId, 4, [1, 1]);
  unrewarded.samples.forEach((s) => delete s.rewards);
  assert.equal(store.groups.get(store.groups.insert(unrewarded).groupId).zeroStd, false, 'no rewards yet is not zero spread');
  store.close();
});

test('a group with one bad sample writes nothing at all', () => {
  const store = memStore();
  const { runId, promptId } = seedRun(store);
  const input = groupInput(runId, promptId, 0, [0, 1, 1]);
  input.samples[2]!.trajectories![1]!.tensors.means!.shape = [2, 4, 3];
  assert.throws(
    () => store.groups.insert(input),
    /samples\[2\]\.trajectories\[1\]\.tensors\.means\.shape: \[2, 4, 3\] holds 24 elements but data has 36/,
  );
  for (const t of ['rollout_groups', 'samples', 'trajectories', 'trajectory_tensors', 'reward_components'])
    assert.equal(count(store, t), 0, t);
  input.samples[2]!.trajectories![1]!.tensors.means = { dtype: 'float32', shape: [11, 3072], data: new Float32Array(11 * 3072) };
  assert.throws(
    () => store.groups.insert(input),
    /trajectories\[1\]\.tensors: means: shape \[11, 3072\] is not \[step, patch, patchValue\]/,
    'the stored-tensor description is checked on write',
  );
  const other = seedRun(store, 'other');
  assert.throws(() => store.groups.insert(groupInput(runId, other.promptId, 0, [1])), /promptId: prompt 2 belongs to run 2, not run 1/);
  store.close();
});

test('groups list by run and step with paging and order; steps for navigation', () => {
  const store = memStore();
  const { runId, promptId } = seedRun(store);
  for (let step = 0; step < 5; step++) for (let g = 0; g < 3; g++) store.groups.insert(groupInput(runId, promptId, step, [g, 1]));
  const page = store.groups.list({ runId, offset: 4, limit: 5 });
  assert.equal(page.total, 15);
  assert.deepEqual(
    page.items.map((g) => g.step),
    [1, 1, 2, 2, 2],
  );
  const step2 = store.groups.list({ runId, step: 2 });
  assert.equal(step2.total, 3);
  assert.deepEqual(
    step2.items.map((g) => g.rewardMean),
    [1, 1.5, 2],
  );
  assert.deepEqual(
    store.groups.list({ runId, order: 'desc', limit: 2 }).items.map((g) => g.step),
    [4, 4],
  );
  assert.deepEqual(store.groups.steps(runId), [0, 1, 2, 3, 4]);
  assert.throws(() => store.groups.list({ runId, limit: 0 }), /limit: must be an integer >= 1/);
  store.close();
});

test('rewards and advantages updated after the rollout, only for the group members', () => {
  const store = memStore();
  const { runId, promptId } = seedRun(store);
  const { groupId, sampleIds } = store.groups.insert(groupInput(runId, promptId, 0, [0, 1]));
  store.groups.updateRewards(
    groupId,
    [
      { sampleId: sampleIds[0]!, rewards: [{ name: 'human_rank', value: -1, weight: 0.5 }], advantage: -0.7 },
      { sampleId: sampleIds[1]!, rewards: [{ name: 'shapeeval', value: 0.9, weight: 1 }], advantage: 0.7 },
    ],
    false,
  );
  const [a, b] = store.samples.members(groupId);
  assert.ok(a && b, 'both members read back');
  assert.deepEqual(
    a.rewards.map((r) => r.name),
    ['format', 'human_rank', 'shapeeval'],
  );
  assert.equal(a.advantage, -0.7);
  assert.equal(b.rewards.find((r) => r.name === 'shapeeval')!.value, 0.9);
  const other = store.groups.insert(groupInput(runId, promptId, 0, [0]));
  assert.throws(
    () => store.groups.updateRewards(groupId, [{ sampleId: other.sampleIds[0]!, advantage: 1 }]),
    new RegExp(`updates\\[0\\]\\.sampleId: sample ${other.sampleIds[0]} is not a member of group ${groupId}`),
  );
  assert.throws(
    () => store.groups.updateRewards(groupId, [{ sampleId: sampleIds[0]!, rewards: [{ name: 'x', value: NaN, weight: 1 }] }]),
    /rewards\[0\]\.value: must be a finite number/,
  );
  store.close();
});

test('rankings: ties, validation naming the field, per-annotator queue, skip, resubmit, undo', () => {
  const store = memStore();
  const { runId, promptId } = seedRun(store);
  const g1 = store.groups.insert(groupInput(runId, promptId, 0, [0, 1, 2], { ranking: 'pending' }));
  const g2 = store.groups.insert(groupInput(runId, promptId, 0, [0, 1, 2], { ranking: 'pending', rankingsNeeded: 2 }));
  store.groups.insert(groupInput(runId, promptId, 0, [0, 1, 2])); // not sent to people
  const [a, b, c] = [g1.sampleIds[0]!, g1.sampleIds[1]!, g1.sampleIds[2]!];
  const submit = (ranks: { sampleId: number; rank: number }[]) =>
    store.rankings.submit({ groupId: g1.groupId, annotator: 'ann', ranks, durationMs: 900 });

  assert.throws(
    () =>
      submit([
        { sampleId: a, rank: 1 },
        { sampleId: b, rank: 2 },
        { sampleId: g2.sampleIds[0]!, rank: 3 },
      ]),
    /ranks\[2\]\.sampleId: sample 4 is not a member of group 1/,
  );
  assert.throws(
    () =>
      submit([
        { sampleId: a, rank: 1 },
        { sampleId: b, rank: 4 },
        { sampleId: c, rank: 3 },
      ]),
    /ranks\[1\]\.rank: must be in 1\.\.3, got 4/,
  );
  assert.throws(
    () =>
      submit([
        { sampleId: a, rank: 1 },
        { sampleId: b, rank: 2 },
      ]),
    /ranks: must rank every sample of group 1; missing 3/,
  );
  assert.throws(
    () =>
      submit([
        { sampleId: a, rank: 1 },
        { sampleId: a, rank: 2 },
        { sampleId: c, rank: 3 },
      ]),
    /ranks\[1\]\.sampleId: sample 1 is ranked twice/,
  );
  assert.throws(() => store.rankings.submit({ groupId: 99, annotator: 'ann', ranks: [], durationMs: 1 }), /group 99 not found/);
  assert.throws(
    () => store.rankings.submit({ groupId: g1.groupId, annotator: '', skipped: true, durationMs: 1 }),
    /annotator: must be a non-empty string/,
  );
  assert.equal(count(store, 'rankings'), 0);

  assert.deepEqual(
    store.rankings.queue({ annotator: 'ann', runId }).map((g) => g.id),
    [g1.groupId, g2.groupId],
  );
  const ranking = submit([
    { sampleId: c, rank: 1 },
    { sampleId: a, rank: 2 },
    { sampleId: b, rank: 2 },
  ]); // a and b tie
  assert.deepEqual(ranking.ranks, [
    { sampleId: a, rank: 2 },
    { sampleId: b, rank: 2 },
    { sampleId: c, rank: 1 },
  ]);
  assert.equal(ranking.durationMs, 900);
  assert.equal(store.groups.get(g1.groupId).rankingStatus, 'ranked');
  assert.deepEqual(
    store.rankings.queue({ annotator: 'ann' }).map((g) => g.id),
    [g2.groupId],
  );
  assert.equal(store.rankings.queueSize({ annotator: 'bob', runId }), 1, 'a ranked group leaves every queue');

  store.rankings.submit({ groupId: g2.groupId, annotator: 'ann', skipped: true, durationMs: 100 });
  assert.equal(store.rankings.queueSize({ annotator: 'ann' }), 0);
  assert.equal(store.groups.get(g2.groupId).rankingStatus, 'pending', 'a skip is not a ranking');
  store.rankings.submit({
    groupId: g2.groupId,
    annotator: 'bob',
    ranks: g2.sampleIds.map((sampleId) => ({ sampleId, rank: 1 })),
    durationMs: 5,
  });
  assert.equal(store.groups.get(g2.groupId).rankingStatus, 'pending', 'needs 2 rankings');
  assert.deepEqual(
    store.rankings.since(runId).map((r) => r.annotator),
    ['ann', 'bob'],
  );
  assert.deepEqual(store.groups.pendingRanking([g1.groupId, g2.groupId]), [g2.groupId]);
  assert.deepEqual(
    store.rankings.since(runId, ranking.id).map((r) => r.groupId),
    [g2.groupId],
  );

  // Resubmitting replaces; undo removes the latest and puts the group back in the queue.
  const again = submit([
    { sampleId: a, rank: 1 },
    { sampleId: b, rank: 2 },
    { sampleId: c, rank: 3 },
  ]);
  assert.equal(store.rankings.forGroup(g1.groupId).length, 1);
  assert.throws(() => store.rankings.undo('bob', again.id), new RegExp(`rankingId: ranking ${again.id} is ann's, not bob's`));
  assert.equal(store.rankings.undo('ann', again.id).id, again.id);
  assert.equal(store.groups.get(g1.groupId).rankingStatus, 'pending');
  assert.deepEqual(
    store.rankings.queue({ annotator: 'ann' }).map((g) => g.id),
    [g1.groupId],
  );
  assert.throws(() => store.rankings.undo('ann', again.id), /not found/);
  store.close();
});

test('metrics: one transaction per step, series since a step, NaN kept, re-logging overwrites', () => {
  const store = memStore();
  const { runId } = seedRun(store);
  for (let step = 0; step < 5; step++) store.metrics.log(runId, step, { kl: step / 10, loss: step === 3 ? NaN : -step });
  store.metrics.log(runId, 4, { kl: 9 });
  const [kl, loss, missing] = store.metrics.series({ runId, names: ['kl', 'loss', 'nope'], afterStep: 1 });
  assert.ok(loss, 'a series for every name asked');
  assert.deepEqual(kl, { name: 'kl', steps: [2, 3, 4], values: [0.2, 0.3, 9] });
  assert.deepEqual(loss.values, [-2, NaN, -4]);
  assert.deepEqual(missing, { name: 'nope', steps: [], values: [] });
  assert.deepEqual(store.metrics.names(runId), ['kl', 'loss']);
  assert.throws(() => store.metrics.log(runId, 5, { kl: 1, bad: '1' as unknown as number }), /values\.bad: must be a number/);
  assert.equal(store.metrics.series({ runId, names: ['kl'] })[0]!.steps.length, 5, 'a refused step writes nothing');
  store.close();
});

test('metrics: a series longer than maxPoints is thinned to logged points a stride apart, ending at the last', () => {
  const store = memStore();
  const { runId } = seedRun(store);
  for (let step = 1; step <= 1000; step++) store.metrics.log(runId, step, { loss: step * 2, ...(step % 7 === 0 ? { eval: step } : {}) });
  const [loss, evals] = store.metrics.series({ runId, names: ['loss', 'eval'], maxPoints: 100 }) as [MetricSeries, MetricSeries];
  assert.equal(loss.stride, 11);
  assert.deepEqual(loss.steps.slice(0, 3), [1, 12, 23]);
  assert.ok(loss.steps.length > 90 && loss.steps.length <= 100, `${loss.steps.length} points`);
  assert.equal(loss.steps[loss.steps.length - 1], 1000, 'the latest point is always there');
  assert.deepEqual(
    loss.values,
    loss.steps.map((s) => s * 2),
  );
  // A sparser metric: each grid step picks the next point it logged, never one it did not.
  assert.ok(evals.steps.every((s, i) => s % 7 === 0 && (i === 0 || s > evals.steps[i - 1]!)));
  assert.equal(evals.steps[evals.steps.length - 1], 994);
  const short = store.metrics.series({ runId, names: ['loss'], afterStep: 950, maxPoints: 100 })[0]!;
  assert.deepEqual([short.steps.length, short.stride], [50, undefined], 'a series that fits is whole');
  store.close();
});

test('log: append and tail per run, live tail after an id', () => {
  const store = memStore();
  const { runId } = seedRun(store);
  for (let i = 0; i < 5; i++) store.log.append(runId, 'info', `step ${i}`, { i });
  store.log.append(null, 'warn', 'app-wide');
  const last = store.log.tail({ runId, limit: 2 });
  assert.deepEqual(
    last.map((e) => e.message),
    ['step 3', 'step 4'],
  );
  assert.deepEqual(last[1]!.data, { i: 4 });
  assert.deepEqual(
    store.log.tail({ runId, afterId: last[0]!.id }).map((e) => e.message),
    ['step 4'],
  );
  assert.deepEqual(
    store.log.tail({ runId: null }).map((e) => e.message),
    ['app-wide'],
  );
  assert.throws(() => store.log.append(runId, 'fatal' as 'error', 'x'), /level: must be one of/);
  store.close();
});

test('checkpoints and preference models: latest wins, versions count up', () => {
  const store = memStore();
  const { runId } = seedRun(store);
  store.checkpoints.add({ runId, step: 10, path: '/c/10.safetensors', metadata: { preset: 'nano' } });
  store.checkpoints.add({ runId, step: 20, path: '/c/20.safetensors' });
  store.checkpoints.add({ runId, step: 10, path: '/c/10b.safetensors' });
  assert.equal(store.checkpoints.latest(runId)!.step, 20);
  assert.deepEqual(
    store.checkpoints.list(runId).map((c) => c.path),
    ['/c/10b.safetensors', '/c/20.safetensors'],
  );
  store.preferences.add({ runId, path: '/p1', trainPairs: 10, heldoutPairs: 4, heldoutAccuracy: 0.5 });
  const v2 = store.preferences.add({ runId, path: '/p2', trainPairs: 30, heldoutPairs: 8, heldoutAccuracy: 0.875 });
  assert.equal(v2.version, 2);
  assert.equal(store.preferences.latest(runId)!.heldoutAccuracy, 0.875);
  assert.throws(
    () => store.preferences.add({ runId, path: '/p3', trainPairs: 1, heldoutPairs: 1, heldoutAccuracy: 1.5 }),
    /heldoutAccuracy: must be in \[0, 1\]/,
  );
  store.close();
});

test('reflection cycles and edits: records with derived samples, marks, and checks on the samples', () => {
  const store = memStore();
  const { runId, promptId } = seedRun(store);
  const group = store.groups.insert(groupInput(runId, promptId, 0, [0, 1]));
  const other = store.groups.insert(groupInput(runId, promptId, 1, [0]));
  const member = group.sampleIds[0]!;

  const refined = store.transaction(() => store.samples.insertDerived(member, sampleInput(42, 1)));
  const cycle = store.reflections.insert(member, [
    {
      judgedSampleId: member,
      refinedSampleId: refined,
      critique: 'the circle is blue; make it red',
      verdict: 'wrong',
      scorerVerdict: 'wrong',
      reward: 0,
    },
    { judgedSampleId: refined, critique: 'looks right', verdict: 'correct', scorerVerdict: 'correct', reward: 1 },
  ]);
  assert.deepEqual(
    cycle.rounds.map((r) => [r.round, r.judgedSampleId, r.refinedSampleId]),
    [
      [1, member, refined],
      [2, refined, null],
    ],
  );
  store.reflections.mark(cycle.rounds[0]!.id, 'ann', true);
  store.reflections.mark(cycle.rounds[0]!.id, 'ann', false);
  assert.deepEqual(
    store.reflections.forSample(member)!.rounds[0]!.marks.map((m) => m.correct),
    [false],
  );
  assert.equal(store.reflections.forGroup(group.groupId).length, 1);
  assert.deepEqual(
    store.samples.derived(member).map((s) => [s.role, s.parentSampleId]),
    [['derived', member]],
  );
  assert.deepEqual(
    store.samples.members(group.groupId).map((s) => s.id),
    group.sampleIds,
    'derived samples are not members',
  );
  assert.throws(
    () =>
      store.reflections.insert(group.sampleIds[1]!, [
        { judgedSampleId: other.sampleIds[0]!, critique: '', verdict: 'correct', scorerVerdict: 'correct' },
      ]),
    /rounds\[0\]\.judgedSampleId: sample \d+ is not in group 1/,
  );
  assert.throws(
    () =>
      store.reflections.insert(group.sampleIds[1]!, [
        { judgedSampleId: group.sampleIds[1]!, critique: '', verdict: 'maybe' as 'wrong', scorerVerdict: 'correct' },
      ]),
    /rounds\[0\]\.verdict: must be 'correct' or 'wrong'/,
  );

  const reconstruction = store.samples.insertDerived(group.sampleIds[1]!, sampleInput(43, 0));
  const edit = store.edits.insert({
    editedSampleId: group.sampleIds[1]!,
    sourceImage: solidImage(4, 4, 9),
    instruction: 'make the circle blue',
    inverseInstruction: 'make the circle red',
    reconstructionSampleId: reconstruction,
    compliance: 1,
    preservation: 0.9,
    cycleScore: 0.8,
  });
  assert.equal(edit.hasSourceImage, true);
  assert.deepEqual(decodePng(store.edits.sourcePng(edit.id)!).rgb, solidImage(4, 4, 9).rgb);
  assert.deepEqual(
    store.edits.forGroup(group.groupId).map((e) => e.reconstructionSampleId),
    [reconstruction],
  );
  assert.throws(
    () => store.edits.insert({ editedSampleId: group.sampleIds[0]!, instruction: 'x', inverseInstruction: 'y' }),
    /sourceSampleId: give exactly one of sourceSampleId and sourceImage/,
  );
  assert.throws(
    () =>
      store.edits.insert({
        editedSampleId: group.sampleIds[0]!,
        sourceSampleId: member,
        instruction: 'x',
        inverseInstruction: 'y',
        reconstructionSampleId: reconstruction,
      }),
    new RegExp(`reconstructionSampleId: sample ${reconstruction} is not derived from edited sample ${group.sampleIds[0]}`),
  );
  store.close();
});

test('reflection cycles page in SQL: each filter keeps the cycles it names, newest step first, members in order', () => {
  const store = memStore();
  const { runId, promptId } = seedRun(store);
  const older = store.groups.insert(groupInput(runId, promptId, 1, [0, 0]));
  const newer = store.groups.insert(groupInput(runId, promptId, 2, [0, 0, 0]));
  const round = (judgedSampleId: number, scorer: 'correct' | 'wrong', reward: number | null, verdict = scorer) => ({
    judgedSampleId,
    critique: '',
    verdict,
    scorerVerdict: scorer,
    reward,
  });
  const cycle = (member: number, ...rounds: ReturnType<typeof round>[]) => store.reflections.insert(member, rounds).id;
  const [o0, o1] = older.sampleIds as [number, number];
  const [n0, n1, n2] = newer.sampleIds as [number, number, number];
  // First image wrong, the last round's image right (reward 1): corrected; the other way round: broken.
  const corrected = cycle(o0, round(o0, 'wrong', 0), round(o0, 'wrong', 1));
  const broken = cycle(o1, round(o1, 'correct', 0));
  // No reward on the last round: the cycle ends on its first image.
  const keptRight = cycle(n0, round(n0, 'correct', null));
  const disagrees = cycle(n1, round(n1, 'wrong', null, 'correct'));
  const keptWrong = cycle(n2, round(n2, 'wrong', 0));
  store.reflections.mark(store.reflections.get(keptWrong).rounds[0]!.id, 'ann', false);
  store.reflections.mark(store.reflections.get(keptRight).rounds[0]!.id, 'ann', true);
  const ids = (filter: Parameters<Store['reflections']['page']>[1], offset = 0, limit = 50) => {
    const page = store.reflections.page(runId, filter, offset, limit);
    return { ids: page.items.map((i) => i.cycle.id), total: page.total };
  };
  assert.deepEqual(ids('all'), { ids: [keptRight, disagrees, keptWrong, corrected, broken], total: 5 });
  assert.deepEqual(ids('all', 2, 2), { ids: [keptWrong, corrected], total: 5 });
  assert.deepEqual(ids('corrected'), { ids: [corrected], total: 1 });
  assert.deepEqual(ids('broken'), { ids: [broken], total: 1 });
  assert.deepEqual(ids('disagree'), { ids: [disagrees], total: 1 });
  assert.deepEqual(ids('markedWrong'), { ids: [keptWrong], total: 1 });
  assert.deepEqual(
    store.reflections.page(runId, 'all', 0, 1).items.map((i) => i.groupId),
    [newer.groupId],
  );
  assert.throws(() => store.reflections.page(runId, 'odd' as 'all', 0, 1), /filter: must be one of all, disagree/);
  store.close();
});

test('evaluations: results page failures first, per task; summary on completion; no results after it', () => {
  const store = memStore();
  const { runId } = seedRun(store);
  const evaluation = store.evaluations.start({ runId, checkpointPath: '/c/20.safetensors', suite: 'geneval' });
  assert.equal(evaluation.status, 'running');
  store.evaluations.addResults(evaluation.id, [
    { task: 'counting', prompt: 'two red circles', imageIndex: 0, correct: true, reward: 1, reason: 'ok', image: solidImage(4, 4, 1) },
    { task: 'counting', prompt: 'two red circles', imageIndex: 1, correct: false, reward: 0.5, reason: 'found 1 red circle' },
    { task: 'colors', prompt: 'a blue square', imageIndex: 0, correct: false, reward: 0, reason: 'no blue square' },
  ]);
  const page = store.evaluations.results({ evaluationId: evaluation.id });
  assert.deepEqual(
    page.items.map((r) => r.reason),
    ['found 1 red circle', 'no blue square', 'ok'],
  );
  assert.equal(page.total, 3);
  assert.deepEqual(
    store.evaluations.results({ evaluationId: evaluation.id, task: 'counting', failuresFirst: false }).items.map((r) => r.imageIndex),
    [0, 1],
  );
  assert.ok(store.evaluations.resultPng(page.items[2]!.id)!.length > 0);
  assert.equal(page.items[0]!.hasImage, false);
  assert.throws(
    () =>
      store.evaluations.addResults(evaluation.id, [{ task: 'colors', prompt: 'p', imageIndex: -1, correct: true, reward: 1, reason: '' }]),
    /results\[0\]\.imageIndex: must be an integer >= 0/,
  );
  const done = store.evaluations.complete(evaluation.id, { overall: 0.33, tasks: { counting: 0.5, colors: 0 } });
  assert.deepEqual(done.summary, { overall: 0.33, tasks: { counting: 0.5, colors: 0 } });
  assert.ok(done.finishedAt! >= done.createdAt);
  assert.throws(() => store.evaluations.addResults(evaluation.id, []), /evaluation 1 is already completed/);
  const base = store.evaluations.start({ suite: 'geneval' });
  assert.deepEqual(
    store.evaluations.list(null).map((e) => e.id),
    [base.id],
  );
  assert.deepEqual(
    store.evaluations.list(runId).map((e) => e.id),
    [evaluation.id],
  );
  assert.equal(store.evaluations.fail(base.id, 'out of memory').error, 'out of memory');
  store.close();
});

test('deleting a run removes everything recorded for it', () => {
  const store = memStore();
  const { runId, promptId } = seedRun(store);
  const { groupId, sampleIds } = store.groups.insert(groupInput(runId, promptId, 0, [0, 1], { ranking: 'pending' }));
  store.rankings.submit({ groupId, annotator: 'ann', ranks: sampleIds.map((sampleId, i) => ({ sampleId, rank: i + 1 })), durationMs: 1 });
  store.metrics.log(runId, 0, { kl: 1 });
  store.log.append(runId, 'info', 'x');
  store.runs.delete(runId);
  for (const t of [
    'runs',
    'prompts',
    'rollout_groups',
    'samples',
    'trajectory_tensors',
    'reward_components',
    'rankings',
    'ranking_entries',
    'metrics',
    'events',
  ]) {
    assert.equal(count(store, t), 0, t);
  }
  store.close();
});

test('two connections on one file (app and trainer): WAL lets the reader work while a write is open', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unirl-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const trainer = openStore(join(dir, 'unirl.sqlite'));
  const app = openStore(join(dir, 'unirl.sqlite'));
  t.after(() => {
    trainer.close();
    app.close();
  });
  assert.equal(trainer.db.pragma('journal_mode', { simple: true }), 'wal');
  const { runId, promptId } = seedRun(trainer);
  trainer.db.exec('BEGIN IMMEDIATE');
  trainer.groups.insert(groupInput(runId, promptId, 0, [0, 1]));
  assert.equal(app.groups.list({ runId }).total, 0, 'uncommitted group visible to the other connection');
  trainer.db.exec('COMMIT');
  assert.equal(app.groups.list({ runId }).total, 1);
});
