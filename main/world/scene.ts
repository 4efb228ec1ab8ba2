// The ShapeWorld scene model: a neutral background and non-overlapping coloured shapes.
// Positions and sizes are fractions of the image side, so one scene renders at any resolution.
import type { Rng } from './rng.ts';

export const SHAPES = ['circle', 'square', 'triangle'] as const;
export type Shape = (typeof SHAPES)[number];

export const COLORS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple'] as const;
export type ColorName = (typeof COLORS)[number];

/** Palette in linear [0,1] RGB. Chosen for well separated hues (the scorer classifies by hue) and high
 *  chroma, so anti-aliasing and blur (mixing with the neutral background) keep the hue. */
export const PALETTE: Readonly<Record<ColorName, readonly [number, number, number]>> = {
  red: [0.9, 0.1, 0.1], // hue 0
  orange: [0.95, 0.5, 0.05], // hue 30
  yellow: [0.9, 0.85, 0.1], // hue 56
  green: [0.1, 0.75, 0.15], // hue 125
  blue: [0.15, 0.3, 0.95], // hue 229
  purple: [0.6, 0.12, 0.8], // hue 282
};

export const BACKGROUNDS = ['grey', 'white'] as const;
export type BackgroundName = (typeof BACKGROUNDS)[number];
export const BACKGROUND_RGB: Readonly<Record<BackgroundName, readonly [number, number, number]>> = {
  grey: [0.9, 0.9, 0.9],
  white: [0.98, 0.98, 0.97],
};

export interface SceneObject {
  shape: Shape;
  color: ColorName;
  /** Side of the bounding box as a fraction of the image width. */
  size: number;
  /** Centre of the bounding box, fractions of width and height; (0,0) is the top left. */
  x: number;
  y: number;
}

export interface Scene {
  background: BackgroundName;
  objects: SceneObject[];
}

/** Box in image fractions: [x0, y0, x1, y1]. */
export type Box = readonly [number, number, number, number];

const INV_SQRT5 = 1 / Math.sqrt(5);

/** Signed distance in pixels (negative inside) from a point at offset (dx, dy) of the box centre. */
export function signedDistance(shape: Shape, dx: number, dy: number, half: number): number {
  if (shape === 'circle') return Math.sqrt(dx * dx + dy * dy) - half;
  if (shape === 'square') return Math.max(Math.abs(dx) - half, Math.abs(dy) - half);
  // Upright isosceles triangle filling its box: apex at top centre, base along the bottom; the slanted
  // edges have outward normals (+-2, -1)/sqrt(5).
  return Math.max(dy - half, (2 * Math.abs(dx) - (dy + half)) * INV_SQRT5);
}

export function objectBox(o: SceneObject): Box {
  const h = o.size / 2;
  return [o.x - h, o.y - h, o.x + h, o.y + h];
}

/** Sizes that keep counting (up to 4 objects) and shape classification reliable at 32x32 (7 to 9.6 px). */
export const SIZE_RANGE: readonly [number, number] = [0.22, 0.3];
/** Free space between boxes: blur from a generator must not merge neighbours. */
export const MIN_GAP = 0.1;
const EDGE_MARGIN = 0.03;
const MAX_OBJECTS = 5;

export function boxesSeparated(a: Box, b: Box, gap = MIN_GAP): boolean {
  return a[2] + gap <= b[0] || b[2] + gap <= a[0] || a[3] + gap <= b[1] || b[3] + gap <= a[1];
}

/** What the placement needs to know about an object before it has a place. */
export interface ObjectKind {
  shape: Shape;
  color: ColorName;
}

/** Extra condition a placement must meet (e.g. a spatial relation); checked after each attempt. */
export type PlacementCheck = (objects: SceneObject[]) => boolean;

/**
 * Places the given objects at random sizes and positions with no overlap. `fixed` objects keep their place
 * (edits add objects around them). Free rejection sampling first; crowded scenes (up to 4 new objects)
 * fall back to one object per cell of a jittered 2x2 grid. Throws if no placement passes `check`.
 */
export function placeObjects(
  rng: Rng,
  kinds: readonly ObjectKind[],
  check: PlacementCheck = () => true,
  fixed: readonly SceneObject[] = [],
): SceneObject[] {
  if (kinds.length + fixed.length > MAX_OBJECTS) {
    throw new Error(`placeObjects: at most ${MAX_OBJECTS} objects fit a scene, asked for ${kinds.length + fixed.length}`);
  }
  for (let attempt = 0; attempt < 300; attempt++) {
    const placed = attempt < 40 || fixed.length > 0 || kinds.length > 4 ? placeFree(rng, kinds, fixed) : placeInGrid(rng, kinds);
    if (placed && check(placed)) return placed;
  }
  throw new Error(`placeObjects: no valid placement found for ${kinds.length} objects`);
}

function placeFree(rng: Rng, kinds: readonly ObjectKind[], fixed: readonly SceneObject[]): SceneObject[] | null {
  const placed: SceneObject[] = [...fixed];
  for (const kind of kinds) {
    const obj = placeOne(rng, kind, placed);
    if (!obj) return null;
    placed.push(obj);
  }
  return placed;
}

/** One object per random cell of a 2x2 grid, jittered inside its cell (boxes stay MIN_GAP apart). */
function placeInGrid(rng: Rng, kinds: readonly ObjectKind[]): SceneObject[] {
  const cells = rng.shuffle([0, 1, 2, 3]);
  return kinds.map((kind, i) => {
    const size = rng.uniform(SIZE_RANGE[0], SIZE_RANGE[1]);
    const col = cells[i]! % 2,
      row = cells[i]! >> 1;
    const lo = (k: number) => (k === 0 ? EDGE_MARGIN : 0.5 + MIN_GAP / 2) + size / 2;
    const hi = (k: number) => (k === 0 ? 0.5 - MIN_GAP / 2 : 1 - EDGE_MARGIN) - size / 2;
    return { ...kind, size, x: rng.uniform(lo(col), hi(col)), y: rng.uniform(lo(row), hi(row)) };
  });
}

function placeOne(rng: Rng, kind: ObjectKind, placed: readonly SceneObject[]): SceneObject | null {
  for (let tries = 0; tries < 30; tries++) {
    const size = rng.uniform(SIZE_RANGE[0], SIZE_RANGE[1]);
    const lo = EDGE_MARGIN + size / 2;
    const x = rng.uniform(lo, 1 - lo),
      y = rng.uniform(lo, 1 - lo);
    const h = size / 2 + MIN_GAP;
    // Separated when the gap along x or along y is at least MIN_GAP.
    if (placed.every((p) => Math.abs(p.x - x) >= h + p.size / 2 || Math.abs(p.y - y) >= h + p.size / 2)) {
      return { ...kind, size, x, y };
    }
  }
  return null;
}

/** A random scene of `count` objects (random shapes and colours). */
export function sampleScene(rng: Rng, count = 1 + rng.int(4)): Scene {
  const kinds = Array.from({ length: count }, () => ({ shape: rng.pick(SHAPES), color: rng.pick(COLORS) }));
  return { background: rng.pick(BACKGROUNDS), objects: placeObjects(rng, kinds) };
}

/** Checks a scene's fields; throws an Error naming the first bad field. */
export function validateScene(scene: Scene): Scene {
  if (!BACKGROUNDS.includes(scene.background)) throw new Error(`scene.background: unknown background "${scene.background}"`);
  scene.objects.forEach((o, i) => {
    if (!SHAPES.includes(o.shape)) throw new Error(`scene.objects[${i}].shape: unknown shape "${o.shape}"`);
    if (!COLORS.includes(o.color)) throw new Error(`scene.objects[${i}].color: unknown colour "${o.color}"`);
    for (const key of ['size', 'x', 'y'] as const) {
      if (!Number.isFinite(o[key]) || o[key] < 0 || o[key] > 1)
        throw new Error(`scene.objects[${i}].${key}: must be in [0,1], got ${o[key]}`);
    }
  });
  return scene;
}

export function describeObject(o: { shape: string; color: string }): string {
  return `${o.color} ${o.shape}`;
}
