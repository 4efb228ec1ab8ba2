// What a prompt asks for, as data: the scorer checks this spec, the text is one rendering of it.
import { COLORS, SHAPES, type ColorName, type Shape } from './scene.ts';

export const GENEVAL_TASKS = ['single_object', 'two_object', 'counting', 'colors', 'position', 'color_attr'] as const;
export type GenevalTask = (typeof GENEVAL_TASKS)[number];
export type PromptTask = GenevalTask | 'vague';

export const RELATIONS = ['left of', 'right of', 'above', 'below'] as const;
export type Relation = (typeof RELATIONS)[number];

export const OPPOSITE_RELATION: Readonly<Record<Relation, Relation>> = {
  'left of': 'right of',
  'right of': 'left of',
  above: 'below',
  below: 'above',
};

/** Objects of a kind: shape is any of `shapes`, colour any of `colors` (absent = any colour). */
export interface ObjectKindSet {
  shapes: Shape[];
  colors?: ColorName[];
}

export interface ObjectRequirement extends ObjectKindSet {
  /** At least this many (with an `exclude` of count+1 it is exactly this many). */
  count: number;
  /** Every matched object must stand in `relation` to every object matched by include[target]. */
  position?: { relation: Relation; target: number };
}

export interface ObjectProhibition extends ObjectKindSet {
  /** Fails when this many or more are found. */
  count: number;
}

export interface PromptSpec {
  task: PromptTask;
  include: ObjectRequirement[];
  exclude: ObjectProhibition[];
  /** GenEval ignores objects the prompt does not mention; ShapeWorld prompts describe the whole scene, so
   *  by default an object that matches no requirement makes the image wrong. */
  allowOthers: boolean;
}

export function matchesKind(obj: { shape: string; color: string }, kind: ObjectKindSet): boolean {
  return (kind.shapes as string[]).includes(obj.shape) && (!kind.colors || (kind.colors as string[]).includes(obj.color));
}

/** Checks a spec's fields; throws an Error naming the first bad one. */
export function validateSpec(spec: PromptSpec): PromptSpec {
  const checkKind = (k: ObjectKindSet, where: string) => {
    if (!Array.isArray(k.shapes) || k.shapes.length === 0) throw new Error(`${where}.shapes: must be a non-empty list`);
    for (const s of k.shapes) if (!SHAPES.includes(s)) throw new Error(`${where}.shapes: unknown shape "${s}"`);
    if (k.colors !== undefined) {
      if (!Array.isArray(k.colors) || k.colors.length === 0) throw new Error(`${where}.colors: must be a non-empty list or absent`);
      for (const c of k.colors) if (!COLORS.includes(c)) throw new Error(`${where}.colors: unknown colour "${c}"`);
    }
  };
  if (!Array.isArray(spec.include) || spec.include.length === 0) throw new Error('spec.include: must list at least one object');
  spec.include.forEach((req, i) => {
    checkKind(req, `spec.include[${i}]`);
    if (!Number.isInteger(req.count) || req.count < 1)
      throw new Error(`spec.include[${i}].count: must be a positive integer, got ${req.count}`);
    if (req.position) {
      if (!RELATIONS.includes(req.position.relation))
        throw new Error(`spec.include[${i}].position.relation: unknown relation "${req.position.relation}"`);
      if (!Number.isInteger(req.position.target) || req.position.target < 0 || req.position.target >= i) {
        throw new Error(`spec.include[${i}].position.target: must index an earlier requirement, got ${req.position.target}`);
      }
    }
  });
  (spec.exclude ?? []).forEach((ex, i) => {
    checkKind(ex, `spec.exclude[${i}]`);
    if (!Number.isInteger(ex.count) || ex.count < 1)
      throw new Error(`spec.exclude[${i}].count: must be a positive integer, got ${ex.count}`);
  });
  return spec;
}
