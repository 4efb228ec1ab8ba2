// ShapeWorld speed on one core (per second of CPU time): scenes rendered and images scored (32x32 and 64x64),
// plus the scorer's reliability numbers quoted in docs/shapeworld.md.
// Usage: node --import tsx bench/world.ts [--json out.json] [--quick]
import { writeFileSync } from 'node:fs';
import {
  GENEVAL_TASKS,
  Rng,
  renderSceneInto,
  sampleSceneForSpec,
  samplePrompt,
  sampleScene,
  score,
  type ImageRGB,
  type PromptSpec,
} from '../main/world/index.ts';
import { measureReliability } from '../main/world/reliability.ts';

const args = process.argv.slice(2);
const jsonPath = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
if (args.includes('--json') && !jsonPath) throw new Error('--json needs a file path');
const quick = args.includes('--quick');

/**
 * Runs `fn` repeatedly for about `ms` milliseconds (after a warm-up) and returns calls per second of this
 * process's CPU time: on a shared machine that is the one-core rate, where wall time would count the
 * time other processes held the core.
 */
function rate(fn: (i: number) => void, ms: number): number {
  for (let i = 0; i < 500; i++) fn(i);
  let calls = 0;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  while (performance.now() - start < ms) {
    for (let k = 0; k < 200; k++) fn(calls++);
  }
  const cpu = process.cpuUsage(cpuStart);
  return calls / ((cpu.user + cpu.system) / 1e6);
}

const results: Record<string, number> = {};
const rng = new Rng(1);
for (const size of [32, 64]) {
  const scenes = Array.from({ length: 1000 }, () => sampleScene(rng));
  const buffer = new Float32Array(size * size * 3);
  results[`render_per_s_${size}`] = rate((i) => renderSceneInto(scenes[i % scenes.length]!, buffer, size, size), quick ? 300 : 1500);
  const cases: { image: ImageRGB; spec: PromptSpec }[] = Array.from({ length: 1000 }, (_, i) => {
    const { spec } = samplePrompt(GENEVAL_TASKS[i % GENEVAL_TASKS.length]!, rng);
    const data = new Float32Array(size * size * 3);
    renderSceneInto(sampleSceneForSpec(spec, rng), data, size, size);
    return { image: { width: size, height: size, data }, spec };
  });
  results[`score_per_s_${size}`] = rate((i) => score(cases[i % cases.length]!.image, cases[i % cases.length]!.spec), quick ? 300 : 1500);
}
results.sample_and_render_per_s_32 = rate(
  () => {
    const buffer = new Float32Array(32 * 32 * 3);
    renderSceneInto(sampleScene(rng), buffer, 32, 32);
  },
  quick ? 300 : 1500,
);

const trials = quick ? 600 : 6000;
for (const degradation of ['clean', 'noise_blur'] as const) {
  results[`reliability_${degradation}_32`] = measureReliability(trials, 9, degradation).agreement;
}
results.reliability_trials = trials;

for (const [key, value] of Object.entries(results)) {
  console.log(
    `${key.padEnd(30)} ` +
      `${key.startsWith('reliability_') && key !== 'reliability_trials' ? value.toFixed(4) : Math.round(value).toLocaleString('en-US')}`,
  );
}
if (jsonPath) writeFileSync(jsonPath, JSON.stringify(results, null, 2) + '\n');
