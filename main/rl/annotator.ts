// A scripted annotator: ranks the groups waiting in the ranking queue by a hidden criterion the automatic
// rewards do not measure (e.g. "prefers larger shapes"), so human-in-the-loop training and the learned
// preference reward can be measured without people (issue 6, results).
import type { Store } from '../../db/store.ts';
import { detectObjects } from '../world/detect.ts';
import type { ImageRGB } from '../world/image.ts';
import { decodePng } from '../world/png.ts';

/** Hidden criteria: a score per image, higher = preferred. */
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

export function isCriterion(name: string): name is Criterion {
  return Object.hasOwn(CRITERIA, name);
}

/** Ranks every group in `annotator`'s queue (of `runId`, if given) by `criterion`; equal scores tie. Returns how many. */
export function rankQueue(store: Store, criterion: Criterion, annotator = `script:${criterion}`, runId?: number): number {
  const queue = store.rankings.queue({ annotator, limit: 100, ...(runId !== undefined ? { runId } : {}) });
  for (const group of queue) {
    const members = store.samples.members(group.id);
    const scores = members.map((s) => {
      const png = store.samples.imagePng(s.id);
      if (!png) throw new Error(`scripted annotator: sample ${s.id} of group ${group.id} has no image`);
      return CRITERIA[criterion](decodePng(png));
    });
    const distinct = [...new Set(scores)].sort((a, b) => b - a);
    store.rankings.submit({
      groupId: group.id, annotator, durationMs: 0,
      ranks: members.map((s, i) => ({ sampleId: s.id, rank: distinct.indexOf(scores[i]!) + 1 })),
    });
  }
  return queue.length;
}

/** Keeps ranking the queue every `intervalMs` until the returned stop function is called. */
export function startScriptedAnnotator(store: Store, criterion: Criterion, options: { runId?: number; intervalMs?: number } = {}): () => void {
  const timer = setInterval(() => rankQueue(store, criterion, undefined, options.runId), options.intervalMs ?? 200);
  return () => clearInterval(timer);
}
