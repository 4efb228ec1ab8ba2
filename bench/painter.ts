// An image maker independent of ShapeWorld's renderer (main/world/render.ts), standing in for "another
// model" when ShapeEval scores a folder of images: its own colour values (a random hue, saturation and
// brightness inside each colour's range, never the palette's), its own near-neutral backgrounds, its own
// geometry (an equilateral triangle, not ShapeWorld's box-filling one), anti-aliasing by 4x4 supersampling
// of edge pixels, any size, and Gaussian pixel noise. It knows what it drew, so the truth is exact.
import type { Box, ColorName, EvalObject, Rng, Shape } from '../main/world/index.ts';

/** Hue ranges in degrees, each well inside the colour's name (the scorer's bins are wider). */
const HUES: Readonly<Record<ColorName, readonly [number, number]>> = {
  red: [-8, 6],
  orange: [22, 34],
  yellow: [48, 60],
  green: [100, 145],
  blue: [205, 235],
  purple: [268, 292],
};

export interface PaintedObject {
  shape: Shape;
  color: ColorName;
  /** Centre and size (circle diameter, square side, triangle side) in image fractions. */
  x: number;
  y: number;
  size: number;
}

export interface PaintOptions {
  size: number;
  /** Standard deviation of Gaussian pixel noise, in [0,1] units (0: none). */
  noise: number;
  /** Supersample edge pixels 4x4 (anti-aliasing); off: hard, aliased edges. */
  antialias: boolean;
}

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const hh = (((h % 360) + 360) % 360) / 60;
  const c = v * s,
    x = c * (1 - Math.abs((hh % 2) - 1)),
    m = v - c;
  const [r, g, b] = hh < 1 ? [c, x, 0] : hh < 2 ? [x, c, 0] : hh < 3 ? [0, c, x] : hh < 4 ? [0, x, c] : hh < 5 ? [x, 0, c] : [c, 0, x];
  return [r + m, g + m, b + m];
}

/** A colour value for the name: random hue in its range, saturation 0.65-0.95, brightness 0.7-0.95. */
export function paintColor(color: ColorName, rng: Rng): [number, number, number] {
  const [lo, hi] = HUES[color];
  return hsvToRgb(rng.uniform(lo, hi), rng.uniform(0.65, 0.95), rng.uniform(0.7, 0.95));
}

/** Signed distance in object-size units (negative inside) of offset (dx, dy) from the object's centre. */
function inside(shape: Shape, dx: number, dy: number, size: number): number {
  const half = size / 2;
  if (shape === 'circle') return Math.hypot(dx, dy) - half;
  if (shape === 'square') return Math.max(Math.abs(dx), Math.abs(dy)) - half;
  // Equilateral triangle of side `size`, apex up, centred on its bounding box.
  const height = (size * Math.sqrt(3)) / 2;
  const top = -height / 2,
    bottom = height / 2;
  // Edges: base y = bottom; slanted sides through the apex (0, top) with slope +-2h/size.
  const slant = (Math.abs(dx) * height * 2) / size - (dy - top);
  return Math.max(dy - bottom, slant / Math.hypot((2 * height) / size, 1));
}

/** The object's bounding box in image fractions (what the truth checks positions with). */
export function paintedBox(o: PaintedObject): Box {
  const halfH = o.shape === 'triangle' ? (o.size * Math.sqrt(3)) / 4 : o.size / 2;
  return [o.x - o.size / 2, o.y - halfH, o.x + o.size / 2, o.y + halfH];
}

export function paintedObjectsForEval(objects: readonly PaintedObject[]): EvalObject[] {
  return objects.map((o) => ({ shape: o.shape, color: o.color, box: paintedBox(o) }));
}

/** Paints the objects on a random near-neutral background; returns 8-bit RGB. */
export function paint(
  objects: readonly PaintedObject[],
  options: PaintOptions,
  rng: Rng,
): { width: number; height: number; data: Uint8Array } {
  const n = options.size;
  const level = rng.uniform(0.82, 1);
  const tint = [0, 1, 2].map(() => rng.uniform(-0.03, 0.03));
  const background = tint.map((t) => Math.min(1, Math.max(0, level + t)));
  const colors = objects.map((o) => paintColor(o.color, rng));
  const out = new Float32Array(n * n * 3);
  const edge = 1.5 / n; // within this distance of an edge, a pixel is supersampled
  for (let py = 0; py < n; py++) {
    for (let px = 0; px < n; px++) {
      const pixel = [background[0]!, background[1]!, background[2]!];
      objects.forEach((o, k) => {
        const cx = (px + 0.5) / n - o.x,
          cy = (py + 0.5) / n - o.y;
        const d = inside(o.shape, cx, cy, o.size);
        let coverage: number;
        if (d > edge) return;
        if (d < -edge || !options.antialias) coverage = d <= 0 ? 1 : 0;
        else {
          let hits = 0;
          for (let sy = 0; sy < 4; sy++)
            for (let sx = 0; sx < 4; sx++) {
              if (inside(o.shape, (px + (sx + 0.5) / 4) / n - o.x, (py + (sy + 0.5) / 4) / n - o.y, o.size) <= 0) hits++;
            }
          coverage = hits / 16;
        }
        for (let c = 0; c < 3; c++) pixel[c] = pixel[c]! * (1 - coverage) + colors[k]![c]! * coverage;
      });
      for (let c = 0; c < 3; c++) out[(py * n + px) * 3 + c] = pixel[c]!;
    }
  }
  const data = new Uint8Array(n * n * 3);
  for (let i = 0; i < out.length; i++) data[i] = Math.round(255 * Math.min(1, Math.max(0, out[i]! + options.noise * rng.normal())));
  return { width: n, height: n, data };
}
