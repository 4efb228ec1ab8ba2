// The closed prompt grammar of ShapeWorld (documented in docs/shapeworld.md), its sampler per GenEval task,
// its parser, and the oracle's scene for a spec.
//
//   prompt   := frame? phrase ( " and " phrase | " " relation " " phrase )?
//   frame    := "a photo of " | "an image of " | "a picture of "
//   phrase   := ("a" | "an" | "one") color? shape | number color? shape "s"
//   number   := "two" | "three" | "four"
//   color    := "red" | "orange" | "yellow" | "green" | "blue" | "purple"
//   shape    := "circle" | "square" | "triangle"
//   relation := "left of" | "right of" | "above" | "below"   ("to the left of", "to the right of" also parse)
import { evaluateObjects, relativePosition, sceneObjectsForEval } from './evaluate.ts';
import type { Rng } from './rng.ts';
import { BACKGROUNDS, COLORS, SHAPES, objectBox, placeObjects, type ColorName, type Scene, type Shape } from './scene.ts';
import { RELATIONS, validateSpec, type GenevalTask, type ObjectRequirement, type PromptSpec, type Relation } from './spec.ts';

export interface Prompt {
  task: GenevalTask;
  text: string;
  spec: PromptSpec;
}

export const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six'] as const;
const FRAMES = ['a photo of ', 'an image of ', 'a picture of '] as const;

/** "a red circle", "an orange square". */
export function withArticle(words: string): string {
  return `${/^[aeiou]/.test(words) ? 'an' : 'a'} ${words}`;
}

/** "a red circle", "an orange square", "three circles", "two blue triangles". */
export function phraseText(count: number, shape: Shape, color?: ColorName): string {
  const words = color ? `${color} ${shape}` : shape;
  if (count === 1) return withArticle(words);
  return `${NUMBER_WORDS[count]} ${words}s`;
}

function requirementText(req: ObjectRequirement): string {
  if (req.shapes.length !== 1 || (req.colors && req.colors.length !== 1)) {
    throw new Error(
      'promptText: a concrete prompt needs one shape and at most one colour per object; use the vague-prompt module for sets',
    );
  }
  return phraseText(req.count, req.shapes[0]!, req.colors?.[0]);
}

/** The canonical text of a concrete spec, optionally with a frame ("a photo of ..."). */
export function promptText(spec: PromptSpec, frame = ''): string {
  const inc = spec.include;
  if (inc.length === 1) return frame + requirementText(inc[0]!);
  if (inc.length === 2 && inc[1]!.position)
    return `${frame}${requirementText(inc[1]!)} ${inc[1]!.position.relation} ${requirementText(inc[0]!)}`;
  if (inc.length === 2) return `${frame}${requirementText(inc[0]!)} and ${requirementText(inc[1]!)}`;
  throw new Error(`promptText: the grammar has one or two object phrases, the spec has ${inc.length}`);
}

function one(shape: Shape, color?: ColorName): ObjectRequirement {
  return color ? { shapes: [shape], colors: [color], count: 1 } : { shapes: [shape], count: 1 };
}

/** A spec of the given GenEval task. */
export function sampleSpec(task: GenevalTask, rng: Rng): PromptSpec {
  const base = { task, exclude: [], allowOthers: false };
  switch (task) {
    case 'single_object':
      return { ...base, include: [one(rng.pick(SHAPES))] };
    case 'two_object': {
      const [a, b] = rng.sample(SHAPES, 2);
      return { ...base, include: [one(a!), one(b!)] };
    }
    case 'counting': {
      const shape = rng.pick(SHAPES);
      const count = 2 + rng.int(3);
      return { ...base, include: [{ shapes: [shape], count }], exclude: [{ shapes: [shape], count: count + 1 }] };
    }
    case 'colors':
      return { ...base, include: [one(rng.pick(SHAPES), rng.pick(COLORS))] };
    case 'position': {
      const [subject, target] = rng.sample(SHAPES, 2);
      const relation = rng.pick(RELATIONS);
      return { ...base, include: [one(target!), { ...one(subject!), position: { relation, target: 0 } }] };
    }
    case 'color_attr': {
      const [a, b] = rng.sample(SHAPES, 2);
      const [ca, cb] = rng.sample(COLORS, 2);
      return { ...base, include: [one(a!, ca), one(b!, cb)] };
    }
    default:
      throw new Error(`sampleSpec: unknown task "${String(task)}"`);
  }
}

/** A prompt of the given task; half of them carry a frame ("a photo of ..."). */
export function samplePrompt(task: GenevalTask, rng: Rng): Prompt {
  const spec = sampleSpec(task, rng);
  const frame = rng.next() < 0.5 ? '' : rng.pick(FRAMES);
  return { task, text: promptText(spec, frame), spec };
}

/** Parses a concrete prompt of the grammar into its spec; throws an Error naming the unparsed part. */
export function parsePrompt(text: string): PromptSpec {
  let rest = text.trim().toLowerCase().replace(/[.!]$/, '').replace(/\s+/g, ' ');
  for (const frame of FRAMES)
    if (rest.startsWith(frame)) {
      rest = rest.slice(frame.length);
      break;
    }
  const phrase = '(a|an|one|two|three|four) (?:(red|orange|yellow|green|blue|purple) )?(circle|square|triangle)(s?)';
  const m = new RegExp(`^${phrase}(?: (and|(?:to the )?left of|(?:to the )?right of|above|below) ${phrase})?$`).exec(rest);
  if (!m) throw new Error(`parsePrompt: "${text}" is not in the ShapeWorld grammar`);
  const req = (countWord: string, color: string | undefined, shape: string, plural: string): ObjectRequirement => {
    const count = countWord === 'a' || countWord === 'an' ? 1 : NUMBER_WORDS.indexOf(countWord as (typeof NUMBER_WORDS)[number]);
    if (count > 1 !== (plural === 's')) throw new Error(`parsePrompt: "${countWord} ... ${shape}${plural}" mixes singular and plural`);
    return color ? { shapes: [shape as Shape], colors: [color as ColorName], count } : { shapes: [shape as Shape], count };
  };
  const first = req(m[1]!, m[2], m[3]!, m[4]!);
  const exclusions = (reqs: ObjectRequirement[]) =>
    reqs.filter((r) => r.count > 1).map((r) => ({ shapes: r.shapes, ...(r.colors ? { colors: r.colors } : {}), count: r.count + 1 }));
  if (!m[5]) {
    const task: GenevalTask = first.count > 1 ? 'counting' : first.colors ? 'colors' : 'single_object';
    return validateSpec({ task, include: [first], exclude: exclusions([first]), allowOthers: false });
  }
  const second = req(m[6]!, m[7], m[8]!, m[9]!);
  if (m[5] === 'and') {
    const task: GenevalTask = first.colors || second.colors ? 'color_attr' : 'two_object';
    return validateSpec({ task, include: [first, second], exclude: exclusions([first, second]), allowOthers: false });
  }
  const relation = m[5].replace(/^to the /, '') as Relation;
  const include = [second, { ...first, position: { relation, target: 0 } }];
  return validateSpec({ task: 'position', include, exclude: exclusions(include), allowOthers: false });
}

/** Relations in generated scenes hold with twice GenEval's margin, so detection jitter cannot flip them. */
const ROBUST_POSITION_THRESHOLD = 0.2;

/**
 * A scene that satisfies the spec (the oracle's answer): each required object once per count, shapes and
 * colours drawn from the allowed sets, colour free where the spec leaves it free, nothing else.
 */
export function sampleSceneForSpec(spec: PromptSpec, rng: Rng): Scene {
  validateSpec(spec);
  const kinds = spec.include.flatMap((req) =>
    Array.from({ length: req.count }, () => ({ shape: rng.pick(req.shapes), color: rng.pick(req.colors ?? COLORS) })),
  );
  const objects = placeObjects(rng, kinds, (placed) => {
    if (!evaluateObjects(sceneObjectsForEval({ background: 'grey', objects: placed }), spec).correct) return false;
    // Requirement i's objects start at the sum of the earlier counts.
    const starts = spec.include.map((_, i) => spec.include.slice(0, i).reduce((s, r) => s + r.count, 0));
    return spec.include.every((req, i) => {
      if (!req.position) return true;
      const mine = placed.slice(starts[i], starts[i]! + req.count);
      const targets = placed.slice(starts[req.position.target], starts[req.position.target]! + spec.include[req.position.target]!.count);
      return mine.every((o) =>
        targets.every((t) => relativePosition(objectBox(o), objectBox(t), ROBUST_POSITION_THRESHOLD).has(req.position!.relation)),
      );
    });
  });
  return { background: rng.pick(BACKGROUNDS), objects };
}
