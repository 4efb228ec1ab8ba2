// Edit RL drift check (docs/results.md, "Why: the DiT drifts"): GRPO on the same two edit items every step
// (SDE rollouts), then the ODE edits of those items (16 seeds each) before and after. A sound update raises
// the SDE reward; the ODE columns show whether the unchanged part of the scene survives it.
// Usage: node --import tsx bench/edit-drift.ts [--lr 1e-4] [--steps 40] [--noise 0.7] [--kl 3e-4] [--unscaled]
//   [--checkpoint PATH] [--json out.json]
// GRPO's std-scaled advantages, as measured in docs/results.md; --unscaled: the edit preset's Dr. GRPO ones.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../db/store.ts';
import { DEFAULT_CHECKPOINT } from '../main/models/generator.ts';
import { UnifiedModel } from '../main/models/unified.ts';
import { resolveTrainConfig } from '../main/rl/config.ts';
import { shapeWorldTasks } from '../main/rl/tasks.ts';
import { train } from '../main/rl/trainer.ts';
import { UnifiedPolicy } from '../main/rl/unified.ts';
import { scoreEdit, type Edit } from '../main/world/edits.ts';
import { createGenerator } from '../main/world/generators.ts';
import type { ImageRGB } from '../main/world/image.ts';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : fallback);
const lr = Number(flag('lr', '1e-4'));
const steps = Number(flag('steps', '40'));
const noiseLevel = Number(flag('noise', '0.7'));
const klBeta = Number(flag('kl', '3e-4'));
const checkpoint = flag('checkpoint', DEFAULT_CHECKPOINT);
const jsonPath = args.includes('--json') ? flag('json', '') : undefined;
const advantage = args.includes('--unscaled') ? 'none' : 'groupStd';
const SEEDS = 16;

const dir = mkdtempSync(join(tmpdir(), 'unirl-edit-drift-'));
const tasks = shapeWorldTasks('edit', { seed: 7 });
const items = tasks.next(2, 3);

/** Per item: mean object term, mean similarity of the unchanged part, fraction of right edits (ODE, 16 seeds). */
async function odeScores(weights: string) {
  const generator = await createGenerator('model', { checkpoint: weights, threads: 1 });
  try {
    const out = [];
    for (const item of items) {
      const { edit, source } = item.target.edit as { edit: Edit; source: ImageRGB };
      const images = await generator.edit!(
        Array.from({ length: SEEDS }, (_, k) => ({ source, instruction: edit.instruction, seed: 1000 + k })),
      );
      const scores = images.map((image) => scoreEdit(image, source, edit));
      const mean = (f: (s: (typeof scores)[number]) => number) => Number((scores.reduce((a, s) => a + f(s), 0) / SEEDS).toFixed(3));
      out.push({
        instruction: edit.instruction,
        objectTerm: mean((s) => s.objectTerm),
        similarity: mean((s) => s.similarity),
        correct: mean((s) => (s.correct ? 1 : 0)),
      });
    }
    return out;
  } finally {
    await generator.dispose!();
  }
}

const store = openStore(join(dir, 'runs.sqlite'));
try {
  const before = await odeScores(checkpoint);
  const config = resolveTrainConfig('edit', undefined, {
    steps,
    runtime: { threads: 1 },
    optim: { lr: { dm: lr } },
    eval: { every: 0 },
    checkpointEvery: 1_000_000,
    loss: { dm: { klBeta }, advantage },
    rewards: { editCompliance: 4, editPreservation: 2, cycle: 0 },
    edit: { cycle: false },
    rollout: { storeLatents: false, promptsPerStep: items.length, noiseLevel },
  });
  const { model, metadata } = UnifiedModel.load(checkpoint, { threads: 1 });
  const rewards: number[] = [];
  const result = await train(
    {
      config,
      store,
      dataDir: dir,
      policy: new UnifiedPolicy(model, 'edit', metadata),
      tasks: { ...tasks, next: (count) => items.slice(0, count) },
      onStep: (s) => void rewards.push(s.metrics['reward/mean']!),
    },
    { progress() {}, checkCancelled() {} },
  );
  await model.dispose();
  const window = Math.min(10, rewards.length);
  const meanOf = (xs: number[]) => Number((xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(3));
  const report = {
    settings: { lr, steps, noiseLevel, klBeta, checkpoint },
    sdeReward: { first: meanOf(rewards.slice(0, window)), last: meanOf(rewards.slice(-window)), window },
    odeBefore: before,
    odeAfter: await odeScores(result.checkpoint!),
  };
  console.log(JSON.stringify(report, null, 2));
  if (jsonPath) writeFileSync(jsonPath, JSON.stringify(report, null, 2) + '\n');
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
