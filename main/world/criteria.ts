// Hidden criteria: a score per image, higher = preferred. The scripted annotator (rl/annotator.ts) ranks
// images by one; `unirl eval --criterion NAME` reports its mean over the generated images, to show whether
// human-in-the-loop training moved the model toward it.
import { detectObjects } from './detect.ts';
import type { ImageRGB } from './image.ts';

export const CRITERIA = {
  /** Total area of the detected objects. */
  larger: (image: ImageRGB) => detectObjects(image).reduce((sum, o) => sum + o.area, 0),
  /** Mean green minus mean red of the pixels. */
  greener: (image: ImageRGB) => {
    let sum = 0;
    for (let p = 0; p < image.width * image.height; p++) sum += Number(image.data[p * 3 + 1]) - Number(image.data[p * 3]);
    return sum / (image.width * image.height);
  },
} as const satisfies Record<string, (image: ImageRGB) => number>;
export type Criterion = keyof typeof CRITERIA;

export const CRITERION_NAMES = Object.keys(CRITERIA) as Criterion[];

export function isCriterion(name: string): name is Criterion {
  return Object.hasOwn(CRITERIA, name);
}
