// The Reflections screen's page on cycles a real nano reflect run wrote: prompts, critiques without
// format tags, the scorer's verdict on each stored image, each round's own rewards, and the filters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReflectionCycle, ReflectionRound } from '../../contract/domain.ts';
import { openStore } from '../../db/index.ts';
import { trainJob } from '../rl/job.ts';
import { outcomeOf, reflectionPage } from './reflections.ts';

const ctx = { progress: () => {}, checkCancelled: () => {} };

test('a real nano reflect run reads as prompts, clean critiques, verdicts per image and per-round rewards', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'unirl-reflections-'));
  try {
    const { runId } = await trainJob({ dataDir, scenario: 'reflect', nano: true, config: { steps: 2, reflect: { rounds: 2 } } }, ctx);
    const store = openStore(join(dataDir, 'unirl.sqlite'));
    try {
      const page = reflectionPage(store, runId, 'all', 0, 500);
      const stored = store.groups.list({ runId, limit: 50 }).items.flatMap((g) => store.reflections.forGroup(g.id).map((c) => ({ g, c })));
      assert.equal(page.total, stored.length);
      assert.ok(page.total >= 8, `${page.total} cycles`);
      assert.ok(
        page.items.every((c, i) => i === 0 || page.items[i - 1]!.step >= c.step),
        'newest step first',
      );
      for (const cycle of page.items) {
        const { g, c } = stored.find((s) => s.c.id === cycle.id)!;
        assert.equal(cycle.prompt, g.prompt);
        assert.equal(cycle.step, g.step);
        assert.equal(cycle.rounds.length, c.rounds.length);
        cycle.rounds.forEach((round, k) => {
          const raw = c.rounds[k]!;
          assert.doesNotMatch(round.critique, /<[^>]+>/, `critique of round ${raw.id} has no tags: ${round.critique}`);
          assert.doesNotMatch(round.fix, /<[^>]+>/);
          assert.equal(round.judged.sampleId, raw.judgedSampleId);
          assert.equal(round.refined?.sampleId ?? null, raw.refinedSampleId);
          // The stored image scores as the trainer scored it.
          assert.equal(round.judged.correct, raw.scorerVerdict === 'correct');
          if (round.refined) assert.equal(round.refined.reward, raw.reward);
          const critique = round.rewards.find((r) => r.name === 'critique')!;
          assert.equal(critique.value, raw.verdict === raw.scorerVerdict ? 1 : 0);
          assert.equal(critique.weight, 1);
          const improvement = round.rewards.find((r) => r.name === 'improvement');
          assert.equal(improvement?.value, round.refined ? round.refined.reward - round.judged.reward : undefined);
          if (k > 0)
            assert.equal(round.judged.sampleId, cycle.rounds[k - 1]!.refined!.sampleId, 'a round judges the image the last one left');
        });
        assert.deepEqual(cycle.rewards, store.samples.get(cycle.sampleId).rewards);
      }
      assert.ok(
        page.items.some((c) => c.rounds.some((r) => r.refined)),
        'some cycle refined its image',
      );

      // Paging and the filters: a person's 'wrong' mark puts its cycle under markedWrong.
      const second = reflectionPage(store, runId, 'all', 3, 2);
      assert.deepEqual(
        second.items.map((c) => c.id),
        page.items.slice(3, 5).map((c) => c.id),
      );
      assert.equal(reflectionPage(store, runId, 'markedWrong', 0, 50).total, 0);
      const marked = page.items[2]!;
      store.reflections.mark(marked.rounds[0]!.id, 'ann', false);
      store.reflections.mark(page.items[1]!.rounds[0]!.id, 'ann', true);
      assert.deepEqual(
        reflectionPage(store, runId, 'markedWrong', 0, 50).items.map((c) => c.id),
        [marked.id],
      );
      const disagree = reflectionPage(store, runId, 'disagree', 0, 500).items.map((c) => c.id);
      assert.deepEqual(
        disagree,
        page.items.filter((c) => c.rounds.some((r) => r.verdict !== r.scorerVerdict)).map((c) => c.id),
      );
      for (const f of ['corrected', 'broken'] as const) {
        assert.deepEqual(
          reflectionPage(store, runId, f, 0, 500).items.map((c) => c.id),
          page.items.filter((c) => c.outcome === f).map((c) => c.id),
        );
      }
    } finally {
      store.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a cycle's outcome compares the scorer on its first and final images", () => {
  const round = (scorerVerdict: 'correct' | 'wrong', reward: number | null): ReflectionRound => ({
    id: 1,
    cycleId: 1,
    round: 1,
    judgedSampleId: 1,
    refinedSampleId: reward === null ? null : 2,
    critique: '',
    verdict: 'wrong',
    scorerVerdict,
    reward,
    marks: [],
  });
  const cycle = (...rounds: ReflectionRound[]): ReflectionCycle => ({ id: 1, sampleId: 1, rounds });
  assert.equal(outcomeOf(cycle(round('wrong', 0.5), round('wrong', 1))), 'corrected');
  assert.equal(outcomeOf(cycle(round('correct', 0.5))), 'broken');
  assert.equal(outcomeOf(cycle(round('correct', 1))), 'kept right');
  assert.equal(outcomeOf(cycle(round('wrong', 0.25))), 'kept wrong');
  // The LM said right: nothing refined, the round's reward is the judged image's own.
  assert.equal(outcomeOf(cycle(round('correct', null))), 'kept right');
});
