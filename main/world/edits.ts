// Edit instructions with exact target scenes and exact inverse instructions, and their check.
//   recolour: "make the red circle blue"            inverse: "make the blue circle red"
//   remove:   "remove the red circle"               inverse: "add a red circle at the top left"
//   add:      "add a blue square at the top right"  inverse: "remove the blue square"
//   move:     "move the red circle to the bottom"   inverse: "move the red circle to the top left"
//   reshape:  "turn the red circle into a square"   inverse: "turn the red square into a circle"
// Objects are named by colour and shape, so every object in an edit scene has a unique (colour, shape).
// Places are cells of a 3x3 grid; an added or moved object is right anywhere in its cell.
import { detectObjects, type DetectedObject } from './detect.ts';
import { objectLabel } from './evaluate.ts';
import { imageSimilarity, type ImageRGB } from './image.ts';
import { withArticle } from './prompts.ts';
import type { Rng } from './rng.ts';
import {
  BACKGROUNDS,
  COLORS,
  MIN_GAP,
  SHAPES,
  SIZE_RANGE,
  boxesSeparated,
  objectBox,
  placeObjects,
  type Box,
  type ColorName,
  type Scene,
  type SceneObject,
  type Shape,
} from './scene.ts';

export const EDIT_KINDS = ['recolor', 'remove', 'add', 'move', 'reshape'] as const;
export type EditKind = (typeof EDIT_KINDS)[number];

/** Grid cell: column 0..2 (left to right), row 0..2 (top to bottom). */
export interface Cell {
  col: number;
  row: number;
}

export interface Edit {
  kind: EditKind;
  instruction: string;
  /** Applied to `target` it gives back `source`. */
  inverse: string;
  source: Scene;
  target: Scene;
  /** The changed object: its index in source (-1 for add) and in target (-1 for remove). */
  sourceIndex: number;
  targetIndex: number;
  /** For add and move: the cell the object must end in. */
  cell?: Cell;
}

const ROW_NAMES = ['top', '', 'bottom'] as const;
const COL_NAMES = ['left', '', 'right'] as const;

export function cellName(cell: Cell): string {
  const words = [ROW_NAMES[cell.row], COL_NAMES[cell.col]].filter(Boolean).join(' ');
  return words || 'centre';
}

/** "at the top left", "in the centre". */
export function cellPhrase(cell: Cell): string {
  const name = cellName(cell);
  return name === 'centre' ? 'in the centre' : `at the ${name}`;
}

export function cellOf(x: number, y: number): Cell {
  return { col: Math.min(2, Math.max(0, Math.floor(x * 3))), row: Math.min(2, Math.max(0, Math.floor(y * 3))) };
}

/** How far (image fractions) a centre may stray outside its cell and still count: detection jitter. */
const CELL_TOLERANCE = 0.05;

export function inCell(x: number, y: number, cell: Cell, tolerance = CELL_TOLERANCE): boolean {
  return (
    x >= cell.col / 3 - tolerance &&
    x <= (cell.col + 1) / 3 + tolerance &&
    y >= cell.row / 3 - tolerance &&
    y <= (cell.row + 1) / 3 + tolerance
  );
}
const name = objectLabel;

/** The edit that undoes `edit`: source and target swapped, instruction and inverse swapped. */
export function invertEdit(edit: Edit): Edit {
  const inverseCell =
    edit.kind === 'remove' || edit.kind === 'move'
      ? cellOf(edit.source.objects[edit.sourceIndex]!.x, edit.source.objects[edit.sourceIndex]!.y)
      : undefined;
  const kind: EditKind = edit.kind === 'add' ? 'remove' : edit.kind === 'remove' ? 'add' : edit.kind;
  return {
    kind,
    instruction: edit.inverse,
    inverse: edit.instruction,
    source: edit.target,
    target: edit.source,
    sourceIndex: edit.targetIndex,
    targetIndex: edit.sourceIndex,
    ...(inverseCell ? { cell: inverseCell } : {}),
  };
}

/** A random edit of the given kind on a random scene of 1-3 objects with unique (colour, shape). */
export function sampleEdit(rng: Rng, kind: EditKind = rng.pick(EDIT_KINDS)): Edit {
  for (let attempt = 0; attempt < 100; attempt++) {
    const edit = tryEdit(rng, kind);
    if (edit) return edit;
  }
  throw new Error(`sampleEdit: could not build a "${kind}" edit`);
}

function uniqueKinds(rng: Rng, n: number): { shape: Shape; color: ColorName }[] {
  const all = SHAPES.flatMap((shape) => COLORS.map((color) => ({ shape, color })));
  return rng.sample(all, n);
}

function tryEdit(rng: Rng, kind: EditKind): Edit | null {
  const count = kind === 'remove' || kind === 'move' || kind === 'recolor' || kind === 'reshape' ? 1 + rng.int(3) : rng.int(3);
  const source: Scene = { background: rng.pick(BACKGROUNDS), objects: placeObjects(rng, uniqueKinds(rng, count)) };
  const objs = source.objects;
  const taken = (shape: string, color: string) => objs.some((o) => o.shape === shape && o.color === color);
  const i = rng.int(Math.max(1, objs.length));
  const obj = objs[i]!;
  const withObject = (o: SceneObject | null): Scene => ({
    background: source.background,
    objects: o ? objs.map((p, j) => (j === i ? o : p)) : objs.filter((_, j) => j !== i),
  });
  switch (kind) {
    case 'recolor': {
      const color = rng.pick(COLORS.filter((c) => !taken(obj.shape, c)));
      return {
        kind,
        source,
        target: withObject({ ...obj, color }),
        sourceIndex: i,
        targetIndex: i,
        instruction: `make the ${name(obj)} ${color}`,
        inverse: `make the ${color} ${obj.shape} ${obj.color}`,
      };
    }
    case 'reshape': {
      const free = SHAPES.filter((s) => !taken(s, obj.color));
      if (free.length === 0) return null; // every shape already exists in this colour
      const shape = rng.pick(free);
      return {
        kind,
        source,
        target: withObject({ ...obj, shape }),
        sourceIndex: i,
        targetIndex: i,
        instruction: `turn the ${name(obj)} into ${withArticle(shape)}`,
        inverse: `turn the ${obj.color} ${shape} into ${withArticle(obj.shape)}`,
      };
    }
    case 'remove': {
      const words = name(obj);
      return {
        kind,
        source,
        target: withObject(null),
        sourceIndex: i,
        targetIndex: -1,
        instruction: `remove the ${words}`,
        inverse: `add ${withArticle(words)} ${cellPhrase(cellOf(obj.x, obj.y))}`,
      };
    }
    case 'add': {
      const newKind = rng.pick(
        SHAPES.flatMap((shape) => COLORS.map((color) => ({ shape, color }))).filter((k) => !taken(k.shape, k.color)),
      );
      const cell = { col: rng.int(3), row: rng.int(3) };
      const size = rng.uniform(SIZE_RANGE[0], SIZE_RANGE[1]);
      const added = placeInCell(rng, { ...newKind, size, x: 0, y: 0 }, cell, objs);
      if (!added) return null;
      const words = name(added);
      return {
        kind,
        source,
        target: { background: source.background, objects: [...objs, added] },
        sourceIndex: -1,
        targetIndex: objs.length,
        cell,
        instruction: `add ${withArticle(words)} ${cellPhrase(cell)}`,
        inverse: `remove the ${words}`,
      };
    }
    case 'move': {
      const from = cellOf(obj.x, obj.y);
      // A cell clearly away from where the object is, so the unedited image never passes.
      const cells = [0, 1, 2].flatMap((row) => [0, 1, 2].map((col) => ({ col, row })));
      const cell = rng.pick(cells.filter((c) => !inCell(obj.x, obj.y, c, 2 * CELL_TOLERANCE)));
      const moved = placeInCell(
        rng,
        obj,
        cell,
        objs.filter((_, j) => j !== i),
      );
      if (!moved) return null;
      return {
        kind,
        source,
        target: withObject(moved),
        sourceIndex: i,
        targetIndex: i,
        cell,
        instruction: `move the ${name(obj)} to the ${cellName(cell)}`,
        inverse: `move the ${name(obj)} to the ${cellName(from)}`,
      };
    }
    default:
      throw new Error(`sampleEdit: unknown edit kind "${String(kind)}"`);
  }
}

/** The object at a random spot whose centre lies in `cell`, clear of `others`; null if it does not fit. */
function placeInCell(rng: Rng, obj: SceneObject, cell: Cell, others: readonly SceneObject[]): SceneObject | null {
  const lo = 0.03 + obj.size / 2;
  const range = (k: number): [number, number] => [Math.max(lo, k / 3 + 0.02), Math.min(1 - lo, (k + 1) / 3 - 0.02)];
  const [x0, x1] = range(cell.col);
  const [y0, y1] = range(cell.row);
  if (x0 >= x1 || y0 >= y1) return null;
  for (let tries = 0; tries < 60; tries++) {
    const placed = { ...obj, x: rng.uniform(x0, x1), y: rng.uniform(y0, y1) };
    if (others.every((o) => boxesSeparated(objectBox(placed), objectBox(o), MIN_GAP))) return placed;
  }
  return null;
}

export interface EditScore {
  correct: boolean;
  reason: string;
  /** Mean of the object term and the similarity term. */
  reward: number;
  /** Target objects found where they belong, discounted for unexpected objects, in [0,1]. */
  objectTerm: number;
  /** 1 - mean |output - source| / 0.25 over the pixels the edit must not change, clamped to [0,1]. */
  similarity: number;
  objects: DetectedObject[];
}

/** Unchanged objects may shift this much (image fractions) and still count as in place. */
const KEEP_TOLERANCE = 0.1;
/** The unchanged part must match the source to within a mean absolute difference of 0.05 (similarity 0.8). */
const MIN_SIMILARITY = 0.8;

/** Checks an edited image against the edit's target scene, and its unchanged pixels against the source image. */
export function scoreEdit(output: ImageRGB, source: ImageRGB, edit: Edit): EditScore {
  const objects = detectObjects(output);
  const reasons: string[] = [];
  const used = new Set<DetectedObject>();
  let found = 0;
  let changedBox: Box | null = null;
  edit.target.objects.forEach((want, j) => {
    const candidates = objects.filter((o) => !used.has(o) && o.shape === want.shape && o.color === want.color);
    const placed =
      j === edit.targetIndex && edit.cell
        ? candidates.find((o) => inCell(o.center[0], o.center[1], edit.cell!))
        : candidates.find((o) => Math.hypot(o.center[0] - want.x, o.center[1] - want.y) <= KEEP_TOLERANCE);
    if (placed) {
      used.add(placed);
      found++;
      if (j === edit.targetIndex) changedBox = placed.box;
    } else if (candidates.length) {
      reasons.push(`${name(want)} is not ${j === edit.targetIndex && edit.cell ? cellPhrase(edit.cell) : 'where it was'}`);
    } else {
      reasons.push(`missing ${name(want)}`);
    }
  });
  const extras = objects.filter((o) => !used.has(o));
  if (extras.length) reasons.push(`unexpected ${extras.map(name).join(', ')}`);
  const expected = edit.target.objects.length + extras.length;
  const objectTerm = expected === 0 ? 1 : found / expected;
  // Pixels the edit may change: the changed object's old box, and its new box (or its whole cell if not found).
  const mask = new Uint8Array(output.width * output.height).fill(1);
  const clear = (box: Box) => {
    const pad = 2 / output.width;
    const x0 = Math.max(0, Math.floor((box[0] - pad) * output.width)),
      x1 = Math.min(output.width, Math.ceil((box[2] + pad) * output.width));
    const y0 = Math.max(0, Math.floor((box[1] - pad) * output.height)),
      y1 = Math.min(output.height, Math.ceil((box[3] + pad) * output.height));
    for (let y = y0; y < y1; y++) mask.fill(0, y * output.width + x0, y * output.width + x1);
  };
  if (edit.sourceIndex >= 0) clear(objectBox(edit.source.objects[edit.sourceIndex]!));
  if (edit.targetIndex >= 0) {
    if (changedBox) clear(changedBox);
    else if (edit.cell) clear([edit.cell.col / 3, edit.cell.row / 3, (edit.cell.col + 1) / 3, (edit.cell.row + 1) / 3]);
    else clear(objectBox(edit.target.objects[edit.targetIndex]!));
  }
  if (source.width !== output.width || source.height !== output.height) {
    throw new Error(`scoreEdit: output is ${output.width}x${output.height} but the source is ${source.width}x${source.height}`);
  }
  const similarity = imageSimilarity(output, source, mask);
  if (similarity < MIN_SIMILARITY) reasons.push(`unchanged part differs from the source (similarity ${similarity.toFixed(2)})`);
  return {
    correct: reasons.length === 0,
    reason: reasons.length ? reasons.join('; ') : 'ok',
    reward: (objectTerm + similarity) / 2,
    objectTerm,
    similarity,
    objects,
  };
}

export interface CycleEditReward {
  /** (4 * forward.reward + reconstruction) / 5, in [0,1]: UniRL-Zero's cycle-edit weights, normalised. */
  reward: number;
  forward: EditScore;
  /** 1 - mean |reconstructed - source| / 0.25 over the whole image, clamped to [0,1]. */
  reconstruction: number;
}

/** Reward of an edit cycle: the forward edit scored against its target, and the result of the inverse
 *  instruction compared with the source image. */
export function cycleEditReward(source: ImageRGB, edited: ImageRGB, reconstructed: ImageRGB, edit: Edit): CycleEditReward {
  const forward = scoreEdit(edited, source, edit);
  const reconstruction = imageSimilarity(reconstructed, source);
  return { reward: (4 * forward.reward + reconstruction) / 5, forward, reconstruction };
}
