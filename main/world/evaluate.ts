// ShapeEval's check of a spec against a set of objects, the way GenEval checks a prompt (djghosh13/geneval):
// required objects with counts (at least N), colours of the required objects, relative positions from box
// centres with a 0.1 x summed-size margin, forbidden objects (count N+1 for "exactly N"); plus the
// ShapeWorld rule that unmentioned objects are wrong unless the spec allows others.
// The same function checks detected objects (the score) and a scene's true objects (the ground truth).
import { detectObjects, type DetectedObject } from './detect.ts';
import type { ImageRGB } from './image.ts';
import { objectBox, type Box, type Scene } from './scene.ts';
import { matchesKind, type ObjectKindSet, type PromptSpec, type Relation } from './spec.ts';

/** What the check needs of an object; both DetectedObject and a scene's objects provide it. */
export interface EvalObject {
  shape: string;
  color: string;
  box: Box;
}

export interface Verdict {
  /** Binary GenEval verdict. */
  correct: boolean;
  /** Human-readable; "ok" when correct, else one line per failed check. */
  reason: string;
  /** Fractional reward in [0,1] for training: the mean of the required-object sub-rewards, times the
   *  no-other-objects factor when the spec forbids unmentioned objects. 1 exactly when correct. */
  reward: number;
  /** Sub-rewards: count (1 - |required - found| / required), colour (share of the required count with the
   *  right colour), position (0/1); last, the factor max(0, 1 - unexpected / required). */
  terms: { name: string; value: number }[];
}

export interface ScoreResult extends Verdict {
  objects: DetectedObject[];
}

export const POSITION_THRESHOLD = 0.1;

/** GenEval's relative_position: the relations of box `a` to box `b`. */
export function relativePosition(a: Box, b: Box, threshold = POSITION_THRESHOLD): Set<Relation> {
  const dimA = [a[2] - a[0], a[3] - a[1]];
  const dimB = [b[2] - b[0], b[3] - b[1]];
  const offset = [(a[0] + a[2]) / 2 - (b[0] + b[2]) / 2, (a[1] + a[3]) / 2 - (b[1] + b[3]) / 2];
  const revised = offset.map((o, i) => Math.max(Math.abs(o) - threshold * (dimA[i]! + dimB[i]!), 0) * Math.sign(o));
  const relations = new Set<Relation>();
  if (Math.abs(revised[0]!) < 1e-3 && Math.abs(revised[1]!) < 1e-3) return relations;
  const norm = Math.hypot(offset[0]!, offset[1]!);
  const dx = revised[0]! / norm,
    dy = revised[1]! / norm;
  if (dx < -0.5) relations.add('left of');
  if (dx > 0.5) relations.add('right of');
  if (dy < -0.5) relations.add('above');
  if (dy > 0.5) relations.add('below');
  return relations;
}

export function sceneObjectsForEval(scene: Scene): EvalObject[] {
  return scene.objects.map((o) => ({ shape: o.shape, color: o.color, box: objectBox(o) }));
}

/** Words for a kind set in reasons: "red circle", "circle|square", "(red|orange) square". */
export function kindLabel(kind: ObjectKindSet): string {
  const shapes = kind.shapes.length === 3 ? 'object' : kind.shapes.join('|');
  if (!kind.colors) return shapes;
  const colors = kind.colors.length === 1 ? kind.colors[0]! : `(${kind.colors.join('|')})`;
  return `${colors} ${shapes}`;
}

/** "red circle", or "red blob" for something of no known shape. */
export function objectLabel(o: { shape: string; color: string }): string {
  return `${o.color} ${o.shape === 'unknown' ? 'blob' : o.shape}`;
}

export function evaluateObjects(objects: readonly EvalObject[], spec: PromptSpec): Verdict {
  const reasons: string[] = [];
  const terms: { name: string; value: number }[] = [];
  const matchedGroups: (EvalObject[] | null)[] = [];
  const assigned = new Set<EvalObject>();
  const explained = new Set<EvalObject>(); // objects already named by a failed check
  spec.include.forEach((req) => {
    const label = kindLabel({ shapes: req.shapes });
    const ofShape = objects.filter((o) => matchesKind(o, { shapes: req.shapes }));
    const full = ofShape.filter((o) => matchesKind(o, req) && !assigned.has(o));
    let matched = true;
    terms.push({ name: `count ${label}`, value: Math.max(0, 1 - Math.abs(req.count - ofShape.length) / req.count) });
    if (ofShape.length < req.count) {
      matched = false;
      reasons.push(`expected ${label}>=${req.count}, found ${ofShape.length}`);
    } else if (req.colors) {
      terms.push({ name: `color ${kindLabel(req)}`, value: Math.min(full.length, req.count) / req.count });
      if (full.length < req.count) {
        matched = false;
        const found = [...new Set(ofShape.map((o) => o.color))].map((c) => `${ofShape.filter((o) => o.color === c).length} ${c}`);
        reasons.push(`expected ${kindLabel(req)}>=${req.count}, found ${full.length}; and ${found.join(', ')}`);
        ofShape.forEach((o) => explained.add(o));
      }
    }
    let group = full.slice(0, req.count);
    if (req.position && matched) {
      let targets = matchedGroups[req.position.target];
      if (!targets) {
        matched = false;
        reasons.push(`no target for ${label} to be ${req.position.relation}`);
        terms.push({ name: `position ${label}`, value: 0 });
      } else {
        const holds = (o: EvalObject, t: EvalObject) => relativePosition(o.box, t.box).has(req.position!.relation);
        // One object relative to one target (every GenEval position prompt): when more than one object could
        // play either part, any pair that stands in the relation satisfies the prompt, whatever the order found.
        if (group.length === 1 && targets.length === 1 && !holds(group[0]!, targets[0]!)) {
          const targetKind = spec.include[req.position.target]!;
          const previous = targets[0]!;
          const pair = full
            .flatMap((o) =>
              objects
                .filter((t) => t !== o && matchesKind(t, targetKind) && (t === previous || !assigned.has(t)))
                .map((t) => [o, t] as const),
            )
            .find(([o, t]) => holds(o, t));
          if (pair) {
            group = [pair[0]];
            targets = [pair[1]];
            assigned.delete(previous);
            assigned.add(pair[1]);
            matchedGroups[req.position.target] = targets;
          }
        }
        const wrong = group
          .flatMap((o) => targets!.map((t) => relativePosition(o.box, t.box)))
          .find((rels) => !rels.has(req.position!.relation));
        terms.push({ name: `position ${label}`, value: wrong ? 0 : 1 });
        if (wrong) {
          matched = false;
          const targetLabel = kindLabel({ shapes: spec.include[req.position.target]!.shapes });
          reasons.push(
            `expected ${label} ${req.position.relation} ${targetLabel}, ` +
              `found ${wrong.size ? [...wrong].join(' and ') : 'no clear relation'}`,
          );
        }
      }
    }
    if (!matched) ofShape.forEach((o) => explained.add(o));
    group.forEach((o) => assigned.add(o));
    matchedGroups.push(matched ? group : null);
  });
  for (const ex of spec.exclude) {
    const found = objects.filter((o) => matchesKind(o, ex));
    if (found.length >= ex.count) {
      reasons.push(`expected ${kindLabel(ex)}<${ex.count}, found ${found.length}`);
      found.forEach((o) => explained.add(o));
    }
  }
  // Required-object terms are averaged; unexpected objects scale the mean down (so an empty or noisy
  // image earns nothing, and an extra object costs in proportion to what was asked for).
  let reward = terms.reduce((sum, t) => sum + t.value, 0) / terms.length;
  if (!spec.allowOthers) {
    const extras = objects.filter((o) => !assigned.has(o) && !explained.has(o));
    const required = spec.include.reduce((sum, r) => sum + r.count, 0);
    const factor = Math.max(0, 1 - extras.length / required);
    terms.push({ name: 'no other objects (factor)', value: factor });
    reward *= factor;
    if (extras.length > 0) reasons.push(`unexpected ${extras.map(objectLabel).join(', ')}`);
  }
  return { correct: reasons.length === 0, reason: reasons.length ? reasons.join('; ') : 'ok', reward, terms };
}

/** ShapeEval on one image: detect the objects, then check the spec. */
export function score(image: ImageRGB, spec: PromptSpec): ScoreResult {
  const objects = detectObjects(image);
  return { ...evaluateObjects(objects, spec), objects };
}

/** The ground truth: the spec checked on the scene's true objects. */
export function groundTruth(scene: Scene, spec: PromptSpec): Verdict {
  return evaluateObjects(sceneObjectsForEval(scene), spec);
}
