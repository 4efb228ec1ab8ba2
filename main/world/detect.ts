// ShapeEval's detector: finds coloured objects in any RGB image, without knowing how it was made.
//  1. smooth with a [1 2 1]^2/16 kernel (cuts pixel noise 2.7x; keeps edges where the 50% contour is),
//  2. a pixel is foreground when its chroma (max - min channel) is high: every near-neutral background
//     (white, grey, black) is background; its colour is the palette hue bin it falls in (mixing a colour
//     with a neutral background keeps its hue, so anti-aliased and blurred edges keep their colour),
//  3. 8-connected components of equal colour; those below a minimum area are not objects, but a lot of
//     such stray colour (noise, texture) becomes one 'unknown' object (see clutterObject); a component that
//     is no shape but splits into shapes (touching objects of one colour) is those objects (see splitComponent),
//  4. shape by matching blur-tolerant templates (see shapeFeatures), box and centre from the component.
import { assertImage, type ImageRGB } from './image.ts';
import { COLORS, SHAPES, signedDistance, type Box, type ColorName, type Shape } from './scene.ts';

export interface DetectedObject {
  /** 'unknown' when the blob matches no shape: it counts as an object but satisfies no requirement. */
  shape: Shape | 'unknown';
  color: ColorName;
  /** Bounding box in image fractions [x0, y0, x1, y1]. */
  box: Box;
  /** Centre of the bounding box in image fractions. */
  center: readonly [number, number];
  /** Pixels in the component, as a fraction of the image. */
  area: number;
  /** Shape features, for debugging and the docs. */
  features: ShapeFeatures;
}

export interface ShapeFeatures {
  /** Soft IoU of the blob with each shape's template (same area and centroid). */
  iou: Record<Shape, number>;
  /** Box width / height. */
  aspect: number;
  /** Component pixels / box pixels: triangle ~0.5-0.7, circle ~0.8, square ~1. */
  fill: number;
  /** Mean chroma of the component's interior (palette colours: 0.65-0.85; noise blobs stay lower). */
  strength: number;
}

/** Foreground when max - min channel exceeds this (palette chroma is 0.65..0.85). */
const CHROMA_THRESHOLD = 0.3;
/** Smallest object, as a fraction of the image (8 px at 32x32; the smallest triangle is ~24 px). */
const MIN_AREA_FRACTION = 0.008;
/** Pixels around a component's box that the template match looks at (blurred edges spread this far). */
const FRINGE = 2;
/** Coverage below this outside the component is background noise. */
const FRINGE_FLOOR = 0.15;
/** A blob whose interior chroma is below this is too washed out to be a palette object (palette colours
 *  at 60% contrast still pass; blobs of smoothed uniform noise mostly do not). */
const MIN_STRENGTH = 0.32;
/** Every shape's box is about square (the widest, an equilateral triangle, is 1.15:1); a blob of 3:2 or longer is
 *  not one shape (two touching squares make a 2:1 box whose outline can still pass a circle's template). */
const MIN_ASPECT = 0.67;
/** A blob whose best template IoU is below this is 'unknown'. */
const MIN_TEMPLATE_IOU = 0.7;

// Hue (degrees) bin edges between palette hues: red 0, orange 30, yellow 56, green 125, blue 229, purple 282.
const HUE_EDGES: readonly [number, ColorName][] = [
  [15, 'red'],
  [43, 'orange'],
  [90, 'yellow'],
  [177, 'green'],
  [255, 'blue'],
  [320, 'purple'],
  [360, 'red'],
];
const COLOR_INDEX: Record<ColorName, number> = Object.fromEntries(COLORS.map((c, i) => [c, i])) as Record<ColorName, number>;
const HUE_LABEL = new Uint8Array(360);
for (let h = 0, e = 0; h < 360; h++) {
  while (h >= HUE_EDGES[e]![0]) e++;
  HUE_LABEL[h] = COLOR_INDEX[HUE_EDGES[e]![1]];
}

/** Reused scratch buffers, one set per image size (detection is synchronous, so sharing is safe). */
interface Workspace {
  horizontal: Float32Array; // [h, w, 3] after the horizontal smoothing pass
  smooth: Float32Array; // [h, w, 3] after both passes
  background: Float32Array; // [3]: mean colour of the background pixels
  label: Int8Array; // [h, w]: -1 background, else colour index
  weight: Float32Array; // [h, w]: chroma (max - min channel) after smoothing
  visited: Uint8Array; // [h, w]: 0 unvisited, 1 visited, OBJECT_PIXEL in an accepted object
  stack: Int32Array; // pixel indices of the current component
  small: Int32Array; // pixel indices of the components too small to be objects
  coverage: Float32Array; // soft coverage of the current component's box
  template: Float32Array; // a shape template over the same box
  scratch: Float32Array; // blur scratch for the template
}
const workspaces = new Map<number, Workspace>();

function workspaceFor(width: number, height: number): Workspace {
  const key = width * 100003 + height;
  let ws = workspaces.get(key);
  if (!ws) {
    const n = width * height;
    ws = {
      horizontal: new Float32Array(n * 3),
      smooth: new Float32Array(n * 3),
      background: new Float32Array(3),
      label: new Int8Array(n),
      weight: new Float32Array(n),
      visited: new Uint8Array(n),
      stack: new Int32Array(n),
      small: new Int32Array(n),
      coverage: new Float32Array(n),
      template: new Float32Array(n),
      scratch: new Float32Array(n),
    };
    if (workspaces.size > 8) workspaces.clear();
    workspaces.set(key, ws);
  }
  return ws;
}

export function detectObjects(image: ImageRGB): DetectedObject[] {
  assertImage(image);
  const { width: w, height: h } = image;
  const ws = workspaceFor(w, h);
  smoothAndLabel(image, ws);
  const { label, visited, stack } = ws;
  visited.fill(0);
  const minArea = Math.max(3, Math.round(MIN_AREA_FRACTION * w * h));
  const objects: DetectedObject[] = [];
  // Components too small to be objects, kept for the clutter check below: pixels in ws.small, [end, label] pairs.
  let smallPixels = 0;
  const smallComponents: number[] = [];
  for (let start = 0; start < w * h; start++) {
    const lab = label[start]!;
    if (lab < 0 || visited[start]) continue;
    // Flood fill (8-connected) collecting the component's pixels in `stack[0..count)`.
    let count = 0;
    let top = 0;
    stack[count++] = start;
    visited[start] = 1;
    let minX = w,
      minY = h,
      maxX = -1,
      maxY = -1;
    while (top < count) {
      const p = stack[top++]!;
      const px = p % w;
      const py = (p - px) / w;
      if (px < minX) minX = px;
      if (px > maxX) maxX = px;
      if (py < minY) minY = py;
      if (py > maxY) maxY = py;
      for (let ny = py - 1; ny <= py + 1; ny++) {
        if (ny < 0 || ny >= h) continue;
        for (let nx = px - 1; nx <= px + 1; nx++) {
          if (nx < 0 || nx >= w) continue;
          const q = ny * w + nx;
          if (visited[q] || label[q] !== lab) continue;
          visited[q] = 1;
          stack[count++] = q;
        }
      }
    }
    if (count < minArea) {
      ws.small.set(stack.subarray(0, count), smallPixels);
      smallPixels += count;
      smallComponents.push(smallPixels, lab);
      continue;
    }
    for (let i = 0; i < count; i++) visited[stack[i]!] = OBJECT_PIXEL;
    const features = shapeFeatures(stack, count, ws, lab, w, h, minX, minY, maxX, maxY);
    const whole = objectOf(stack, count, features, lab, w, h);
    const parts = whole.shape === 'unknown' && count >= 2 * minArea ? splitComponent(stack.slice(0, count), ws, lab, w, h, minArea) : null;
    objects.push(...(parts ?? [whole]));
  }
  const clutter = clutterObject(ws, smallComponents, w, h);
  if (clutter && clutter.area * w * h >= minArea) objects.push(clutter);
  return objects;
}

const OBJECT_PIXEL = 2;
/** Label of pixels that belong to another part of a component being split (neither this part nor background). */
const OTHER_PART = -2;

function boundsOf(pixels: Int32Array, count: number, w: number): [number, number, number, number] {
  let minX = Infinity,
    minY = Infinity,
    maxX = -1,
    maxY = -1;
  for (let i = 0; i < count; i++) {
    const p = pixels[i]!,
      x = p % w,
      y = (p - x) / w;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  return [minX, minY, maxX, maxY];
}

function objectOf(pixels: Int32Array, count: number, features: ShapeFeatures, lab: number, w: number, h: number): DetectedObject {
  const [minX, minY, maxX, maxY] = boundsOf(pixels, count, w);
  return {
    shape: classifyShape(features),
    color: COLORS[lab]!,
    box: [minX / w, minY / h, (maxX + 1) / w, (maxY + 1) / h],
    center: [(minX + maxX + 1) / (2 * w), (minY + maxY + 1) / (2 * h)],
    area: count / (w * h),
    features,
  };
}

/**
 * Touching objects of one colour form one component that matches no shape. Its parts are found by eroding
 * it (chessboard distance to its edge) until it falls apart at the neck where the objects touch, then
 * growing the pieces back over the component; a blob with no neck but the outline of 2-4 equal squares in a
 * row is cut into equal parts. The split stands only when every part is a shape of its own.
 */
function splitComponent(pixels: Int32Array, ws: Workspace, lab: number, w: number, h: number, minArea: number): DetectedObject[] | null {
  const [minX, minY, maxX, maxY] = boundsOf(pixels, pixels.length, w);
  const bw = maxX - minX + 1,
    bh = maxY - minY + 1;
  const local = (p: number) => ((p - (p % w)) / w - minY) * bw + (p % w) - minX;
  const mask = new Uint8Array(bw * bh);
  for (const p of pixels) mask[local(p)] = 1;
  for (const part of [...erosionSeeds(mask, bw, bh), ...rowCuts(bw, bh, pixels.length)]) {
    const owner = growSeeds(mask, bw, bh, part);
    const count = owner.reduce((m, o) => Math.max(m, o), -1) + 1;
    if (count < 2) continue;
    const groups = Array.from({ length: count }, () => [] as number[]);
    for (const p of pixels) groups[owner[local(p)]!]!.push(p);
    if (groups.some((g) => g.length < minArea)) continue;
    const found = groups.map((group) => {
      // The other parts' pixels count as neither this part nor background while this one is matched.
      for (const other of groups) if (other !== group) for (const p of other) ws.label[p] = OTHER_PART;
      const partPixels = Int32Array.from(group);
      const [x0, y0, x1, y1] = boundsOf(partPixels, group.length, w);
      const features = shapeFeatures(partPixels, group.length, ws, lab, w, h, x0, y0, x1, y1);
      for (const p of pixels) ws.label[p] = lab;
      return objectOf(partPixels, group.length, features, lab, w, h);
    });
    if (found.every((o) => o.shape !== 'unknown')) return found;
  }
  return null;
}

/** Seed maps (0: none, k: seed k) from the first erosion depth at which the mask falls into 2+ pieces. */
function erosionSeeds(mask: Uint8Array, bw: number, bh: number): Int32Array[] {
  const depth = new Int32Array(bw * bh);
  for (let i = 0; i < depth.length; i++) depth[i] = mask[i] ? 1 << 20 : 0;
  // Chessboard distance to the nearest pixel outside the mask (outside the box counts as outside).
  for (let y = 0; y < bh; y++)
    for (let x = 0; x < bw; x++) {
      const i = y * bw + x;
      if (!depth[i]) continue;
      let d = 1 << 20;
      for (const [dx, dy] of [
        [-1, 0],
        [-1, -1],
        [0, -1],
        [1, -1],
      ] as const) {
        const nx = x + dx,
          ny = y + dy;
        d = Math.min(d, nx < 0 || ny < 0 || nx >= bw ? 0 : depth[ny * bw + nx]!);
      }
      depth[i] = d + 1;
    }
  for (let y = bh - 1; y >= 0; y--)
    for (let x = bw - 1; x >= 0; x--) {
      const i = y * bw + x;
      if (!depth[i]) continue;
      let d = depth[i] - 1;
      for (const [dx, dy] of [
        [1, 0],
        [1, 1],
        [0, 1],
        [-1, 1],
      ] as const) {
        const nx = x + dx,
          ny = y + dy;
        d = Math.min(d, nx < 0 || ny >= bh || nx >= bw ? 0 : depth[ny * bw + nx]!);
      }
      depth[i] = d + 1;
    }
  const deepest = depth.reduce((m, d) => Math.max(m, d), 0);
  const out: Int32Array[] = [];
  for (let level = 2; level <= deepest; level++) {
    const seeds = new Int32Array(bw * bh);
    let pieces = 0;
    for (let i = 0; i < seeds.length; i++) {
      if (depth[i]! < level || seeds[i]) continue;
      pieces++;
      const queue = [i];
      seeds[i] = pieces;
      while (queue.length) {
        const q = queue.pop()!,
          qx = q % bw,
          qy = (q - qx) / bw;
        for (let ny = Math.max(0, qy - 1); ny <= Math.min(bh - 1, qy + 1); ny++)
          for (let nx = Math.max(0, qx - 1); nx <= Math.min(bw - 1, qx + 1); nx++) {
            const r = ny * bw + nx;
            if (depth[r]! >= level && !seeds[r]) {
              seeds[r] = pieces;
              queue.push(r);
            }
          }
      }
    }
    if (pieces >= 2) {
      out.push(seeds);
      break;
    }
  }
  return out;
}

/** Seed maps cutting a well-filled box into k = 2..4 equal cells along its long side when its aspect is about k. */
function rowCuts(bw: number, bh: number, area: number): Int32Array[] {
  const long = Math.max(bw, bh),
    short = Math.min(bw, bh);
  const k = Math.round(long / short);
  if (k < 2 || k > 4 || Math.abs(long / short - k) > 0.35 || area < 0.8 * bw * bh) return [];
  const seeds = new Int32Array(bw * bh);
  for (let y = 0; y < bh; y++)
    for (let x = 0; x < bw; x++) {
      const along = bw >= bh ? x / bw : y / bh;
      const cell = Math.min(k - 1, Math.floor(along * k));
      // Seed each cell's middle only; growth assigns the pixels between cells to the nearer one.
      const middle = Math.abs(along * k - cell - 0.5) < 0.25;
      if (middle) seeds[y * bw + x] = cell + 1;
    }
  return [seeds];
}

/** Every mask pixel's part (0-based): multi-source breadth-first growth from the seeds, inside the mask. */
function growSeeds(mask: Uint8Array, bw: number, bh: number, seeds: Int32Array): Int32Array {
  const owner = new Int32Array(bw * bh).fill(-1);
  let frontier: number[] = [];
  for (let i = 0; i < seeds.length; i++)
    if (mask[i] && seeds[i]) {
      owner[i] = seeds[i]! - 1;
      frontier.push(i);
    }
  while (frontier.length) {
    const next: number[] = [];
    for (const q of frontier) {
      const qx = q % bw,
        qy = (q - qx) / bw;
      for (let ny = Math.max(0, qy - 1); ny <= Math.min(bh - 1, qy + 1); ny++)
        for (let nx = Math.max(0, qx - 1); nx <= Math.min(bw - 1, qx + 1); nx++) {
          const r = ny * bw + nx;
          if (mask[r] && owner[r] === -1) {
            owner[r] = owner[q]!;
            next.push(r);
          }
        }
    }
    frontier = next;
  }
  return owner;
}

/**
 * Colour in components too small to be objects and not touching an object (a hue-shifted fringe of an
 * object is part of it). Plenty of it (noise, texture) is reported as one unexpected 'unknown' object,
 * so a noisy image cannot pass as a clean one.
 */
function clutterObject(ws: Workspace, components: number[], w: number, h: number): DetectedObject | null {
  const { small, visited } = ws;
  const byColor = new Int32Array(COLORS.length);
  let total = 0,
    x0 = w,
    y0 = h,
    x1 = -1,
    y1 = -1;
  for (let c = 0, begin = 0; c < components.length; begin = components[c]!, c += 2) {
    const end = components[c]!;
    let attached = false;
    for (let i = begin; i < end && !attached; i++) {
      const p = small[i]!;
      const px = p % w,
        py = (p - px) / w;
      for (let ny = Math.max(0, py - 1); ny <= Math.min(h - 1, py + 1) && !attached; ny++) {
        for (let nx = Math.max(0, px - 1); nx <= Math.min(w - 1, px + 1); nx++) {
          if (visited[ny * w + nx] === OBJECT_PIXEL) {
            attached = true;
            break;
          }
        }
      }
    }
    if (attached) continue;
    total += end - begin;
    byColor[components[c + 1]!]! += end - begin;
    for (let i = begin; i < end; i++) {
      const p = small[i]!;
      const px = p % w,
        py = (p - px) / w;
      x0 = Math.min(x0, px);
      y0 = Math.min(y0, py);
      x1 = Math.max(x1, px);
      y1 = Math.max(y1, py);
    }
  }
  if (total === 0) return null;
  return {
    shape: 'unknown',
    color: COLORS[byColor.indexOf(Math.max(...byColor))]!,
    box: [x0 / w, y0 / h, (x1 + 1) / w, (y1 + 1) / h],
    center: [(x0 + x1 + 1) / (2 * w), (y0 + y1 + 1) / (2 * h)],
    area: total / (w * h),
    features: { iou: { circle: 0, square: 0, triangle: 0 }, aspect: 0, fill: 0, strength: 0 },
  };
}

function smoothAndLabel(image: ImageRGB, ws: Workspace): void {
  const { width: w, height: h } = image;
  const src = image.data;
  const scale = src instanceof Uint8Array ? 1 / 255 : 1;
  const { horizontal, smooth, label, weight, background } = ws;
  let bgR = 0,
    bgG = 0,
    bgB = 0,
    bgCount = 0;
  // Horizontal [1 2 1] pass.
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const l = (row + (x > 0 ? x - 1 : x)) * 3;
      const c = (row + x) * 3;
      const r = (row + (x < w - 1 ? x + 1 : x)) * 3;
      horizontal[c] = (src[l]! + 2 * src[c]! + src[r]!) * 0.25 * scale;
      horizontal[c + 1] = (src[l + 1]! + 2 * src[c + 1]! + src[r + 1]!) * 0.25 * scale;
      horizontal[c + 2] = (src[l + 2]! + 2 * src[c + 2]! + src[r + 2]!) * 0.25 * scale;
    }
  }
  // Vertical pass fused with labelling (reads rows y-1, y, y+1 of the horizontal result).
  for (let y = 0; y < h; y++) {
    const up = (y > 0 ? y - 1 : y) * w;
    const mid = y * w;
    const down = (y < h - 1 ? y + 1 : y) * w;
    for (let x = 0; x < w; x++) {
      const a = (up + x) * 3,
        b = (mid + x) * 3,
        d = (down + x) * 3;
      const r = (horizontal[a]! + 2 * horizontal[b]! + horizontal[d]!) * 0.25;
      const g = (horizontal[a + 1]! + 2 * horizontal[b + 1]! + horizontal[d + 1]!) * 0.25;
      const bl = (horizontal[a + 2]! + 2 * horizontal[b + 2]! + horizontal[d + 2]!) * 0.25;
      smooth[b] = r;
      smooth[b + 1] = g;
      smooth[b + 2] = bl;
      const max = r > g ? (r > bl ? r : bl) : g > bl ? g : bl;
      const min = r < g ? (r < bl ? r : bl) : g < bl ? g : bl;
      const chroma = max - min;
      const p = mid + x;
      weight[p] = chroma;
      if (chroma < CHROMA_THRESHOLD) {
        label[p] = -1;
        if (chroma < 0.5 * CHROMA_THRESHOLD) {
          bgR += r;
          bgG += g;
          bgB += bl;
          bgCount++;
        }
        continue;
      }
      let hue: number;
      if (max === r) hue = 60 * ((g - bl) / chroma);
      else if (max === g) hue = 60 * ((bl - r) / chroma + 2);
      else hue = 60 * ((r - g) / chroma + 4);
      if (hue < 0) hue += 360;
      label[p] = HUE_LABEL[Math.min(359, hue | 0)]!;
    }
  }
  // Mean of the clearly neutral pixels; mid-grey if there are none (then nothing is background anyway).
  background[0] = bgCount ? bgR / bgCount : 0.5;
  background[1] = bgCount ? bgG / bgCount : 0.5;
  background[2] = bgCount ? bgB / bgCount : 0.5;
}

/**
 * Shape by template matching. The component's soft coverage (projection of each pixel's colour onto the
 * line from the background colour to the component's own colour) is compared with each shape rendered at
 * the same area and centroid (both survive symmetric blur), blurred like the image was (the detector's own
 * smoothing, alone or after a further 3x3 blur from the generator). The best soft IoU wins.
 */
function shapeFeatures(
  pixels: Int32Array,
  count: number,
  ws: Workspace,
  lab: number,
  w: number,
  h: number,
  minX: number,
  minY: number,
  maxX: number,
  maxY: number,
): ShapeFeatures {
  const { weight, label, smooth, background } = ws;
  // The component's own colour: mean over its strongest pixels (its interior).
  let peak = 0;
  for (let i = 0; i < count; i++) peak = Math.max(peak, weight[pixels[i]!]!);
  let cr = 0,
    cg = 0,
    cb = 0,
    n = 0;
  for (let i = 0; i < count; i++) {
    const p = pixels[i]!;
    if (weight[p]! < 0.8 * peak) continue;
    cr += smooth[p * 3]!;
    cg += smooth[p * 3 + 1]!;
    cb += smooth[p * 3 + 2]!;
    n++;
  }
  const strength = Math.max(cr / n, cg / n, cb / n) - Math.min(cr / n, cg / n, cb / n);
  const dr = cr / n - background[0]!,
    dg = cg / n - background[1]!,
    db = cb / n - background[2]!;
  const norm2 = dr * dr + dg * dg + db * db;
  // Soft coverage over the box grown by the fringe; pixels of other components count as empty.
  const x0 = Math.max(0, minX - FRINGE),
    x1 = Math.min(w - 1, maxX + FRINGE);
  const y0 = Math.max(0, minY - FRINGE),
    y1 = Math.min(h - 1, maxY + FRINGE);
  const rw = x1 - x0 + 1,
    rh = y1 - y0 + 1;
  const cov = ws.coverage;
  let area = 0,
    sx = 0,
    sy = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const p = y * w + x;
      const l = label[p]!;
      let c = 0;
      if (l === lab || l === -1) {
        c =
          ((smooth[p * 3]! - background[0]!) * dr +
            (smooth[p * 3 + 1]! - background[1]!) * dg +
            (smooth[p * 3 + 2]! - background[2]!) * db) /
          norm2;
        c = c < FRINGE_FLOOR && l !== lab ? 0 : c > 1 ? 1 : c < 0 ? 0 : c;
      }
      cov[(y - y0) * rw + (x - x0)] = c;
      area += c;
      sx += c * (x + 0.5);
      sy += c * (y + 0.5);
    }
  }
  const mx = sx / area,
    my = sy / area;
  const iou = { circle: 0, square: 0, triangle: 0 };
  const template = ws.template,
    scratch = ws.scratch;
  // The detector's own smoothing first; the blurrier templates only when that leaves the match open.
  for (const [k, kernel] of TEMPLATE_BLURS.entries()) {
    if (k > 0 && decisive(iou)) break;
    for (const shape of SHAPES) {
      // Side of the shape's box from the area; the triangle's centroid sits a sixth of its side below the box centre.
      const side = shape === 'circle' ? Math.sqrt((4 * area) / Math.PI) : shape === 'square' ? Math.sqrt(area) : Math.sqrt(2 * area);
      const half = side / 2;
      const cy = shape === 'triangle' ? my - side / 6 : my;
      for (let y = 0; y < rh; y++) {
        const dy = y + y0 + 0.5 - cy;
        for (let x = 0; x < rw; x++) template[y * rw + x] = clamp01(0.5 - signedDistance(shape, x + x0 + 0.5 - mx, dy, half));
      }
      blurSeparable(template, scratch, rw, rh, kernel);
      let inter = 0,
        union = 0;
      for (let i = 0; i < rw * rh; i++) {
        const t = template[i]!,
          c = cov[i]!;
        inter += t < c ? t : c;
        union += t > c ? t : c;
      }
      if (union > 0 && inter / union > iou[shape]) iou[shape] = inter / union;
    }
  }
  return { iou, aspect: (maxX - minX + 1) / (maxY - minY + 1), fill: count / ((maxX - minX + 1) * (maxY - minY + 1)), strength };
}

/** A clear winner: a good match well ahead of the runner-up. */
function decisive(iou: Record<Shape, number>): boolean {
  const [best, second] = Object.values(iou).sort((a, b) => b - a) as [number, number];
  return best >= 0.85 && best - second >= 0.06;
}

/** The detector's [1 2 1] smoothing, and that after a generator's 3x3 box blur ([1 2 1] * [1 1 1]). */
const TEMPLATE_BLURS: readonly Float32Array[] = [
  new Float32Array([1 / 4, 2 / 4, 1 / 4]),
  new Float32Array([1 / 12, 3 / 12, 4 / 12, 3 / 12, 1 / 12]),
];

/** In-place separable blur of a [rh, rw] patch with zero padding (the template is empty at its border). */
function blurSeparable(patch: Float32Array, scratch: Float32Array, rw: number, rh: number, kernel: Float32Array): void {
  const r = kernel.length >> 1;
  for (let y = 0; y < rh; y++) {
    for (let x = 0; x < rw; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) {
        const xx = x + k;
        if (xx >= 0 && xx < rw) s += kernel[k + r]! * patch[y * rw + xx]!;
      }
      scratch[y * rw + x] = s;
    }
  }
  for (let y = 0; y < rh; y++) {
    for (let x = 0; x < rw; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) {
        const yy = y + k;
        if (yy >= 0 && yy < rh) s += kernel[k + r]! * scratch[yy * rw + x]!;
      }
      patch[y * rw + x] = s;
    }
  }
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

export function classifyShape(f: ShapeFeatures): Shape | 'unknown' {
  if (f.aspect < MIN_ASPECT || f.aspect > 1 / MIN_ASPECT || f.strength < MIN_STRENGTH) return 'unknown';
  let best: Shape | 'unknown' = 'unknown';
  let bestIou = MIN_TEMPLATE_IOU;
  for (const shape of SHAPES) {
    if (f.iou[shape] > bestIou) {
      bestIou = f.iou[shape];
      best = shape;
    }
  }
  return best;
}
