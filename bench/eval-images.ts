// How far `unirl eval --images` can be trusted on images ShapeWorld did not render: the GenEval suite's
// prompts written as a GenEval-layout folder (as for another model), each drawn twice by an independent
// painter (bench/painter.ts: other colour values and backgrounds, its own triangle, anti-aliasing, pixel noise)
// - once as a scene that satisfies the prompt, once as the scene of another prompt of the same task - at each
// size, then scored through the same folder path as the CLI. Agreement: the share of images whose verdict
// equals the truth (the prompt checked on the objects the painter drew), under GenEval's rule and the strict one.
// Usage: npm run bench:eval-images -- [--json out.json] [--sizes 32,64,128,256] [--limit N] [--noise 0.03]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFlags } from '../main/cli/args.ts';
import {
  buildSuite,
  COLORS,
  encodePng,
  evaluateObjects,
  mixSeeds,
  placeObjects,
  Rng,
  sampleSceneForSpec,
  SHAPES,
  scoreImageFolder,
  writePromptFolder,
  type FolderRule,
  type PromptSpec,
  type SampleRecord,
} from '../main/world/index.ts';
import { paint, paintedObjectsForEval, type PaintedObject } from './painter.ts';

const { flags } = parseFlags(process.argv.slice(2), { json: 'string', sizes: 'string', limit: 'string', noise: 'string', seed: 'string' });
const sizes = (flags.sizes ?? '32,48,64,128,256').split(',').map(Number);
const noise = Number(flags.noise ?? 0.03);
const seed = Number(flags.seed ?? 7);
if (sizes.some((s) => !Number.isInteger(s) || s < 16) || !(noise >= 0) || !Number.isInteger(seed))
  throw new Error('--sizes: integers >= 16; --noise: >= 0; --seed: integer');

const suite = buildSuite('geneval', flags.limit ? { limit: Number(flags.limit) } : {});
const items = suite.tasks.flatMap((task) => task.items.map((item) => ({ task: task.name, spec: (item as { spec: PromptSpec }).spec })));

/** The two scenes of prompt i: one drawn for it, one drawn for another prompt of the same task; half of them
 *  with an object no prompt asked for (GenEval's rule ignores it unless a count or an exclusion sees it). */
function scenesOf(i: number): PaintedObject[][] {
  const rng = new Rng(mixSeeds(seed, i));
  const sameTask = items.filter((it) => it.task === items[i]!.task && it !== items[i]);
  const other = sameTask[rng.int(sameTask.length)]!;
  return [items[i]!.spec, other.spec].map((spec) => {
    let objects = sampleSceneForSpec(spec, rng).objects;
    if (objects.length < 4 && rng.next() < 0.5) {
      try {
        objects = placeObjects(rng, [{ shape: rng.pick(SHAPES), color: rng.pick(COLORS) }], () => true, objects);
      } catch {
        // no room for a distractor: the scene stays as it is
      }
    }
    return objects.map((o) => ({ shape: o.shape, color: o.color, x: o.x, y: o.y, size: o.size * rng.uniform(0.9, 1.05) }));
  });
}

interface SizeResult {
  size: number;
  images: number;
  /** Share of images whose truth (GenEval rule) is "correct". */
  truthCorrect: number;
  agreement: Record<FolderRule, number>;
  falsePass: Record<FolderRule, number>;
  falseFail: Record<FolderRule, number>;
  perTask: Record<string, number>;
  /** Every image judged against its truth (GenEval rule): the prompt, the truth and the scorer's reason. */
  disagreements: { image: string; prompt: string; truth: boolean; reason: string }[];
  seconds: number;
}

const results: SizeResult[] = [];
for (const size of sizes) {
  const dir = mkdtempSync(join(tmpdir(), `unirl-eval-images-${size}-`));
  try {
    writePromptFolder(suite, dir);
    const truth = new Map<string, Record<FolderRule, boolean>>();
    items.forEach((item, i) => {
      const rng = new Rng(mixSeeds(seed, size, i));
      scenesOf(i).forEach((objects, sample) => {
        const image = paint(objects, { size, noise, antialias: rng.next() < 0.75 }, rng);
        const folder = String(i).padStart(5, '0');
        writeFileSync(join(dir, folder, 'samples', `${String(sample).padStart(4, '0')}.png`), encodePng(image));
        const drawn = paintedObjectsForEval(objects);
        truth.set(`${folder}/${sample}`, {
          geneval: evaluateObjects(drawn, { ...item.spec, allowOthers: true }).correct,
          strict: evaluateObjects(drawn, { ...item.spec, allowOthers: false }).correct,
        });
      });
    });
    const started = performance.now();
    const row: SizeResult = {
      size,
      images: 0,
      truthCorrect: 0,
      agreement: { geneval: 0, strict: 0 },
      falsePass: { geneval: 0, strict: 0 },
      falseFail: { geneval: 0, strict: 0 },
      perTask: {},
      disagreements: [],
      seconds: 0,
    };
    const taskAgree = new Map<string, [number, number]>();
    for (const rule of ['geneval', 'strict'] as const) {
      const records: SampleRecord[] = [];
      scoreImageFolder(dir, { rule, onRecord: (r) => records.push(r) });
      for (const r of records) {
        const expected = truth.get(`${r.item}/${r.sample}`)![rule];
        if (r.correct === expected) row.agreement[rule]++;
        else if (r.correct) row.falsePass[rule]++;
        else row.falseFail[rule]++;
        if (rule === 'geneval') {
          if (r.correct !== expected)
            row.disagreements.push({ image: `${r.item}/${r.output}`, prompt: r.input, truth: expected, reason: r.reason });
          row.images++;
          if (expected) row.truthCorrect++;
          const t = taskAgree.get(r.task) ?? [0, 0];
          taskAgree.set(r.task, [t[0] + (r.correct === expected ? 1 : 0), t[1] + 1]);
        }
      }
    }
    for (const rule of ['geneval', 'strict'] as const) {
      row.agreement[rule] /= row.images;
      row.falsePass[rule] /= row.images;
      row.falseFail[rule] /= row.images;
    }
    row.truthCorrect /= row.images;
    row.perTask = Object.fromEntries([...taskAgree].map(([task, [agree, n]]) => [task, agree / n]));
    row.seconds = (performance.now() - started) / 1000;
    results.push(row);
    console.log(
      `${String(size).padStart(3)} px  ${row.images} images (${(100 * row.truthCorrect).toFixed(0)}% right)  ` +
        `agreement geneval ${row.agreement.geneval.toFixed(4)} ` +
        `(false pass ${row.falsePass.geneval.toFixed(4)}, false fail ${row.falseFail.geneval.toFixed(4)})  ` +
        `strict ${row.agreement.strict.toFixed(4)}  ` +
        `per task ${Object.entries(row.perTask)
          .map(([t, a]) => `${t} ${a.toFixed(3)}`)
          .join(', ')}  (${row.seconds.toFixed(1)} s to score both rules)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
if (flags.json)
  writeFileSync(flags.json, JSON.stringify({ noise, seed, prompts: items.length, antialiased: 0.75, results }, null, 2) + '\n');
