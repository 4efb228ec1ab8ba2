// `npm run bench:checkpoint -- [--repeats N] [--json out.json]`: what a checkpoint of the shipped base model
// costs (weights and AdamW moments, as the trainer saves them): seconds to write and bytes on disk. Tells
// what checkpointing every step would cost against a training step (docs/reliability.md).
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveCheckpoint } from '../main/engine/checkpoint/checkpoint.ts';
import { AdamW } from '../main/engine/optim/adamw.ts';
import { DEFAULT_CHECKPOINT } from '../main/models/generator.ts';
import { UnifiedModel } from '../main/models/unified.ts';

const args = process.argv.slice(2);
const repeats = Number(args.includes('--repeats') ? args[args.indexOf('--repeats') + 1] : 5);
const jsonPath = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;

const { model } = UnifiedModel.load(DEFAULT_CHECKPOINT, { threads: 1 });
const optimizer = new AdamW(model.store, { lr: 1e-5 });
const dir = mkdtempSync(join(tmpdir(), 'unirl-checkpoint-cost-'));
const seconds: number[] = [];
let bytes = 0;
try {
  for (let i = 0; i < repeats; i++) {
    const path = join(dir, `step-${i}.safetensors`);
    const t0 = performance.now();
    saveCheckpoint(path, model.store, { optimizer, metadata: { step: String(i) } });
    seconds.push((performance.now() - t0) / 1000);
    // The weights and, beside them, the optimizer's moments.
    bytes = readdirSync(dir)
      .filter((f) => f.startsWith(`step-${i}.`))
      .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  await model.dispose();
}
const sorted = [...seconds].sort((a, b) => a - b);
const result = {
  parameters: model.store.list().reduce((n, p) => n + p.size, 0),
  bytes,
  medianSeconds: sorted[Math.floor(sorted.length / 2)],
  seconds,
};
console.log(JSON.stringify(result));
if (jsonPath) writeFileSync(jsonPath, JSON.stringify(result, null, 2) + '\n');
