// Questions about a scene for understanding, with answers. MME-style: per image one question whose answer
// is "yes" and one whose answer is "no", of the same type; accuracy+ counts images with both right.
import { relativePosition } from './evaluate.ts';
import { NUMBER_WORDS, withArticle } from './prompts.ts';
import type { Rng } from './rng.ts';
import { COLORS, SHAPES, objectBox, sampleScene, type Scene, type SceneObject } from './scene.ts';
import { OPPOSITE_RELATION, RELATIONS } from './spec.ts';

export const QUESTION_TYPES = ['existence', 'count', 'color', 'relation'] as const;
export type QuestionType = (typeof QUESTION_TYPES)[number];

export interface Question {
  type: QuestionType;
  text: string;
  /** "yes" / "no" for paired questions; a number word or colour for open ones. */
  answer: string;
}

export interface QuestionPair {
  type: QuestionType;
  scene: Scene;
  yes: Question;
  no: Question;
}

const plural = (shape: string, n: number) => (n === 1 ? shape : `${shape}s`);
/** Relations asked about hold (or fail) with twice GenEval's margin, so the answer is not borderline. */
const CLEAR_MARGIN = 0.2;

/** The yes/no pair of a type for a scene, or null when the scene cannot support that type. */
export function questionPairFor(scene: Scene, type: QuestionType, rng: Rng): QuestionPair | null {
  const objs = scene.objects;
  if (objs.length === 0) return null;
  const make = (yes: string, no: string): QuestionPair => ({
    type,
    scene,
    yes: { type, text: yes, answer: 'yes' },
    no: { type, text: no, answer: 'no' },
  });
  switch (type) {
    case 'existence': {
      const present = rng.pick(objs);
      const absent = SHAPES.flatMap((shape) => COLORS.map((color) => ({ shape, color }))).filter(
        (k) => !objs.some((o) => o.shape === k.shape && o.color === k.color),
      );
      const missing = rng.pick(absent);
      return make(
        `Is there ${withArticle(`${present.color} ${present.shape}`)} in the image?`,
        `Is there ${withArticle(`${missing.color} ${missing.shape}`)} in the image?`,
      );
    }
    case 'count': {
      const shape = rng.pick(objs).shape;
      const n = objs.filter((o) => o.shape === shape).length;
      const wrong = n === 1 ? 2 : rng.next() < 0.5 ? n - 1 : n + 1;
      const ask = (k: number) =>
        `${k === 1 ? 'Is there exactly one' : `Are there exactly ${NUMBER_WORDS[k]}`} ${plural(shape, k)} in the image?`;
      return make(ask(n), ask(wrong));
    }
    case 'color': {
      const unique = objs.filter((o) => objs.filter((p) => p.shape === o.shape).length === 1);
      if (unique.length === 0) return null;
      const obj = rng.pick(unique);
      const other = rng.pick(COLORS.filter((c) => c !== obj.color));
      return make(`Is the ${obj.shape} ${obj.color}?`, `Is the ${obj.shape} ${other}?`);
    }
    case 'relation': {
      const named = objs.filter((o) => objs.filter((p) => p.shape === o.shape && p.color === o.color).length === 1);
      const pairs: [SceneObject, SceneObject][] = named.flatMap((a) =>
        named.filter((b) => b !== a).map((b) => [a, b] as [SceneObject, SceneObject]),
      );
      const clear = pairs.flatMap(([a, b]) => {
        const rels = relativePosition(objectBox(a), objectBox(b), CLEAR_MARGIN);
        const loose = relativePosition(objectBox(a), objectBox(b));
        // The asked relation holds clearly; its opposite fails even with GenEval's margin.
        return RELATIONS.filter((r) => rels.has(r) && !loose.has(OPPOSITE_RELATION[r])).map((r) => ({ a, b, r }));
      });
      if (clear.length === 0) return null;
      const { a, b, r } = rng.pick(clear);
      const ask = (rel: string) => `Is the ${a.color} ${a.shape} ${rel} the ${b.color} ${b.shape}?`;
      return make(ask(r), ask(OPPOSITE_RELATION[r]));
    }
    default:
      throw new Error(`questionPairFor: unknown question type "${String(type)}"`);
  }
}

/** A random scene (1-4 objects) with a question pair of the given type. */
export function sampleQuestionPair(rng: Rng, type: QuestionType = rng.pick(QUESTION_TYPES)): QuestionPair {
  for (let attempt = 0; attempt < 200; attempt++) {
    const scene = sampleScene(rng, type === 'relation' ? 2 + rng.int(3) : 1 + rng.int(4));
    const pair = questionPairFor(scene, type, rng);
    if (pair) return pair;
  }
  throw new Error(`sampleQuestionPair: no scene supported a "${type}" question`);
}

/** Open questions with short answers (number words, colours), for supervised understanding data. */
export function openQuestions(scene: Scene): Question[] {
  const out: Question[] = [];
  for (const shape of SHAPES) {
    const n = scene.objects.filter((o) => o.shape === shape).length;
    out.push({ type: 'count', text: `How many ${shape}s are there?`, answer: NUMBER_WORDS[n]! });
    if (n === 1)
      out.push({ type: 'color', text: `What colour is the ${shape}?`, answer: scene.objects.find((o) => o.shape === shape)!.color });
  }
  return out;
}

/** Lower case, no punctuation, digits as words, leading "yes,"/"no," kept as the answer word. */
export function normalizeAnswer(text: string): string {
  const words = text
    .toLowerCase()
    .replace(/[^a-z0-9 ]/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
  const first = words[0] ?? '';
  const asWord = /^\d$/.test(first) ? (NUMBER_WORDS[Number(first)] ?? first) : first;
  return asWord === 'color' ? 'colour' : asWord;
}

/** An answer is right when its first word (normalised) is the expected answer. */
export function answerMatches(given: string, expected: string): boolean {
  return normalizeAnswer(given) === normalizeAnswer(expected);
}
