// Reflection data: a prompt, a scene that is wrong in a known way, the critique that names what is wrong,
// the fix (an edit instruction that repairs the scene) and the corrected prompt to regenerate from.
import { groundTruth } from './evaluate.ts';
import { NUMBER_WORDS, promptText, samplePrompt, sampleSceneForSpec, withArticle } from './prompts.ts';
import type { Rng } from './rng.ts';
import { COLORS, SHAPES, boxesSeparated, objectBox, placeObjects, type Scene, type SceneObject } from './scene.ts';
import { OPPOSITE_RELATION, type GenevalTask, type PromptSpec } from './spec.ts';

/** The critique of an image that already matches its prompt, and its (empty) fix: what the model is taught
 *  to write for a right image (models/formats.ts critique format) and what the oracle's reflection says. */
export const CORRECT_CRITIQUE = 'The image matches the prompt.';
export const NO_FIX = 'none';

/** A critique's conclusion about the image it judged. */
export type CritiqueVerdict = 'correct' | 'wrong';

export const REFLECTION_ERRORS = ['count', 'color', 'shape', 'position', 'missing', 'extra'] as const;
export type ReflectionError = (typeof REFLECTION_ERRORS)[number];

export interface ReflectionExample {
  error: ReflectionError;
  prompt: string;
  spec: PromptSpec;
  /** Fails `spec` exactly in the way `error` says. */
  wrongScene: Scene;
  /** One sentence naming what is wrong. */
  critique: string;
  /** Words a critique must contain to name the error (number words, colours, shapes, relations). */
  mentions: string[];
  /** An instruction that turns wrongScene into a right one (free text, not always the edit grammar). */
  fix: string;
  /** The prompt to regenerate from: the canonical concrete text of the spec. */
  correctedPrompt: string;
  /** A scene that satisfies the spec. */
  rightScene: Scene;
}

const TASKS_FOR: Readonly<Record<ReflectionError, readonly GenevalTask[]>> = {
  count: ['counting'],
  color: ['colors', 'color_attr'],
  shape: ['single_object', 'colors', 'two_object', 'color_attr'],
  position: ['position'],
  missing: ['two_object', 'color_attr', 'position'],
  extra: ['single_object', 'colors', 'two_object', 'color_attr', 'counting'],
};

export function sampleReflection(rng: Rng, error: ReflectionError = rng.pick(REFLECTION_ERRORS)): ReflectionExample {
  for (let attempt = 0; attempt < 100; attempt++) {
    const prompt = samplePrompt(rng.pick(TASKS_FOR[error]), rng);
    const rightScene = sampleSceneForSpec(prompt.spec, rng);
    const wrong = corrupt(error, prompt.spec, rightScene, rng);
    if (!wrong || groundTruth(wrong.wrongScene, prompt.spec).correct) continue;
    return { error, prompt: prompt.text, spec: prompt.spec, rightScene, correctedPrompt: promptText(prompt.spec), ...wrong };
  }
  throw new Error(`sampleReflection: could not build a "${error}" example`);
}

type Corruption = Pick<ReflectionExample, 'wrongScene' | 'critique' | 'mentions' | 'fix'>;

function corrupt(error: ReflectionError, spec: PromptSpec, scene: Scene, rng: Rng): Corruption | null {
  const objs = scene.objects;
  const replace = (i: number, o: SceneObject | null): Scene => ({
    background: scene.background,
    objects: o ? objs.map((p, j) => (j === i ? o : p)) : objs.filter((_, j) => j !== i),
  });
  const requiredShapes = new Set(spec.include.flatMap((r) => r.shapes));
  switch (error) {
    case 'count': {
      const req = spec.include[0]!;
      const shape = req.shapes[0]!;
      const fewer = rng.next() < 0.5;
      const n = req.count + (fewer ? -1 : 1);
      let wrongScene: Scene;
      let fix: string;
      if (fewer) {
        const i = rng.int(objs.length);
        wrongScene = replace(i, null);
        fix = `add ${withArticle(`${objs[i]!.color} ${shape}`)}`;
      } else {
        const extra = tryAdd(rng, objs, { shape, color: rng.pick(COLORS) });
        if (!extra) return null;
        wrongScene = { background: scene.background, objects: [...objs, extra] };
        fix = `remove one ${shape}`;
      }
      return {
        wrongScene,
        fix,
        mentions: [NUMBER_WORDS[req.count]!, NUMBER_WORDS[n]!, shape],
        critique: `The prompt asks for ${NUMBER_WORDS[req.count]} ${shape}s but the image shows ${NUMBER_WORDS[n]}.`,
      };
    }
    case 'color': {
      const i = rng.int(objs.length);
      const obj = objs[i]!;
      const color = rng.pick(COLORS.filter((c) => c !== obj.color));
      return {
        wrongScene: replace(i, { ...obj, color }),
        mentions: [color, obj.color, obj.shape],
        critique: `The ${obj.shape} is ${color}, but the prompt asks for ${withArticle(`${obj.color} ${obj.shape}`)}.`,
        fix: `make the ${color} ${obj.shape} ${obj.color}`,
      };
    }
    case 'shape': {
      const i = rng.int(objs.length);
      const obj = objs[i]!;
      const free = SHAPES.filter((s) => !requiredShapes.has(s));
      if (free.length === 0) return null;
      const shape = rng.pick(free);
      return {
        wrongScene: replace(i, { ...obj, shape }),
        mentions: [obj.shape, shape],
        critique: `The prompt asks for ${withArticle(obj.shape)}, but the image shows ${withArticle(shape)} instead.`,
        fix: `turn the ${obj.color} ${shape} into ${withArticle(obj.shape)}`,
      };
    }
    case 'position': {
      // Swap the two objects' centres: the relation turns into its opposite.
      const [target, subject] = objs as [SceneObject, SceneObject];
      const a = { ...subject, x: target.x, y: target.y };
      const b = { ...target, x: subject.x, y: subject.y };
      const inside = (o: SceneObject) => o.x - o.size / 2 >= 0 && o.x + o.size / 2 <= 1 && o.y - o.size / 2 >= 0 && o.y + o.size / 2 <= 1;
      if (!inside(a) || !inside(b) || !boxesSeparated(objectBox(a), objectBox(b))) return null;
      const rel = spec.include[1]!.position!.relation;
      const actual = OPPOSITE_RELATION[rel];
      return {
        wrongScene: { background: scene.background, objects: [b, a] },
        mentions: [subject.shape, actual],
        critique: `The ${subject.shape} is ${actual} the ${target.shape}, but the prompt asks for it to be ${rel} the ${target.shape}.`,
        fix: `swap the ${subject.shape} and the ${target.shape}`,
      };
    }
    case 'missing': {
      const i = rng.int(objs.length);
      const obj = objs[i]!;
      const words = spec.include.some((r) => r.colors) ? `${obj.color} ${obj.shape}` : obj.shape;
      return {
        wrongScene: replace(i, null),
        mentions: [...words.split(' ')],
        critique: `The image has no ${words}, which the prompt asks for.`,
        fix: `add ${withArticle(words)}`,
      };
    }
    case 'extra': {
      const free = SHAPES.filter((s) => !requiredShapes.has(s));
      if (free.length === 0) return null;
      const extra = tryAdd(rng, objs, { shape: rng.pick(free), color: rng.pick(COLORS) });
      if (!extra) return null;
      return {
        wrongScene: { background: scene.background, objects: [...objs, extra] },
        mentions: [extra.color, extra.shape],
        critique: `The image has an extra ${extra.color} ${extra.shape} that the prompt does not ask for.`,
        fix: `remove the ${extra.color} ${extra.shape}`,
      };
    }
    default:
      throw new Error(`sampleReflection: unknown error kind "${String(error)}"`);
  }
}

function tryAdd(
  rng: Rng,
  objs: readonly SceneObject[],
  kind: { shape: SceneObject['shape']; color: SceneObject['color'] },
): SceneObject | null {
  try {
    return placeObjects(rng, [kind], () => true, objs).at(-1)!;
  } catch {
    return null; // no room left
  }
}

/** A critique names the error when it contains every mention as a word, plurals and digits allowed. */
export function critiqueMentions(critique: string, example: Pick<ReflectionExample, 'mentions'>): boolean {
  const text = ` ${critique
    .toLowerCase()
    .replace(/[^a-z0-9 ]/g, ' ')
    .replace(/\d/g, (d) => ` ${NUMBER_WORDS[Number(d)] ?? d} `)
    .replace(/\s+/g, ' ')} `;
  return example.mentions.every((m) => text.includes(` ${m.toLowerCase()} `) || text.includes(` ${m.toLowerCase()}s `));
}
