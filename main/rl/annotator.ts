// A scripted annotator: ranks the groups waiting in the ranking queue by a hidden criterion the automatic
// rewards do not measure (e.g. "prefers larger shapes"), so human-in-the-loop training and the learned
// preference reward can be measured without people (issue 6, results). The criteria live in world/criteria.ts
// (ShapeEval reports them too).
import type { Store } from '../../db/store.ts';
import { CRITERIA, type Criterion } from '../world/criteria.ts';
import { decodePng } from '../world/png.ts';

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
      groupId: group.id,
      annotator,
      durationMs: 0,
      ranks: members.map((s, i) => ({ sampleId: s.id, rank: distinct.indexOf(scores[i]!) + 1 })),
    });
  }
  return queue.length;
}

/** Keeps ranking the queue every `intervalMs` until the returned stop function is called. */
export function startScriptedAnnotator(
  store: Store,
  criterion: Criterion,
  options: { runId?: number; intervalMs?: number } = {},
): () => void {
  const timer = setInterval(() => rankQueue(store, criterion, undefined, options.runId), options.intervalMs ?? 200);
  return () => clearInterval(timer);
}
