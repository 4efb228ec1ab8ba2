// ShapeEval's fixed, seeded suites: GenEval-sized prompt sets per task, and the vague-prompt, edit,
// question, reflection and refine (full critique -> refinement cycle) suites. A suite is a pure function of its name and seed.
import { EDIT_KINDS, sampleEdit, type Edit } from './edits.ts';
import { samplePrompt } from './prompts.ts';
import { QUESTION_TYPES, sampleQuestionPair, type QuestionPair } from './questions.ts';
import { REFLECTION_ERRORS, sampleReflection, type ReflectionExample } from './reflection.ts';
import { Rng, mixSeeds } from './rng.ts';
import { GENEVAL_TASKS, type GenevalTask, type PromptSpec } from './spec.ts';
import { HARD_VAGUE_FORMS, sampleHardVaguePrompt, sampleVaguePrompt, type VaguePrompt } from './vague.ts';

export interface TextToImageItem {
  id: string;
  prompt: string;
  spec: PromptSpec;
}
export interface EditItem {
  id: string;
  edit: Edit;
}
export interface QuestionItem {
  id: string;
  pair: QuestionPair;
}
export interface CritiqueItem {
  id: string;
  example: ReflectionExample;
}
/** A vague prompt to be answered in text with a concrete rewrite; `reference` is one right rewrite. */
export interface RewriteItem {
  id: string;
  prompt: string;
  spec: PromptSpec;
  reference: string;
}

export type SuiteTask =
  | { name: string; kind: 'text_to_image'; items: TextToImageItem[] }
  | { name: string; kind: 'edit'; items: EditItem[] }
  | { name: string; kind: 'question'; items: QuestionItem[] }
  | { name: string; kind: 'critique'; items: CritiqueItem[] }
  | { name: string; kind: 'rewrite'; items: RewriteItem[] }
  /** Reflection cycles: the prompt drawn, then up to `rounds` critique -> refinement rounds. Samples are seeded
   *  as task `seedTask`'s, so a cycle's first image is that task's single-shot image of the same prompt. */
  | { name: string; kind: 'reflect'; items: TextToImageItem[]; rounds: number; seedTask: string };

export interface Suite {
  name: string;
  description: string;
  seed: number;
  /** Images generated per prompt or edit item (GenEval: 4; refine: 2 cycles). Questions, critiques and rewrites get one answer each. */
  samplesPerItem: number;
  tasks: SuiteTask[];
}

export const DEFAULT_SUITE_SEED = 20251017;
/** Prompts per task, as in GenEval (553 in all). */
export const GENEVAL_SIZES: Readonly<Record<GenevalTask, number>> = {
  single_object: 80,
  two_object: 99,
  counting: 80,
  colors: 94,
  position: 100,
  color_attr: 100,
};

/** The refine suite: the first prompts of each GenEval task, critique -> refinement rounds per cycle (K). */
export const REFINE_PROMPTS_PER_TASK = 20;
export const REFINE_ROUNDS = 2;

/** Samples per item where a suite's default is not GenEval's 4. */
const DEFAULT_SAMPLES: Readonly<Record<string, number>> = { refine: 2 };

const DESCRIPTIONS: Record<string, string> = {
  geneval: 'the six GenEval tasks, 553 prompts x 4 images',
  vague: 'vague prompts checked against their constraint sets, 4 forms x 25 prompts x 4 images',
  rewrite: 'the vague prompts answered in text (reasoning, then a concrete rewrite checked against the constraints), 4 forms x 25',
  'rewrite-hard': 'harder vague prompts answered in text: two riddles, a riddled count, riddles on both sides of a relation; 3 forms x 40',
  edit: 'edit instructions checked against target scenes and unchanged pixels, 5 kinds x 40 x 4 images',
  question: 'MME-style yes/no question pairs, 4 types x 80 images (accuracy and accuracy+)',
  reflection: 'critiques of wrong images (20 per error kind) and regeneration from the corrected prompt',
  refine:
    `the reflection cycle on GenEval prompts (${REFINE_PROMPTS_PER_TASK} per task x 2): ` +
    `first image, then up to ${REFINE_ROUNDS} critique -> refine rounds`,
};
for (const task of GENEVAL_TASKS) DESCRIPTIONS[task] = `GenEval task ${task}, ${GENEVAL_SIZES[task]} prompts x 4 images`;

export const SUITE_NAMES: readonly string[] = [
  'geneval',
  ...GENEVAL_TASKS,
  'vague',
  'rewrite',
  'rewrite-hard',
  'edit',
  'question',
  'reflection',
  'refine',
];

export interface SuiteOptions {
  seed?: number;
  /** Caps items per task (quick runs); the first `limit` items of the full suite. */
  limit?: number;
  samplesPerItem?: number;
}

/** Draws `n` items, preferring ones whose key is new (small spaces like single_object repeat). */
function distinct<T>(n: number, draw: () => T, key: (item: T) => string): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  while (out.length < n) {
    let item = draw();
    for (let tries = 0; tries < 30 && seen.has(key(item)); tries++) item = draw();
    seen.add(key(item));
    out.push(item);
  }
  return out;
}

function genevalTask(task: GenevalTask, seed: number): SuiteTask {
  const rng = new Rng(mixSeeds(seed, GENEVAL_TASKS.indexOf(task)));
  const prompts = distinct(
    GENEVAL_SIZES[task],
    () => samplePrompt(task, rng),
    (p) => p.text,
  );
  return { name: task, kind: 'text_to_image', items: prompts.map((p, i) => ({ id: `${task}-${i}`, prompt: p.text, spec: p.spec })) };
}

const VAGUE_FORMS = ['object', 'colored_object', 'count', 'relation'] as const;

/** The vague suite's prompts per form (the `rewrite` suite asks the same ones). */
function vaguePrompts(seed: number): { form: (typeof VAGUE_FORMS)[number]; prompts: VaguePrompt[] }[] {
  return VAGUE_FORMS.map((form, f) => {
    const rng = new Rng(mixSeeds(seed, 100 + f));
    return {
      form,
      prompts: distinct(
        25,
        () => sampleVaguePrompt(rng, form),
        (v) => v.text,
      ),
    };
  });
}

function tasksOf(name: string, seed: number): SuiteTask[] {
  if ((GENEVAL_TASKS as readonly string[]).includes(name)) return [genevalTask(name as GenevalTask, seed)];
  switch (name) {
    case 'geneval':
      return GENEVAL_TASKS.map((t) => genevalTask(t, seed));
    case 'vague':
      return vaguePrompts(seed).map(({ form, prompts }) => ({
        name: `vague_${form}`,
        kind: 'text_to_image' as const,
        items: prompts.map((v, i) => ({ id: `vague_${form}-${i}`, prompt: v.text, spec: v.spec })),
      }));
    case 'rewrite':
      // Item i of rewrite_FORM is item i of vague_FORM (same prompt): text and image reasoning compare prompt by prompt.
      return vaguePrompts(seed).map(({ form, prompts }) => ({
        name: `rewrite_${form}`,
        kind: 'rewrite' as const,
        items: prompts.map((v, i) => ({ id: `rewrite_${form}-${i}`, prompt: v.text, spec: v.spec, reference: v.rewrite })),
      }));
    case 'rewrite-hard':
      return HARD_VAGUE_FORMS.map((form, f) => {
        const rng = new Rng(mixSeeds(seed, 150 + f));
        const prompts = distinct(
          40,
          () => sampleHardVaguePrompt(rng, form),
          (v) => v.text,
        );
        return {
          name: `rewrite_${form}`,
          kind: 'rewrite' as const,
          items: prompts.map((v, i) => ({ id: `rewrite_${form}-${i}`, prompt: v.text, spec: v.spec, reference: v.rewrite })),
        };
      });
    case 'edit':
      return EDIT_KINDS.map((kind, k) => {
        const rng = new Rng(mixSeeds(seed, 200 + k));
        return {
          name: `edit_${kind}`,
          kind: 'edit' as const,
          items: Array.from({ length: 40 }, (_, i) => ({ id: `edit_${kind}-${i}`, edit: sampleEdit(rng, kind) })),
        };
      });
    case 'question':
      return QUESTION_TYPES.map((type, k) => {
        const rng = new Rng(mixSeeds(seed, 300 + k));
        return {
          name: `question_${type}`,
          kind: 'question' as const,
          items: Array.from({ length: 80 }, (_, i) => ({ id: `question_${type}-${i}`, pair: sampleQuestionPair(rng, type) })),
        };
      });
    case 'reflection': {
      const rng = new Rng(mixSeeds(seed, 400));
      const examples = REFLECTION_ERRORS.flatMap((error) => Array.from({ length: 20 }, () => sampleReflection(rng, error)));
      return [
        { name: 'reflection_critique', kind: 'critique', items: examples.map((example, i) => ({ id: `reflection-${i}`, example })) },
        {
          name: 'reflection_correction',
          kind: 'text_to_image',
          items: examples.map((e, i) => ({ id: `reflection-${i}`, prompt: e.correctedPrompt, spec: e.spec })),
        },
      ];
    }
    case 'refine':
      // The first prompts of each GenEval task, seeded as that task: first images are its single-shot images.
      return GENEVAL_TASKS.map((t) => {
        const items = genevalTask(t, seed).items.slice(0, REFINE_PROMPTS_PER_TASK) as TextToImageItem[];
        return {
          name: `refine_${t}`,
          kind: 'reflect' as const,
          items: items.map((item, i) => ({ ...item, id: `refine_${t}-${i}` })),
          rounds: REFINE_ROUNDS,
          seedTask: t,
        };
      });
    default:
      throw new Error(`unknown suite "${name}"; suites: ${SUITE_NAMES.join(', ')}`);
  }
}

/** Name, description and item count of every suite (what the app's suite picker lists). Counts are
 *  computed once; building the reflection suite takes a few hundred milliseconds. */
export function listSuites(): { name: string; description: string; prompts: number }[] {
  suiteListCache ??= SUITE_NAMES.map((name) => {
    const suite = buildSuite(name);
    // Reflection's two tasks share their examples: count items once per distinct id.
    const prompts = new Set(suite.tasks.flatMap((t) => t.items.map((i) => i.id))).size;
    return { name, description: suite.description, prompts };
  });
  return suiteListCache.map((s) => ({ ...s }));
}
let suiteListCache: { name: string; description: string; prompts: number }[] | undefined;

export function buildSuite(name: string, options: SuiteOptions = {}): Suite {
  const seed = options.seed ?? DEFAULT_SUITE_SEED;
  const samplesPerItem = options.samplesPerItem ?? DEFAULT_SAMPLES[name] ?? 4;
  if (!Number.isInteger(samplesPerItem) || samplesPerItem < 1)
    throw new Error(`samplesPerItem: must be a positive integer, got ${samplesPerItem}`);
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1))
    throw new Error(`limit: must be a positive integer, got ${options.limit}`);
  const tasks = tasksOf(name, seed).map((t) => (options.limit ? ({ ...t, items: t.items.slice(0, options.limit) } as SuiteTask) : t));
  return { name, description: DESCRIPTIONS[name] ?? name, seed, samplesPerItem, tasks };
}
