// Vague prompts: descriptions that need a reasoning step ("a shape with three corners", "the colour of
// grass", "one more than two"). Each denotes a constraint set (a PromptSpec with sets of shapes/colours),
// so several concrete answers are right; each comes with a reference reasoning trace and one concrete
// rewrite in the prompt grammar, for supervised pretraining of the reasoning step.
import { groundTruth } from './evaluate.ts';
import { parsePrompt, promptText, sampleSceneForSpec, withArticle } from './prompts.ts';
import { Rng } from './rng.ts';
import { COLORS, SHAPES, type ColorName, type Shape } from './scene.ts';
import type { ObjectRequirement, PromptSpec, Relation } from './spec.ts';

export interface VaguePrompt {
  text: string;
  /** The constraint set: the scorer checks this. */
  spec: PromptSpec;
  /** Reference reasoning, one sentence per resolved clue, ending with the rewrite. */
  reasoning: string;
  /** One concrete prompt that satisfies the spec (parsePrompt reads it). */
  rewrite: string;
  rewriteSpec: PromptSpec;
}

interface Clue<T> {
  /** How the clue reads inside a prompt. */
  text: string;
  /** What it denotes. */
  values: readonly T[];
  /** The reasoning step, e.g. "A shape with three corners is a triangle." */
  explain: string;
}

/** Noun phrases (with article) for a shape, used as "{article+shape clue}". */
const SHAPE_CLUES: readonly Clue<Shape>[] = [
  { text: 'a shape with three corners', values: ['triangle'], explain: 'A shape with three corners is a triangle.' },
  { text: 'a shape with three sides', values: ['triangle'], explain: 'A shape with three sides is a triangle.' },
  { text: 'a shape with four equal sides', values: ['square'], explain: 'A shape with four equal sides is a square.' },
  {
    text: 'a shape with four right angles and equal sides',
    values: ['square'],
    explain: 'Four right angles and equal sides make a square.',
  },
  { text: 'a round shape', values: ['circle'], explain: 'A round shape is a circle.' },
  { text: 'a shape with no corners', values: ['circle'], explain: 'The only shape with no corners is the circle.' },
  { text: 'a shape with corners', values: ['square', 'triangle'], explain: 'Shapes with corners are squares and triangles.' },
  { text: 'a shape with straight sides', values: ['square', 'triangle'], explain: 'Shapes with straight sides are squares and triangles.' },
  {
    text: 'a shape that is not a circle',
    values: ['square', 'triangle'],
    explain: 'Shapes other than the circle are squares and triangles.',
  },
  {
    text: 'a shape that is not a triangle',
    values: ['circle', 'square'],
    explain: 'Shapes other than the triangle are circles and squares.',
  },
];

/** Colour phrases used as "{shape} the colour of ..." or "{a} {adjective} {shape}". */
const COLOR_CLUES: readonly Clue<ColorName>[] = [
  { text: 'the colour of grass', values: ['green'], explain: 'Grass is green.' },
  { text: 'the colour of a leaf', values: ['green'], explain: 'Leaves are green.' },
  { text: 'the colour of the sky', values: ['blue'], explain: 'The sky is blue.' },
  { text: 'the colour of the sea', values: ['blue'], explain: 'The sea is blue.' },
  { text: 'the colour of a banana', values: ['yellow'], explain: 'A banana is yellow.' },
  { text: 'the colour of a lemon', values: ['yellow'], explain: 'A lemon is yellow.' },
  { text: 'the colour of a ripe tomato', values: ['red'], explain: 'A ripe tomato is red.' },
  { text: 'the colour of a fire truck', values: ['red'], explain: 'A fire truck is red.' },
  { text: 'the colour of a carrot', values: ['orange'], explain: 'A carrot is orange.' },
  { text: 'the colour of a pumpkin', values: ['orange'], explain: 'A pumpkin is orange.' },
  { text: 'the colour of an aubergine', values: ['purple'], explain: 'An aubergine is purple.' },
  { text: 'the colour of lavender', values: ['purple'], explain: 'Lavender is purple.' },
  { text: 'the colour you get by mixing red and blue', values: ['purple'], explain: 'Red mixed with blue gives purple.' },
  { text: 'the colour you get by mixing red and yellow', values: ['orange'], explain: 'Red mixed with yellow gives orange.' },
  { text: 'the colour you get by mixing blue and yellow', values: ['green'], explain: 'Blue mixed with yellow gives green.' },
  { text: 'a warm colour', values: ['red', 'orange', 'yellow'], explain: 'The warm colours are red, orange and yellow.' },
  { text: 'a cool colour', values: ['green', 'blue', 'purple'], explain: 'The cool colours are green, blue and purple.' },
  { text: 'a primary colour', values: ['red', 'yellow', 'blue'], explain: 'The primary colours (of paint) are red, yellow and blue.' },
  {
    text: 'a secondary colour',
    values: ['orange', 'green', 'purple'],
    explain: 'The secondary colours (of paint) are orange, green and purple.',
  },
];

/** Count phrases; {x} stands for the plural object words ("red circles"). */
const COUNT_CLUES: readonly Clue<number>[] = [
  { text: 'a pair of {x}', values: [2], explain: 'A pair is two.' },
  { text: 'one more than one {x}', values: [2], explain: 'One more than one is two.' },
  { text: 'half of four {x}', values: [2], explain: 'Half of four is two.' },
  { text: 'one more than two {x}', values: [3], explain: 'One more than two is three.' },
  { text: 'one fewer than four {x}', values: [3], explain: 'One fewer than four is three.' },
  { text: 'as many {x} as a triangle has corners', values: [3], explain: 'A triangle has three corners, so three.' },
  { text: 'twice two {x}', values: [4], explain: 'Twice two is four.' },
  { text: 'one more than three {x}', values: [4], explain: 'One more than three is four.' },
  { text: 'as many {x} as a square has sides', values: [4], explain: 'A square has four sides, so four.' },
];

const RELATION_CLUES: readonly Clue<Relation>[] = [
  { text: 'to the west of', values: ['left of'], explain: 'With north up, west is to the left.' },
  { text: 'to the east of', values: ['right of'], explain: 'With north up, east is to the right.' },
  { text: 'north of', values: ['above'], explain: 'With north up, north of means above.' },
  { text: 'south of', values: ['below'], explain: 'With north up, south of means below.' },
  { text: 'higher up than', values: ['above'], explain: 'Higher up than means above.' },
  { text: 'lower down than', values: ['below'], explain: 'Lower down than means below.' },
  { text: 'on the left-hand side of', values: ['left of'], explain: 'On the left-hand side of means left of.' },
  { text: 'on the right-hand side of', values: ['right of'], explain: 'On the right-hand side of means right of.' },
];

const FORMS = ['object', 'colored_object', 'count', 'relation'] as const;

/** A vague prompt of a random form: shape riddle, colour riddle, count riddle, relation riddle. */
export function sampleVaguePrompt(rng: Rng, form: (typeof FORMS)[number] = rng.pick(FORMS)): VaguePrompt {
  const steps: string[] = [];
  const base = { task: 'vague' as const, allowOthers: false };
  let text: string;
  let spec: PromptSpec;
  let rewriteSpec: PromptSpec;
  if (form === 'object' || form === 'colored_object') {
    const shape = rng.pick(SHAPE_CLUES);
    const color = rng.pick(COLOR_CLUES);
    const useColor = form === 'colored_object';
    text = useColor ? `${shape.text} in ${color.text}` : shape.text;
    steps.push(shape.explain);
    if (useColor) steps.push(color.explain);
    const req: ObjectRequirement = useColor
      ? { shapes: [...shape.values], colors: [...color.values], count: 1 }
      : { shapes: [...shape.values], count: 1 };
    spec = { ...base, include: [req], exclude: [] };
    rewriteSpec = concrete(spec, rng, steps);
  } else if (form === 'count') {
    const count = rng.pick(COUNT_CLUES);
    const shape = rng.pick(SHAPES);
    const color = rng.next() < 0.5 ? rng.pick(COLORS) : undefined;
    const n = count.values[0]!;
    const words = color ? `${color} ${shape}s` : `${shape}s`;
    text = count.text.replace('{x}', words);
    steps.push(count.explain);
    const kind = color ? { shapes: [shape], colors: [color] } : { shapes: [shape] };
    spec = { ...base, include: [{ ...kind, count: n }], exclude: [{ ...kind, count: n + 1 }] };
    rewriteSpec = { ...spec, task: 'counting' };
  } else {
    const relation = rng.pick(RELATION_CLUES);
    const [subjectClue, targetShape] = pickDisjointShapeClue(rng);
    const color = rng.pick(COLOR_CLUES.filter((c) => c.values.length === 1));
    const targetColor = rng.pick(COLORS);
    text = `${subjectClue.text} in ${color.text} ${relation.text} ${phrase(targetShape, targetColor)}`;
    steps.push(subjectClue.explain, color.explain, relation.explain);
    spec = {
      ...base,
      include: [
        { shapes: [targetShape], colors: [targetColor], count: 1 },
        { shapes: [...subjectClue.values], colors: [...color.values], count: 1, position: { relation: relation.values[0]!, target: 0 } },
      ],
      exclude: [],
    };
    rewriteSpec = concrete(spec, rng, steps);
    rewriteSpec.task = 'position';
  }
  const rewrite = promptText(rewriteSpec);
  steps.push(`So: ${rewrite}.`);
  return { text, spec, reasoning: steps.join(' '), rewrite, rewriteSpec };
}

/**
 * Harder forms: the same clues, composed in ways pretraining never showed (its reasoning traces cover the four
 * forms above). Two riddled objects in one prompt, a count of objects whose colour is a riddle, and riddles on
 * both sides of a relation. The text scenario trains on them and the `rewrite-hard` suite measures them.
 */
export const HARD_VAGUE_FORMS = ['two_riddles', 'riddled_count', 'riddle_relation'] as const;
export type HardVagueForm = (typeof HARD_VAGUE_FORMS)[number];

export function sampleHardVaguePrompt(rng: Rng, form: HardVagueForm = rng.pick(HARD_VAGUE_FORMS)): VaguePrompt {
  const steps: string[] = [];
  const base = { task: 'vague' as const, allowOthers: false };
  let text: string;
  let spec: PromptSpec;
  let rewriteSpec: PromptSpec;
  if (form === 'riddled_count') {
    const count = rng.pick(COUNT_CLUES);
    const shape = rng.pick(SHAPES);
    const color = rng.pick(COLOR_CLUES);
    const n = count.values[0]!;
    text = count.text.replace('{x}', `${shape}s in ${color.text}`);
    steps.push(count.explain, color.explain);
    const kind = { shapes: [shape], colors: [...color.values] };
    spec = { ...base, include: [{ ...kind, count: n }], exclude: [{ ...kind, count: n + 1 }] };
    rewriteSpec = { ...concrete(spec, rng, steps), task: 'counting' };
  } else {
    // Two riddled objects with disjoint shapes, so that each object answers one riddle only.
    const first = rng.pick(SHAPE_CLUES);
    const second = rng.pick(SHAPE_CLUES.filter((c) => c.values.every((shape) => !first.values.includes(shape))));
    const [firstColor, secondColor] = [rng.pick(COLOR_CLUES), rng.pick(COLOR_CLUES)];
    steps.push(first.explain, firstColor.explain, second.explain, secondColor.explain);
    const firstReq = { shapes: [...first.values], colors: [...firstColor.values], count: 1 };
    const secondReq = { shapes: [...second.values], colors: [...secondColor.values], count: 1 };
    if (form === 'two_riddles') {
      text = `${first.text} in ${firstColor.text} and ${second.text} in ${secondColor.text}`;
      spec = { ...base, include: [firstReq, secondReq], exclude: [] };
      rewriteSpec = { ...concrete(spec, rng, steps), task: 'color_attr' };
    } else {
      const relation = rng.pick(RELATION_CLUES);
      steps.splice(2, 0, relation.explain);
      text = `${first.text} in ${firstColor.text} ${relation.text} ${second.text} in ${secondColor.text}`;
      spec = { ...base, include: [secondReq, { ...firstReq, position: { relation: relation.values[0]!, target: 0 } }], exclude: [] };
      rewriteSpec = concrete(spec, rng, steps);
    }
  }
  const rewrite = promptText(rewriteSpec);
  steps.push(`So: ${rewrite}.`);
  return { text, spec, reasoning: steps.join(' '), rewrite, rewriteSpec };
}

/** A shape clue for the subject whose shapes exclude some shape left for the target. */
function pickDisjointShapeClue(rng: Rng): [Clue<Shape>, Shape] {
  const clue = rng.pick(SHAPE_CLUES);
  const rest = SHAPES.filter((s) => !clue.values.includes(s));
  return [clue, rng.pick(rest)];
}

function phrase(shape: Shape, color: ColorName): string {
  return withArticle(`${color} ${shape}`);
}

/** Picks one member of every set (saying so in the reasoning when there was a choice). */
function concrete(spec: PromptSpec, rng: Rng, steps: string[]): PromptSpec {
  const include = spec.include.map((req) => {
    const shape = rng.pick(req.shapes);
    const color = req.colors ? rng.pick(req.colors) : undefined;
    if (req.shapes.length > 1) steps.push(`I pick a ${shape}.`);
    if (req.colors && req.colors.length > 1) steps.push(`I pick ${color}.`);
    return { ...req, shapes: [shape], ...(color ? { colors: [color] } : {}) };
  });
  const task = include.length === 2 ? 'position' : include[0]!.colors ? 'colors' : 'single_object';
  return { ...spec, task, include };
}

/** The answer of an LM completion: after the last <answer> (or </think>) and before </answer>; the whole
 *  text without tags when it has none (a bare rewrite is its own answer). */
export function extractAnswer(text: string): string {
  const close = text.lastIndexOf('</answer>');
  const end = close >= 0 ? close : text.length;
  const open = Math.max(text.lastIndexOf('<answer>', end), text.lastIndexOf('</think>', end));
  const start = open < 0 ? 0 : text.indexOf('>', open) + 1;
  return text
    .slice(start, end)
    .replace(/<[^>]+>/g, ' ')
    .trim();
}

/** Whether a concrete rewrite (a prompt of the grammar) denotes scenes that satisfy `spec`: the check of
 *  the RL `text` scenario's answer reward and of the `rewrite` suites. Every one of `scenes` scenes drawn for
 *  the rewrite must meet the constraints, so that an answer which leaves out what the prompt asks for ("two
 *  triangles" for two in a warm colour) does not pass on the colours one scene happened to draw. */
export function rewriteSatisfies(rewrite: string, spec: PromptSpec, scenes = 8): boolean {
  try {
    const concrete = parsePrompt(rewrite);
    for (let seed = 0; seed < scenes; seed++) if (!groundTruth(sampleSceneForSpec(concrete, new Rng(seed)), spec).correct) return false;
    return true;
  } catch {
    // Outside the grammar, or a scene that cannot be drawn ("four squares left of four circles"): a model's
    // answer must cost it the reward, not end the run.
    return false;
  }
}
