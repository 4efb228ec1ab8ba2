// Renders scenes to RGB arrays with analytic anti-aliasing: each pixel's coverage comes from the signed
// distance (in pixels) of its centre to the shape's edge; work is limited to each object's bounding box.
import type { ImageRGB } from './image.ts';
import { BACKGROUND_RGB, PALETTE, SHAPES, signedDistance, type Scene, type SceneObject } from './scene.ts';

export const DEFAULT_RESOLUTION = 32;

export interface RenderOptions {
  width?: number;
  height?: number;
}

/** Renders into a new float image [height, width, 3] in [0,1]. */
export function renderScene(scene: Scene, options: RenderOptions = {}): ImageRGB & { data: Float32Array } {
  const width = options.width ?? DEFAULT_RESOLUTION;
  const height = options.height ?? width;
  if (!Number.isSafeInteger(width) || width < 4 || !Number.isSafeInteger(height) || height < 4) {
    throw new Error(`renderScene: size must be integers >= 4, got ${width}x${height}`);
  }
  const data = new Float32Array(width * height * 3);
  renderSceneInto(scene, data, width, height);
  return { width, height, data };
}

/** Renders into `out` ([height, width, 3], overwritten) so hot loops can reuse one buffer. */
export function renderSceneInto(scene: Scene, out: Float32Array, width: number, height: number): void {
  if (out.length !== width * height * 3)
    throw new Error(`renderSceneInto: out has ${out.length} values, ${width}x${height}x3 needs ${width * height * 3}`);
  const bg = BACKGROUND_RGB[scene.background];
  if (!bg) throw new Error(`renderScene: unknown background "${scene.background}"`);
  const br = bg[0],
    bgG = bg[1],
    bb = bg[2];
  for (let i = 0; i < out.length; i += 3) {
    out[i] = br;
    out[i + 1] = bgG;
    out[i + 2] = bb;
  }
  for (const obj of scene.objects) drawObject(obj, out, width, height);
}

function drawObject(obj: SceneObject, out: Float32Array, width: number, height: number): void {
  const rgb = PALETTE[obj.color];
  if (!rgb) throw new Error(`renderScene: unknown colour "${obj.color}"`);
  if (!SHAPES.includes(obj.shape)) throw new Error(`renderScene: unknown shape "${String(obj.shape)}"`);
  // Geometry in pixel units; the shape's box is size*width on both axes (square pixels assumed).
  const half = (obj.size * width) / 2;
  const cx = obj.x * width;
  const cy = obj.y * height;
  const x0 = Math.max(0, Math.floor(cx - half - 1));
  const x1 = Math.min(width - 1, Math.ceil(cx + half + 1));
  const y0 = Math.max(0, Math.floor(cy - half - 1));
  const y1 = Math.min(height - 1, Math.ceil(cy + half + 1));
  const shape = obj.shape;
  for (let py = y0; py <= y1; py++) {
    const dy = py + 0.5 - cy;
    for (let px = x0; px <= x1; px++) {
      const dx = px + 0.5 - cx;
      const sd = signedDistance(shape, dx, dy, half);
      const coverage = 0.5 - sd;
      if (coverage <= 0) continue;
      const a = coverage >= 1 ? 1 : coverage;
      const i = (py * width + px) * 3;
      out[i] = out[i]! + (rgb[0] - out[i]!) * a;
      out[i + 1] = out[i + 1]! + (rgb[1] - out[i + 1]!) * a;
      out[i + 2] = out[i + 2]! + (rgb[2] - out[i + 2]!) * a;
    }
  }
}
