// Store fixtures for browser tests: runs, rollout groups with real ShapeWorld images, trajectories,
// metrics, rankings by several annotators, reflection cycles, edits and evaluations, written through
// the store's repositories into a data dir before `unirl serve` opens it (the screens' tests need data
// that only a training run would otherwise make). The seed*(store, ...) forms serve unit tests too.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Scenario } from '../../contract/domain.ts';
import { openStore, resolveDataDir, type SampleInput, type Store } from '../../db/index.ts';
import type { TrajectoryInput } from '../../db/repos/samples.ts';
import { writeSafetensors } from '../../main/engine/checkpoint/safetensors.ts';
import { shapeWorldTokenizer } from '../../main/models/data.ts';
import { imagesToPatches } from '../../main/models/patches.ts';
import { dmTrajectory } from '../../main/rl/records.ts';
import { toUint8 } from '../../main/world/image.ts';
import { renderScene } from '../../main/world/render.ts';
import { Rng } from '../../main/world/rng.ts';
import { describeObject, sampleScene, type Scene } from '../../main/world/scene.ts';

export interface SeededRun {
  runId: number;
  /** groupIds[i] has member sample ids sampleIds[i] (in index order). */
  groupIds: number[];
  sampleIds: number[][];
}

export interface GroupSeedOptions {
  groups?: number;
  groupSize?: number;
  seed?: number;
  scenario?: Scenario;
  runName?: string;
  /** Record an LM trajectory (tokenIds, logProbs [T]) and a DM one (latents [S+1, 64, 48] as the trainer writes them) per sample. */
  trajectories?: boolean;
  /** Put the groups in the ranking queue (default true). */
  pending?: boolean;
  /** Render and store the samples' images (default true; off for lists of thousands of groups). */
  images?: boolean;
  /** Step of the first group (default 1). */
  firstStep?: number;
  /** Add the groups to this run instead of creating one. */
  runId?: number;
}

/** Opens the data dir's store, runs `fn` in one transaction, closes. */
export function withStore<T>(dataDir: string, fn: (store: Store) => T): T {
  const store = openStore(resolveDataDir({ cliDir: dataDir }).dbPath);
  try {
    return store.transaction(() => fn(store));
  } finally {
    store.close();
  }
}

function rgbOf(scene: Scene, width = 32): { width: number; height: number; rgb: Uint8Array } {
  const image = toUint8(renderScene(scene, { width }));
  return { width: image.width, height: image.height, rgb: image.data };
}

/**
 * A denoising path from noise to `scene`'s render in the DiT's patch layout (the base model's 4x4 patches),
 * stored by the trainer's own dmTrajectory: latents [S+1, N, p·p·3] as a real run writes them.
 */
function dmTrajectoryTowards(scene: Scene, steps: number, rng: Rng): TrajectoryInput {
  const grid = { size: 32, patch: 4 };
  const image = renderScene(scene, { width: grid.size });
  const clean = imagesToPatches(image.data, 1, grid.size, grid.patch);
  const latents = Array.from({ length: steps + 1 }, (_, s) =>
    Float32Array.from(clean, (v) => (s / steps) * v + (1 - s / steps) * (rng.next() * 2 - 1)),
  );
  return dmTrajectory(
    {
      latents,
      grid,
      seeds: { noise: 1, sde: 2 },
      means: latents.slice(1),
      logProbs: Float32Array.from({ length: steps }, () => -rng.next() * 100),
      times: Float64Array.from({ length: steps + 1 }, (_, s) => 1 - s / steps),
      stds: new Float64Array(steps).fill(0.1),
      noiseLevel: 0.7,
    },
    { latents: true, means: false, compact: 'q8' },
  );
}

function trajectoriesFor(scene: Scene, rng: Rng): SampleInput['trajectories'] {
  const tokens = 6 + rng.int(10);
  return [
    {
      kind: 'lm',
      tensors: {
        tokenIds: { dtype: 'int32', shape: [tokens], data: Int32Array.from({ length: tokens }, () => 4 + rng.int(60)) },
        logProbs: { dtype: 'float32', shape: [tokens], data: Float32Array.from({ length: tokens }, () => -rng.next() * 4) },
      },
    },
    dmTrajectoryTowards(scene, 6, rng),
  ];
}

/** One run with `groups` groups of `groupSize` rendered samples each, one group per step. */
export function seedGroups(store: Store, options: GroupSeedOptions = {}): SeededRun {
  const {
    groups = 2,
    groupSize = 4,
    seed = 1,
    scenario = 't2i',
    runName = 'seeded run',
    trajectories = false,
    pending = true,
    images = true,
    firstStep = 1,
  } = options;
  const rng = new Rng(seed);
  const runId = options.runId ?? store.runs.create({ name: runName, scenario, config: {} }).id;
  const seeded: SeededRun = { runId, groupIds: [], sampleIds: [] };
  for (let step = firstStep; step < firstStep + groups; step++) {
    const target = sampleScene(rng, 1);
    const prompt = store.prompts.ensure(runId, { text: `a ${describeObject(target.objects[0]!)}`, task: 'single_object' });
    // Sample 0 shows the prompt's scene (reward 1); the others are random scenes with random rewards.
    // Every fifth group has equal rewards, so the zero-std flag shows.
    const equal = step % 5 === 0;
    const rewards = Array.from({ length: groupSize }, (_, index) => (equal ? 0.5 : index === 0 ? 1 : rng.next()));
    const mean = rewards.reduce((a, b) => a + b, 0) / groupSize;
    const std = Math.sqrt(rewards.reduce((a, r) => a + (r - mean) ** 2, 0) / groupSize);
    const samples = rewards.map((value, index): SampleInput => {
      const scene = index === 0 ? target : sampleScene(rng, 1 + rng.int(2));
      return {
        seed: seed * 1000 + step * 100 + index,
        image: images ? rgbOf(scene) : null,
        rewards: [
          { name: 'shapeeval', value, weight: 1 },
          { name: 'format', value: index % 2, weight: 0.1 },
        ],
        advantage: std > 0 ? (value - mean) / std : 0,
        ...(trajectories
          ? { text: `<think>draw ${describeObject(scene.objects[0]!)}</think>`, trajectories: trajectoriesFor(scene, rng) }
          : {}),
      };
    });
    const { groupId, sampleIds } = store.groups.insert({
      runId,
      step,
      promptId: prompt.id,
      samples,
      ranking: pending ? 'pending' : 'none',
    });
    seeded.groupIds.push(groupId);
    seeded.sampleIds.push(sampleIds);
  }
  return seeded;
}

/**
 * A checkpoint of `runId` at `step` under `dataDir`/runs/<id>/checkpoints, recorded in the store: a
 * safetensors file with the metadata the trainer writes (the ShapeWorld tokenizer among it) and one
 * placeholder tensor instead of the weights (readers of the tokenizer look at the header only).
 */
export function seedCheckpoint(store: Store, dataDir: string, runId: number, step: number): string {
  const dir = join(dataDir, 'runs', String(runId), 'checkpoints');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `step-${String(step).padStart(6, '0')}.safetensors`);
  const metadata = { preset: 'nano', tokenizer: JSON.stringify(shapeWorldTokenizer().toJSON()), step: String(step), run: String(runId) };
  writeSafetensors(path, [['lm/placeholder', { shape: [1], data: new Float32Array(1) }]], metadata);
  store.checkpoints.add({ runId, step, path, metadata });
  return path;
}

/** The former entry point: groups written into a data dir, all in the ranking queue. */
export function seedRolloutGroups(dataDir: string, options: GroupSeedOptions = {}): SeededRun {
  return withStore(dataDir, (store) => seedGroups(store, options));
}

export const SEEDED_METRICS = [
  'reward/shapeeval',
  'reward/format',
  'frac_reward_zero_std',
  'kl/lm',
  'kl/dm',
  'clip_frac/dm',
  'loss/policy_dm',
  'entropy/lm',
  'eval/shapeeval',
];

/** Training curves through store.metrics.log for steps 1..steps (eval every 5 steps), shaped like a run that learns. */
export function seedMetrics(store: Store, runId: number, steps: number, options: { offset?: number; firstStep?: number } = {}): void {
  const { offset = 0, firstStep = 1 } = options;
  for (let step = firstStep; step <= steps; step++) {
    const progress = step / 40;
    const values: Record<string, number> = {
      'reward/shapeeval': Math.min(0.95, 0.45 + progress * 0.4 + offset + 0.03 * Math.sin(step)),
      'reward/format': 0.9 + 0.05 * Math.cos(step / 3),
      frac_reward_zero_std: Math.max(0, 0.3 - progress * 0.2 + 0.02 * Math.sin(step * 1.7)),
      'kl/lm': 0.001 * step,
      'kl/dm': 0.002 * step * (1 + offset),
      'clip_frac/dm': 0.05 + 0.02 * Math.sin(step / 2),
      'loss/policy_dm': -0.01 * Math.sin(step / 4),
      'entropy/lm': 2 - progress,
    };
    if (step % 5 === 0) values['eval/shapeeval'] = 0.5 + progress * 0.3 + offset;
    store.metrics.log(runId, step, values);
    store.runs.setStep(runId, step);
  }
}

/** A second and third annotator rank the first groups (for agreement); returns how many rankings were written. */
export function seedRankings(store: Store, seeded: SeededRun, annotators: string[], groups: number): number {
  let written = 0;
  seeded.sampleIds.slice(0, groups).forEach((members, g) => {
    annotators.forEach((annotator, a) => {
      // Annotator 0 ranks by index; the others swap one neighbouring pair each, so they mostly agree.
      const order = members.map((_, i) => i);
      if (a > 0)
        [order[a % members.length], order[(a + 1) % members.length]] = [order[(a + 1) % members.length]!, order[a % members.length]!];
      store.rankings.submit({
        groupId: seeded.groupIds[g]!,
        annotator,
        durationMs: 1000 + a,
        ranks: order.map((memberIndex, position) => ({ sampleId: members[memberIndex]!, rank: position + 1 })),
      });
      written++;
    });
  });
  return written;
}

export interface SeededCycles {
  runId: number;
  cycleIds: number[];
  roundIds: number[];
}

/** A reflection run: each member's image judged, critiqued and refined over two rounds. */
export function seedReflections(store: Store, seed = 3): SeededCycles {
  const rng = new Rng(seed);
  const seeded = seedGroups(store, { groups: 1, groupSize: 2, seed, scenario: 'reflect', runName: 'reflection fixture', pending: false });
  const out: SeededCycles = { runId: seeded.runId, cycleIds: [], roundIds: [] };
  for (const sampleId of seeded.sampleIds[0]!) {
    const refined1 = store.samples.insertDerived(sampleId, { seed: 1, image: rgbOf(sampleScene(rng, 1)), text: 'refined once' });
    const refined2 = store.samples.insertDerived(sampleId, { seed: 2, image: rgbOf(sampleScene(rng, 1)), text: 'refined twice' });
    const cycle = store.reflections.insert(sampleId, [
      {
        judgedSampleId: sampleId,
        refinedSampleId: refined1,
        critique: 'The circle should be red, not blue. Corrected: a red circle.',
        verdict: 'wrong',
        scorerVerdict: 'wrong',
        reward: 0.2,
      },
      {
        judgedSampleId: refined1,
        refinedSampleId: refined2,
        critique: 'There is one shape too many.',
        verdict: 'wrong',
        scorerVerdict: 'correct',
        reward: 0.6,
      },
      { judgedSampleId: refined2, critique: 'The image is right.', verdict: 'correct', scorerVerdict: 'correct', reward: 1 },
    ]);
    out.cycleIds.push(cycle.id);
    out.roundIds.push(...cycle.rounds.map((r) => r.id));
  }
  return out;
}

/** An edit run: for each member, a rendered source, the edited member, and a reconstruction. */
export function seedEdits(store: Store, seed = 5): { runId: number; editIds: number[] } {
  const rng = new Rng(seed);
  const seeded = seedGroups(store, { groups: 1, groupSize: 3, seed, scenario: 'edit', runName: 'edit fixture', pending: false });
  const editIds = seeded.sampleIds[0]!.map((editedSampleId, i) => {
    const source = sampleScene(rng, 1);
    const reconstruction = store.samples.insertDerived(editedSampleId, { seed: i, image: rgbOf(source) });
    return store.edits.insert({
      editedSampleId,
      sourceImage: rgbOf(source),
      reconstructionSampleId: reconstruction,
      instruction: `make the ${source.objects[0]!.shape} green`,
      inverseInstruction: `make the ${source.objects[0]!.shape} ${source.objects[0]!.color}`,
      compliance: 0.5 + i * 0.2,
      preservation: 0.9,
      cycleScore: 0.8 - i * 0.1,
    }).id;
  });
  return { runId: seeded.runId, editIds };
}

/** A completed evaluation of `checkpointPath` (null = base) on two tasks with some failures and their images. */
export function seedEvaluation(
  store: Store,
  options: { runId?: number | null; checkpointPath?: string | null; accuracy: number; seed?: number },
): number {
  const rng = new Rng(options.seed ?? 9);
  const evaluation = store.evaluations.start({
    runId: options.runId ?? null,
    checkpointPath: options.checkpointPath ?? null,
    suite: 'geneval',
  });
  const tasks = ['single_object', 'counting'];
  const summary: Record<string, number> = {};
  for (const [t, task] of tasks.entries()) {
    const results = Array.from({ length: 8 }, (_, i) => {
      const scene = sampleScene(rng, 1);
      const correct = i / 8 < options.accuracy - t * 0.25;
      return {
        task,
        prompt: `a ${describeObject(scene.objects[0]!)}`,
        imageIndex: i % 4,
        correct,
        reward: correct ? 1 : 0.25,
        reason: correct ? 'ok' : `expected 1 ${describeObject(scene.objects[0]!)}, found 0`,
        image: rgbOf(scene),
      };
    });
    store.evaluations.addResults(evaluation.id, results);
    summary[task] = results.filter((r) => r.correct).length / results.length;
  }
  store.evaluations.complete(evaluation.id, {
    tasks: tasks.map((task) => ({ task, accuracy: summary[task]! })),
    overall: tasks.reduce((s, task) => s + summary[task]!, 0) / tasks.length,
  });
  return evaluation.id;
}
