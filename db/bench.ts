// Store throughput on realistic rollouts: `node --import tsx db/bench.ts [dir]` prints JSON.
// A group: G=8 samples, 32x32 PNG images, LM trajectory (T=32 tokens), DM trajectory (S=10 trained steps
// of [3, 32, 32] float32 latents and means + log-probs), 3 reward components.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from './store.ts';
import type { SampleInput } from './repos/samples.ts';

const G = 8, SIDE = 32, S = 10, T = 32, GROUPS = 100;
const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'unirl-bench-'));
const store = openStore(join(dir, 'unirl.sqlite'));
const run = store.runs.create({ name: 'bench', scenario: 'cot', config: {} });
const prompt = store.prompts.ensure(run.id, { text: 'two red circles', task: 'counting' });

function sample(i: number): SampleInput {
  const rgb = new Uint8Array(SIDE * SIDE * 3).map((_, k) => (k * 7 + i * 13) % 256);
  const latent = () => Float32Array.from({ length: S * 3 * SIDE * SIDE }, () => Math.random());
  return {
    seed: i, image: { width: SIDE, height: SIDE, rgb }, text: 'reasoning '.repeat(10),
    rewards: [{ name: 'shapeeval', value: Math.random(), weight: 1 }, { name: 'format', value: 1, weight: 0.2 }, { name: 'human', value: 0, weight: 0.5 }],
    trajectories: [
      { kind: 'lm', tensors: { tokenIds: { dtype: 'int32', shape: [T], data: new Int32Array(T) }, logProbs: { dtype: 'float32', shape: [T], data: new Float32Array(T) } } },
      { kind: 'dm', tensors: { latents: { dtype: 'float32', shape: [S, 3, SIDE, SIDE], data: latent() }, means: { dtype: 'float32', shape: [S, 3, SIDE, SIDE], data: latent() },
        logProbs: { dtype: 'float32', shape: [S], data: new Float32Array(S) } } },
    ],
  };
}

const inputs = Array.from({ length: GROUPS }, (_, g) => Array.from({ length: G }, (_, i) => sample(g * G + i)));
let t0 = performance.now();
for (let g = 0; g < GROUPS; g++) store.groups.insert({ runId: run.id, step: g, promptId: prompt.id, samples: inputs[g], ranking: 'pending' });
const insertMs = (performance.now() - t0) / GROUPS;

t0 = performance.now();
for (let step = 0; step < 10_000; step++) store.metrics.log(run.id, step, { reward_mean: step, kl: 1, loss: 2, clip_frac: 0.1, entropy: 3 });
const metricsLogMs = (performance.now() - t0) / 10_000;

const time = (fn: () => unknown, n = 20) => { fn(); const t = performance.now(); for (let i = 0; i < n; i++) fn(); return (performance.now() - t) / n; };
const lastGroup = store.groups.list({ runId: run.id, order: 'desc', limit: 1 }).items[0].id;
const result = {
  groupSize: G, groups: GROUPS,
  insertGroupMs: +insertMs.toFixed(2),
  metricsLogStepMs: +metricsLogMs.toFixed(3),
  listGroupsPageMs: +time(() => store.groups.list({ runId: run.id, offset: 50, limit: 50 })).toFixed(2),
  groupDetailMs: +time(() => store.groups.detail(lastGroup)).toFixed(2),
  sampleTrajectoriesMs: +time(() => store.samples.trajectories(store.groups.memberIds(lastGroup)[0])).toFixed(2),
  rankingQueueMs: +time(() => store.rankings.queue({ annotator: 'ann', runId: run.id })).toFixed(2),
  metricSeries5x10kMs: +time(() => store.metrics.series({ runId: run.id, names: ['reward_mean', 'kl', 'loss', 'clip_frac', 'entropy'] }), 5).toFixed(2),
  dbMBPerGroup: +(statSync(join(dir, 'unirl.sqlite')).size / 2 ** 20 / GROUPS).toFixed(2),
};
store.close();
if (!process.argv[2]) rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify(result, null, 2));
