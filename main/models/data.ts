// Supervised pretraining data drawn from ShapeWorld, in the formats of formats.ts. Every example is a pure
// function of the sampler's seed; images are rendered on the fly ([S, S, 3] floats in [0, 1]).
import { sampleEdit } from '../world/edits.ts';
import { phraseText, samplePrompt, sampleSceneForSpec } from '../world/prompts.ts';
import { QUESTION_TYPES, openQuestions, sampleQuestionPair, type QuestionType } from '../world/questions.ts';
import { sampleReflection } from '../world/reflection.ts';
import { renderScene } from '../world/render.ts';
import { Rng } from '../world/rng.ts';
import { COLORS, SHAPES, sampleScene, type Scene } from '../world/scene.ts';
import { GENEVAL_TASKS, type GenevalTask } from '../world/spec.ts';
import { SUITE_NAMES, buildSuite, type SuiteTask } from '../world/suites.ts';
import { sampleVaguePrompt } from '../world/vague.ts';
import type { QuerySet } from './connector.ts';
import { CORRECT_CRITIQUE, NO_FIX, formats } from './formats.ts';
import { WordTokenizer, type Tokenizer } from './tokenizer.ts';

/** An LM example: next-token loss on the completion only. */
export interface LmExample {
  image?: Float32Array;
  prompt: string;
  completion: string;
}

/** A DM example: flow loss on `target` given the text (and the source image for edits). */
export interface DmExample {
  /** Source image shown to the LM (editing). */
  image?: Float32Array;
  text: string;
  querySet: QuerySet;
  /** Source image given to the DiT as reference (editing). */
  ref?: Float32Array;
  target: Float32Array;
}

export const DM_KINDS = ['generate', 'edit', 'reason_generate'] as const;
export type DmKind = (typeof DM_KINDS)[number];
export const LM_KINDS = ['reason', 'question', 'caption', 'critique'] as const;
export type LmKind = (typeof LM_KINDS)[number];

/** Share of generation examples with an empty prompt, so the model learns the unconditional flow (CFG). */
export const UNCONDITIONAL_RATE = 0.1;
/** What the generated examples emphasise. Weights are integers: each entry is drawn `weight` times as often. */
export interface DataMix {
  /** Share of generation examples whose prompt is a dense caption of a random scene (else a GenEval-style prompt). */
  denseCaptionRate: number;
  /** The GenEval task of a prompt-drawn generation example. */
  tasks: Record<GenevalTask, number>;
  /** The type of a question example. */
  questionTypes: Record<QuestionType, number>;
  /** Whether question examples also ask open questions ("How many circles are there?") beside the yes/no pair. */
  openQuestions: boolean;
}

const evenly = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, 1])) as Record<K, number>;

export const DATA_MIXES = {
  /** The stream of pretraining stages 1-2 (base v1 and v2). */
  balanced: { denseCaptionRate: 0.5, tasks: evenly(GENEVAL_TASKS), questionTypes: evenly(QUESTION_TYPES), openQuestions: true },
  /**
   * Where base v2 was weakest: placing objects (position 0.12), binding colours to them (0.22), drawing two
   * (0.37), and relation questions (at chance). Stage 3 (base v3) continued v2 on it; the model card has what moved.
   */
  relations: {
    denseCaptionRate: 0.3,
    tasks: { single_object: 1, two_object: 2, counting: 1, colors: 1, position: 4, color_attr: 3 },
    questionTypes: { existence: 1, count: 1, color: 1, relation: 4 },
    openQuestions: false,
  },
} satisfies Record<string, DataMix>;
export type DataMixName = keyof typeof DATA_MIXES;
export const DATA_MIX_NAMES = Object.keys(DATA_MIXES) as DataMixName[];

/** The keys of `weights` in their order, each repeated by its weight: `rng.pick` of it draws by weight. */
function weightedList<K extends string>(keys: readonly K[], weights: Record<K, number>): K[] {
  return keys.flatMap((k) => Array<K>(weights[k]).fill(k));
}

const image = (scene: Scene, size: number) => renderScene(scene, { width: size }).data;

/** The scene described word by word: "two red circles and a blue square". */
export function captionOf(scene: Scene): string {
  const groups = new Map<string, { shape: (typeof SHAPES)[number]; color: (typeof COLORS)[number]; count: number }>();
  for (const o of scene.objects) {
    const key = `${o.color} ${o.shape}`;
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { shape: o.shape, color: o.color, count: 1 });
  }
  const phrases = [...groups.values()].map((g) => phraseText(g.count, g.shape, g.color));
  return phrases.length <= 1 ? (phrases[0] ?? 'nothing') : `${phrases.slice(0, -1).join(' , ')} and ${phrases.at(-1)}`;
}

export function dmExample(kind: DmKind, rng: Rng, size: number, mix: DataMix = DATA_MIXES.balanced): DmExample {
  switch (kind) {
    case 'generate': {
      // GenEval-style prompts and dense captions of random scenes (every object's colour and shape:
      // "recaptioning"), whose pixels depend on the text far more, so the DiT learns to read the condition.
      const dense = rng.next() < mix.denseCaptionRate;
      const prompt = dense ? undefined : samplePrompt(rng.pick(weightedList(GENEVAL_TASKS, mix.tasks)), rng);
      const scene = prompt ? sampleSceneForSpec(prompt.spec, rng) : sampleScene(rng);
      const text = rng.next() < UNCONDITIONAL_RATE ? '' : (prompt?.text ?? captionOf(scene));
      return { text: formats.generate(text), querySet: 'generate', target: image(scene, size) };
    }
    case 'edit': {
      const edit = sampleEdit(rng);
      const source = image(edit.source, size);
      return { image: source, ref: source, text: formats.edit(edit.instruction), querySet: 'edit', target: image(edit.target, size) };
    }
    case 'reason_generate': {
      const vague = sampleVaguePrompt(rng);
      const target = image(sampleSceneForSpec(vague.rewriteSpec, rng), size);
      return {
        text: `${formats.think(vague.text)} ${formats.thinkCompletion(vague.reasoning, vague.rewrite)}`,
        querySet: 'generate',
        target,
      };
    }
  }
}

export function lmExample(kind: LmKind, rng: Rng, size: number, mix: DataMix = DATA_MIXES.balanced): LmExample {
  switch (kind) {
    case 'reason': {
      const vague = sampleVaguePrompt(rng);
      return { prompt: formats.think(vague.text), completion: formats.thinkCompletion(vague.reasoning, vague.rewrite) };
    }
    case 'question': {
      const pair = sampleQuestionPair(rng, rng.pick(weightedList(QUESTION_TYPES, mix.questionTypes)));
      const questions = [pair.yes, pair.no, ...(mix.openQuestions ? openQuestions(pair.scene) : [])];
      const q = questions[rng.int(questions.length)]!;
      return { image: image(pair.scene, size), prompt: formats.question(q.text), completion: formats.answerCompletion(q.answer) };
    }
    case 'caption': {
      const scene = sampleScene(rng);
      return { image: image(scene, size), prompt: formats.caption(), completion: formats.captionCompletion(captionOf(scene)) };
    }
    case 'critique': {
      const example = sampleReflection(rng);
      // A third of the critiques are of right images, so "the image matches" is learnt too.
      if (rng.next() < 1 / 3) {
        return {
          image: image(example.rightScene, size),
          prompt: formats.critique(example.prompt),
          completion: formats.critiqueCompletion(CORRECT_CRITIQUE, NO_FIX),
        };
      }
      return {
        image: image(example.wrongScene, size),
        prompt: formats.critique(example.prompt),
        completion: formats.critiqueCompletion(example.critique, example.fix),
      };
    }
  }
}

/**
 * The ShapeWorld vocabulary: every word of a few hundred examples of each kind, plus every suite's texts
 * (so evaluation never meets an unknown word). Deterministic.
 */
export function shapeWorldTokenizer(): Tokenizer {
  const rng = new Rng(7);
  const corpus: string[] = [CORRECT_CRITIQUE, NO_FIX, ...COLORS, ...SHAPES];
  for (let i = 0; i < 300; i++) {
    for (const kind of DM_KINDS) corpus.push(dmExample(kind, rng, 8).text);
    for (const kind of LM_KINDS) {
      const ex = lmExample(kind, rng, 8);
      corpus.push(ex.prompt, ex.completion);
    }
    corpus.push(sampleEdit(rng).inverse);
  }
  for (const name of SUITE_NAMES) for (const task of buildSuite(name, { samplesPerItem: 1 }).tasks) corpus.push(...taskTexts(task));
  return WordTokenizer.fromCorpus(corpus);
}

function taskTexts(task: SuiteTask): string[] {
  switch (task.kind) {
    case 'text_to_image':
    case 'reflect':
      return task.items.map((item) => item.prompt);
    case 'edit':
      return task.items.flatMap((item) => [item.edit.instruction, item.edit.inverse]);
    case 'question':
      return task.items.flatMap((item) => [item.pair.yes, item.pair.no].flatMap((q) => [q.text, q.answer]));
    case 'critique':
      return task.items.flatMap((item) => [item.example.prompt, item.example.critique, item.example.fix, item.example.correctedPrompt]);
    case 'rewrite':
      return task.items.flatMap((item) => [item.prompt, item.reference]);
  }
}
