// Cycle Edit RL and reflection RL on the real unified model (nano preset, random weights): a few trainer
// steps each, the on-policy checks that tie every turn's rollout to its recomputation in the update, the
// edit and reflection records the screens read, and the reverse trajectory's share of the loss.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore, type Store } from '../../db/index.ts';
import { CORRECT_CRITIQUE, NO_FIX, formats, readCritique } from '../models/formats.ts';
import { toUint8, type ImageRGB } from '../world/image.ts';
import { decodePng } from '../world/png.ts';
import { sampleReflection } from '../world/reflection.ts';
import { renderScene } from '../world/render.ts';
import { Rng } from '../world/rng.ts';
import { groupAdvantages } from './advantages.ts';
import { NANO_OVERRIDES, resolveTrainConfig, type TrainConfigInput } from './config.ts';
import { REWARD_COMPONENT_DEFS, type RewardSample } from './rewards.ts';
import { shapeWorldTasks } from './tasks.ts';
import { train, type TrainResult } from './trainer.ts';
import { reflect, reflectionRounds } from './scenarios/reflect.ts';
import { nanoModel, nanoTokenizer } from './test-fixtures/nano.ts';
import type { Policy, SampleResult, TaskItem } from './policy.ts';
import type { Verdict } from '../../contract/domain.ts';
import { UnifiedPolicy } from './unified.ts';

const tokenizer = nanoTokenizer;
const ctx = { progress: () => {}, checkCancelled: () => {} };
// Of the 8-bit image, as stored: the stored first images then give back exactly the rewards the trainer saw.
const brightness = (s: RewardSample) => toUint8(s.image!).data.reduce((a, b) => a + b, 0) / (255 * s.image!.data.length);

/**
 * A random nano model never edits or draws right, so every group would tie on the real compliance and
 * ShapeEval rewards and nothing would update: those are scored by brightness here; the other components
 * (cycle, improvement, critique) are the real ones.
 */
function components(...byBrightness: string[]) {
  return [
    ...REWARD_COMPONENT_DEFS.filter((c) => !byBrightness.includes(c.name)),
    ...byBrightness.map((name) => ({ name, score: brightness })),
  ];
}

async function nanoRun(
  scenario: 'edit' | 'reflect',
  overrides: TrainConfigInput,
  byBrightness: string[],
  check: (store: Store, result: TrainResult) => void,
): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), `unirl-${scenario}-`));
  const store = openStore(':memory:');
  const model = nanoModel(5);
  try {
    const config = resolveTrainConfig(
      scenario,
      NANO_OVERRIDES,
      { optim: { lr: { lm: 1e-3, dm: 1e-3 } }, rollout: { groupSize: 3 } },
      overrides,
    );
    const policy = new UnifiedPolicy(model, scenario);
    const tasks = shapeWorldTasks(scenario, { heldoutPerTask: 1 });
    check(store, await train({ config, store, dataDir, policy, tasks, components: components(...byBrightness) }, ctx));
  } finally {
    await model.dispose();
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function series(store: Store, runId: number, name: string): number[] {
  return store.metrics.series({ runId, names: [name] })[0]?.values ?? [];
}

/** At the first epoch the update recomputes every turn exactly as rolled out: ratio 1, policy = reference. */
function assertOnPolicy(store: Store, runId: number, kinds: readonly string[]): void {
  for (const kind of kinds) {
    assert.ok(series(store, runId, `approx_kl/${kind}`)[0]! < 1e-9, `${kind}: recomputed log-probs equal the rollout's`);
    assert.equal(series(store, runId, `clip_fraction/${kind}`)[0], 0);
    assert.ok(Math.abs(series(store, runId, `kl/${kind}`)[0]!) < 1e-9, `${kind}: the policy starts at its reference`);
  }
}

/** One sample of `scenario` rolled out by a nano model whose DiT alone trains (K = 1 reflection round), for objective checks. */
async function withOneSample(
  scenario: 'edit' | 'reflect',
  modelSeed: number,
  check: (policy: UnifiedPolicy, item: TaskItem, sample: SampleResult) => Promise<void>,
): Promise<void> {
  const model = nanoModel(modelSeed);
  try {
    const policy = new UnifiedPolicy(model, scenario);
    for (const p of policy.params.list()) p.frozen = !p.name.startsWith('dit/');
    const [item] = shapeWorldTasks(scenario).next(1, 0);
    const rolled = await policy.rollout([item!], {
      groupSize: 1,
      sdeSteps: 3,
      noiseLevel: 0.7,
      sameNoisePerGroup: true,
      temperature: 1,
      topP: 1,
      maxNewTokens: 8,
      seed: 1,
      editCycle: true,
      reflectionRounds: 1,
    });
    await check(policy, item!, rolled[0]![0]!);
  } finally {
    await model.dispose();
  }
}

test('edit: nano Cycle Edit RL steps run, train both trajectories on-policy and store complete edit records', async () => {
  // Flow-GRPO: its first epoch's ratios are 1 (DiffusionNFT, edit's preset, has none; unified.test.ts trains it).
  await nanoRun(
    'edit',
    { eval: { every: 2, odeSteps: 2 }, loss: { dm: { objective: 'flowGrpo' } } },
    ['editCompliance'],
    (store, result) => {
      assert.equal(result.step, 2);
      assertOnPolicy(store, result.runId, ['dm']);
      assert.ok(series(store, result.runId, 'eval/compliance').length === 1, 'held-out edit evaluation at step 2');
      const groups = store.groups.list({ runId: result.runId }).items;
      assert.equal(groups.length, 4);
      for (const group of groups) {
        const detail = store.groups.detail(group.id);
        const edits = store.edits.forGroup(group.id);
        assert.equal(edits.length, 3, 'one edit per member');
        const spec = store.prompts.get(group.promptId).spec as { instruction: string; inverse: string };
        edits.forEach((edit, k) => {
          const member = detail.samples[k]!;
          assert.equal(edit.editedSampleId, member.id);
          assert.equal(edit.instruction, spec.instruction);
          assert.equal(edit.inverseInstruction, spec.inverse);
          assert.ok(edit.hasSourceImage && store.edits.sourcePng(edit.id)!.length > 0, 'the source image is stored');
          for (const score of [edit.compliance, edit.preservation, edit.cycleScore]) assert.ok(score !== null && score >= 0 && score <= 1);
          const [reconstruction] = store.samples.derived(member.id);
          assert.equal(edit.reconstructionSampleId, reconstruction!.id);
          assert.deepEqual(reconstruction!.image, { width: 32, height: 32 });
          assert.deepEqual(
            store.samples.trajectories(member.id).map((t) => t.label),
            ['forward'],
          );
          assert.deepEqual(
            store.samples.trajectories(reconstruction!.id).map((t) => t.label),
            ['reverse'],
          );
          const cycle = member.rewards.find((r) => r.name === 'cycle')!;
          assert.equal(cycle.weight, 1);
          assert.ok(Math.abs(cycle.value - edit.cycleScore!) < 1e-12, 'the cycle reward is the stored cycle score');
          assert.equal(member.rewards.find((r) => r.name === 'editCompliance')!.weight, 4);
          assert.equal(member.rewards.find((r) => r.name === 'editPreservation')!.weight, 2);
        });
      }
    },
  );
});

test('edit with the cycle term off: no inverse edit, no cycle reward, no reconstruction', async () => {
  await nanoRun('edit', { steps: 1, edit: { cycle: false } }, ['editCompliance'], (store, result) => {
    const group = store.groups.list({ runId: result.runId }).items[0]!;
    const member = store.groups.detail(group.id).samples[0]!;
    assert.deepEqual(
      member.rewards.map((r) => r.name),
      ['editCompliance', 'editPreservation'],
    );
    const [edit] = store.edits.forGroup(group.id);
    assert.equal(edit!.reconstructionSampleId, null);
    assert.equal(edit!.cycleScore, null);
    assert.ok(edit!.compliance !== null && edit!.preservation !== null);
    assert.equal(store.samples.derived(member.id).length, 0);
  });
});

test('reflect: nano reflection steps run, train critiques and every image on-policy, and store whole cycles', async () => {
  // Flow-GRPO with group std: its first epoch's ratios are 1 and each group's advantages are checked below
  // (reflection's preset is DiffusionNFT with global std; unified.test.ts trains that).
  const loss = { dm: { objective: 'flowGrpo' }, advantage: 'groupStd' } as const;
  await nanoRun('reflect', { eval: { every: 2, odeSteps: 2 }, loss }, ['shapeEval'], (store, result) => {
    assert.equal(result.step, 2);
    for (const name of ['eval/accuracy', 'eval/first_accuracy', 'eval/critique_accuracy', 'eval/corrected', 'eval/broken']) {
      assert.equal(series(store, result.runId, name).length, 1, `${name} at step 2`);
    }
    assertOnPolicy(store, result.runId, ['lm', 'dm']);
    let refinements = 0;
    for (const group of store.groups.list({ runId: result.runId }).items) {
      const members = store.groups.detail(group.id).samples;
      // Per-round advantages: the stored (cycle) advantage normalises what the rounds after the first image
      // added, the total less the shapeEval weight (1) times the first image's reward (here its brightness).
      const firstImageReward = members.map((m) => brightness({ image: decodePng(store.samples.imagePng(m.id)!) }));
      const expected = groupAdvantages(members.map((m, k) => m.reward - firstImageReward[k]!)).advantages;
      members.forEach((m, k) =>
        assert.ok(Math.abs(m.advantage! - expected[k]!) < 1e-6, `member ${k}: advantage ${m.advantage} vs ${expected[k]}`),
      );
      const cycles = store.reflections.forGroup(group.id);
      assert.equal(cycles.length, 3, 'one cycle per member');
      cycles.forEach((cycle, k) => {
        const member = members[k]!;
        assert.equal(cycle.sampleId, member.id);
        assert.deepEqual(member.rewards.map((r) => r.name).sort(), ['critique', 'improvement', 'shapeEval']);
        assert.ok(cycle.rounds.length >= 1 && cycle.rounds.length <= 2, `K = 2 rounds at most (${cycle.rounds.length})`);
        const derived = store.samples.derived(member.id);
        assert.equal(cycle.rounds[0]!.judgedSampleId, member.id, 'round 1 judges the first image');
        assert.equal(member.text, cycle.rounds[0]!.critique);
        assert.deepEqual(
          store.samples.trajectories(member.id).map((t) => t.label),
          ['generate', 'critique1'],
        );
        cycle.rounds.forEach((round, r) => {
          assert.ok(['correct', 'wrong'].includes(round.verdict) && ['correct', 'wrong'].includes(round.scorerVerdict));
          assert.ok(round.reward !== null && Number.isFinite(round.reward));
          if (round.verdict === 'correct') assert.equal(round.refinedSampleId, null, 'a right verdict ends the cycle');
          if (r > 0) assert.equal(round.judgedSampleId, cycle.rounds[r - 1]!.refinedSampleId, 'a round judges the previous refinement');
          if (round.refinedSampleId !== null) {
            refinements++;
            assert.equal(round.refinedSampleId, derived[r]!.id);
            const labels = store.samples.trajectories(round.refinedSampleId).map((t) => t.label);
            assert.equal(labels[0], `refine${r + 1}`);
            assert.deepEqual(derived[r]!.image, { width: 32, height: 32 });
          }
        });
        const wrongs = cycle.rounds.filter((round) => round.verdict === round.scorerVerdict).length / cycle.rounds.length;
        assert.equal(member.rewards.find((r) => r.name === 'critique')!.value, wrongs, 'critique reward = agreement with the scorer');
      });
    }
    assert.ok(refinements > 0, 'some critiques led to refinements');
    assert.ok(series(store, result.runId, 'lm/length_mean')[0]! > 0);
    assert.equal(series(store, result.runId, 'reward/first_image/mean').length, 2, 'per-round advantages score every first image');
  });
});

test('the reverse edit trajectory gets the GRPO loss with the sample advantage', async () => {
  await withOneSample('edit', 6, async (policy, item, sample) => {
    assert.deepEqual(
      sample.turns.map((t) => t.role),
      ['edit', 'reverse'],
      'the cycle rolled out the inverse edit',
    );
    const terms = { dm: { clipRange: 1e-4, klBeta: 0 } };
    const objective = (s: SampleResult) => policy.objective([{ item, sample: s, advantage: 1, dmSteps: [0, 1] }], terms);
    const both = await objective(sample);
    const forward = await objective({ ...sample, turns: sample.turns.slice(0, 1) });
    const name = 'dit/block0/cross/kv/weight';
    const diff = both.grads[name]!.reduce((a, g, i) => a + Math.abs(g - forward.grads[name]![i]!), 0);
    assert.ok(diff > 1e-6, `the reverse rows change the gradient of ${name} (|diff| ${diff})`);
    // Both losses are -A·mean(ratio) = -1 on-policy: the reverse rows join the same mean with the same advantage.
    assert.ok(Math.abs(both.loss + 1) < 1e-5 && Math.abs(forward.loss + 1) < 1e-5, `losses ${both.loss}, ${forward.loss}`);
  });
});

test("per-round reflection advantages: the first image's DM steps take their own advantage, the refinement the sample's", async () => {
  await withOneSample('reflect', 7, async (policy, item, sample) => {
    assert.ok(reflectionRounds(sample).rounds[0]?.refined, 'the random critic found an error and the DM refined the image');
    const terms = { dm: { clipRange: 1e-4, klBeta: 0 } };
    const loss = async (advantages: { advantage: number; splitAdvantage?: number }) =>
      (await policy.objective([{ item, sample, dmSteps: [0, 1], ...advantages }], terms)).loss;
    // On-policy the DM loss is -mean(A) over the rows: two trajectories with the same steps, so -(A_first + A)/2.
    assert.ok(Math.abs((await loss({ advantage: 0, splitAdvantage: 1 })) + 0.5) < 1e-5, 'first image alone carries the advantage');
    assert.ok(Math.abs(await loss({ advantage: 1, splitAdvantage: -1 })) < 1e-5, 'the two advantages cancel');
    assert.ok(Math.abs((await loss({ advantage: 1 })) + 1) < 1e-5, 'shared mode: the whole cycle takes the sample advantage');
  });
});

test('a critique completion reads as a verdict and a corrected instruction', () => {
  const decoded = (text: string) => tokenizer.decode(tokenizer.encode(text)); // as the rollout sees it
  assert.deepEqual(readCritique(decoded(formats.critiqueCompletion(CORRECT_CRITIQUE, NO_FIX))), {
    critique: decoded(CORRECT_CRITIQUE),
    verdict: 'correct',
    fix: '',
  });
  const wrong = readCritique(
    decoded(formats.critiqueCompletion('The circle is blue, but the prompt asks for a red circle.', 'make the blue circle red')),
  );
  assert.deepEqual(wrong, {
    critique: 'the circle is blue, but the prompt asks for a red circle.',
    verdict: 'wrong',
    fix: 'make the blue circle red',
  });
  assert.equal(
    readCritique('the image has no square </think> <answer> none </answer>').verdict,
    'correct',
    "fix 'none': nothing to refine",
  );
  // Cut off before the answer: the critique itself is the instruction the refinement reads.
  assert.deepEqual(readCritique('the circle is'), { critique: 'the circle is', verdict: 'wrong', fix: 'the circle is' });
});

test('reflection evaluation numbers on hand-made cycles', async () => {
  const rng = new Rng(4);
  const examples = [sampleReflection(rng, 'color'), sampleReflection(rng, 'count'), sampleReflection(rng, 'missing')];
  const items = examples.map((e) => ({ task: 'reflection', text: e.prompt, spec: null, target: { spec: e.spec } }));
  const [a, b, c] = examples.map((e) => ({ wrong: renderScene(e.wrongScene), right: renderScene(e.rightScene) }));
  const cycles: { images: ImageRGB[]; verdicts: Verdict[] }[] = [
    { images: [a!.wrong, a!.right], verdicts: ['wrong', 'correct'] }, // caught and corrected: 2 right verdicts
    { images: [b!.wrong], verdicts: ['correct'] }, // missed: 1 wrong verdict
    { images: [c!.right, c!.wrong], verdicts: ['wrong'] }, // false alarm that broke a right image
  ];
  const policy = { reflectGreedy: async () => cycles } as unknown as Policy;
  const { metrics, scored } = await reflect.evaluate(policy, items, { cfg: resolveTrainConfig('reflect'), seed: 0 });
  assert.deepEqual(
    scored.map((s) => s.image),
    cycles.map((c) => c.images[c.images.length - 1]),
    'the final images are recorded',
  );
  assert.deepEqual(metrics, {
    'eval/accuracy': 1 / 3,
    'eval/first_accuracy': 1 / 3,
    'eval/critique_accuracy': 2 / 4,
    'eval/corrected': 1 / 2,
    'eval/broken': 1,
  });
});
