// ShapeEval on anyone's images: GenEval's evaluation layout (djghosh13/geneval), one folder per prompt:
//   <dir>/00000/metadata.jsonl   {"tag": "counting", "prompt": "...", "include": [{"class": "circle", "count": 3}],
//                                  "exclude": [{"class": "circle", "count": 4}]}
//   <dir>/00000/samples/0000.png  any number of PNGs, any size
// writePromptFolder writes a suite's prompts in it for another model to draw; scoreImageFolder judges what was
// drawn with GenEval's rules (objects the prompt does not mention do not fail an image) or, with rule
// 'strict', ShapeWorld's (any object beyond the asked ones fails it), and reports per task (the tag).
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SampleRecord, SuiteReport, TaskReport } from './benchmark.ts';
import { score } from './evaluate.ts';
import type { ImageRGB } from './image.ts';
import { decodePng } from './png.ts';
import { COLORS, SHAPES, type ColorName, type Shape } from './scene.ts';
import { RELATIONS, validateSpec, type ObjectKindSet, type PromptSpec, type Relation } from './spec.ts';
import type { Suite } from './suites.ts';

export const FOLDER_RULES = ['geneval', 'strict'] as const;
export type FolderRule = (typeof FOLDER_RULES)[number];

/** One GenEval object clause: a class (here a shape), how many, optionally its colour and its position. */
interface MetadataObject {
  class: string;
  count: number;
  color?: string;
  position?: [string, number];
}

export interface PromptMetadata {
  tag: string;
  prompt: string;
  include: MetadataObject[];
  exclude?: MetadataObject[];
}

const PROMPT_FOLDER = /^\d+$/;

/** GenEval's clause for one object kind; only concrete kinds (one shape, at most one colour) have one. */
function clauseOf(kind: ObjectKindSet & { count: number }, where: string): MetadataObject {
  if (kind.shapes.length !== 1 || (kind.colors && kind.colors.length !== 1)) {
    throw new Error(
      `${where}: GenEval's layout names one class and at most one colour per object; this prompt allows a set (${kind.shapes.join('|')})`,
    );
  }
  return { class: kind.shapes[0]!, count: kind.count, ...(kind.colors ? { color: kind.colors[0]! } : {}) };
}

export function metadataOf(tag: string, prompt: string, spec: PromptSpec): PromptMetadata {
  return {
    tag,
    prompt,
    include: spec.include.map((req, i) => ({
      ...clauseOf(req, `"${prompt}" include[${i}]`),
      ...(req.position ? { position: [req.position.relation, req.position.target] as [string, number] } : {}),
    })),
    ...(spec.exclude.length ? { exclude: spec.exclude.map((ex, i) => clauseOf(ex, `"${prompt}" exclude[${i}]`)) } : {}),
  };
}

/** The spec a metadata line asks for; errors name the file and the field. */
export function specOf(metadata: unknown, rule: FolderRule, where: string): { tag: string; prompt: string; spec: PromptSpec } {
  const fail = (why: string): never => {
    throw new Error(`${where}: ${why}`);
  };
  if (typeof metadata !== 'object' || metadata === null) fail('metadata must be a JSON object');
  const m = metadata as Partial<PromptMetadata>;
  if (typeof m.prompt !== 'string') fail('"prompt" must be a string');
  if (!Array.isArray(m.include) || m.include.length === 0) fail('"include" must list at least one object');
  if (m.exclude !== undefined && !Array.isArray(m.exclude)) fail('"exclude" must be a list');
  const kind = (o: MetadataObject, field: string): ObjectKindSet & { count: number } => {
    if (typeof o !== 'object' || o === null) fail(`${field} must be an object`);
    if (!SHAPES.includes(o.class as Shape)) fail(`${field}.class "${String(o.class)}" is not a ShapeWorld shape (${SHAPES.join(', ')})`);
    if (!Number.isInteger(o.count) || o.count < 1) fail(`${field}.count must be a positive integer, got ${JSON.stringify(o.count)}`);
    if (o.color !== undefined && !COLORS.includes(o.color as ColorName))
      fail(`${field}.color "${String(o.color)}" is not a ShapeWorld colour (${COLORS.join(', ')})`);
    return { shapes: [o.class as Shape], count: o.count, ...(o.color !== undefined ? { colors: [o.color as ColorName] } : {}) };
  };
  const include = m.include!.map((o, i) => {
    const req = kind(o, `include[${i}]`);
    if (o.position === undefined) return req;
    const [relation, target] = Array.isArray(o.position) ? o.position : [];
    if (!RELATIONS.includes(relation as Relation))
      fail(`include[${i}].position must be [relation, target] with a relation of ${RELATIONS.join(', ')}`);
    return { ...req, position: { relation: relation as Relation, target: Number(target) } };
  });
  const spec: PromptSpec = {
    task: 'single_object', // the report groups by tag; the spec's task is not read by the check
    include,
    exclude: (m.exclude ?? []).map((o, i) => kind(o, `exclude[${i}]`)),
    allowOthers: rule === 'geneval',
  };
  try {
    validateSpec(spec);
  } catch (error) {
    fail((error as Error).message);
  }
  return { tag: typeof m.tag === 'string' && m.tag ? m.tag : 'untagged', prompt: m.prompt!, spec };
}

/** Writes every text-to-image prompt of the suite as <dir>/NNNNN/metadata.jsonl (+ an empty samples/). */
export function writePromptFolder(suite: Suite, dir: string): { prompts: number; tasks: string[] } {
  const tasks = suite.tasks.filter((t) => t.kind === 'text_to_image');
  if (tasks.length === 0) throw new Error(`suite "${suite.name}" has no text-to-image prompts to write`);
  if (existsSync(dir) && readdirSync(dir).some((name) => PROMPT_FOLDER.test(name))) {
    throw new Error(`${dir} already holds prompt folders; choose an empty folder (images already drawn there are not overwritten)`);
  }
  let index = 0;
  for (const task of tasks) {
    for (const item of task.items) {
      const folder = join(dir, String(index++).padStart(5, '0'));
      mkdirSync(join(folder, 'samples'), { recursive: true });
      writeFileSync(join(folder, 'metadata.jsonl'), JSON.stringify(metadataOf(task.name, item.prompt, item.spec)) + '\n');
    }
  }
  return { prompts: index, tasks: tasks.map((t) => t.name) };
}

export interface FolderOptions {
  rule?: FolderRule;
  /** Every scored image with its record (for --jsonl). */
  onRecord?: (record: SampleRecord, image: ImageRGB) => void;
}

/** Scores every PNG under <dir>/NNNNN/samples against its folder's metadata; one task row per tag. */
export function scoreImageFolder(dir: string, options: FolderOptions = {}): SuiteReport {
  const started = Date.now();
  const rule = options.rule ?? 'geneval';
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: no such folder`);
  const folders = readdirSync(dir)
    .filter((name) => PROMPT_FOLDER.test(name) && statSync(join(dir, name)).isDirectory())
    .sort();
  if (folders.length === 0) throw new Error(`${dir}: no prompt folders (expected NNNNN/metadata.jsonl and NNNNN/samples/*.png)`);
  const byTag = new Map<string, { items: number; samples: number; correct: number; reward: number }>();
  const sizes = new Set<string>();
  let width = 0,
    height = 0;
  for (const name of folders) {
    const metadataPath = join(dir, name, 'metadata.jsonl');
    if (!existsSync(metadataPath)) throw new Error(`${metadataPath}: missing`);
    let metadata: unknown;
    try {
      metadata = JSON.parse(readFileSync(metadataPath, 'utf8').split('\n')[0]!);
    } catch (error) {
      throw new Error(`${metadataPath}: not valid JSON (${(error as Error).message})`);
    }
    const { tag, prompt, spec } = specOf(metadata, rule, metadataPath);
    const samplesDir = join(dir, name, 'samples');
    const pngs = existsSync(samplesDir)
      ? readdirSync(samplesDir)
          .filter((f) => f.toLowerCase().endsWith('.png'))
          .sort()
      : [];
    if (pngs.length === 0) throw new Error(`${samplesDir}: no PNG images (draw the prompt "${prompt}" into it)`);
    const row = byTag.get(tag) ?? { items: 0, samples: 0, correct: 0, reward: 0 };
    byTag.set(tag, row);
    row.items++;
    pngs.forEach((file, sample) => {
      const path = join(samplesDir, file);
      let image: ImageRGB;
      try {
        image = decodePng(readFileSync(path));
      } catch (error) {
        throw new Error(`${path}: not a readable PNG (${(error as Error).message})`);
      }
      sizes.add(`${image.width}x${image.height}`);
      width = image.width;
      height = image.height;
      const result = score(image, spec);
      row.samples++;
      row.correct += result.correct ? 1 : 0;
      row.reward += result.reward;
      options.onRecord?.(
        {
          suite: dir,
          task: tag,
          item: name,
          sample,
          seed: 0,
          input: prompt,
          correct: result.correct,
          reward: result.reward,
          reason: result.reason,
          output: file,
        },
        image,
      );
    });
  }
  const tasks: TaskReport[] = [...byTag].map(([task, r]) => ({
    task,
    kind: 'text_to_image',
    items: r.items,
    samples: r.samples,
    accuracy: r.correct / r.samples,
    meanReward: r.reward / r.samples,
  }));
  return {
    suite: dir,
    generator: sizes.size > 1 ? `images (${rule} rule, sizes ${[...sizes].join(', ')})` : `images (${rule} rule)`,
    width: sizes.size === 1 ? width : 0,
    height: sizes.size === 1 ? height : 0,
    tasks,
    overall: tasks.reduce((sum, t) => sum + t.accuracy, 0) / tasks.length,
    elapsedMs: Date.now() - started,
  };
}
