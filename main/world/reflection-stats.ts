// The numbers a reflection evaluation reports, from each cycle's outcome: shared by ShapeEval's refine suite
// (world/benchmark.ts) and the trainer's held-out evaluation (rl/evaluator.ts), so both mean the same thing.

/** One critique -> refinement cycle, judged by the scorer. */
export interface CycleOutcome {
  /** The single-shot first image is right. */
  firstCorrect: boolean;
  /** The image the cycle ended on is right. */
  finalCorrect: boolean;
  /** Per critique: its verdict agrees with the scorer's on the image it judged. */
  agreements: readonly boolean[];
}

/** [numerator, denominator] pairs, so suites can pool them over tasks before dividing. */
export interface ReflectionCounts {
  first: [number, number];
  final: [number, number];
  /** Wrong first images that end right. */
  corrected: [number, number];
  /** Right first images that end wrong. */
  broken: [number, number];
  /** Critiques that agree with the scorer. */
  agreement: [number, number];
  /** Critiques per cycle. */
  rounds: [number, number];
}

export function reflectionCounts(cycles: readonly CycleOutcome[]): ReflectionCounts {
  const wrongFirst = cycles.filter((c) => !c.firstCorrect);
  const rightFirst = cycles.filter((c) => c.firstCorrect);
  const critiques = cycles.flatMap((c) => c.agreements);
  return {
    first: [rightFirst.length, cycles.length],
    final: [cycles.filter((c) => c.finalCorrect).length, cycles.length],
    corrected: [wrongFirst.filter((c) => c.finalCorrect).length, wrongFirst.length],
    broken: [rightFirst.filter((c) => !c.finalCorrect).length, rightFirst.length],
    agreement: [critiques.filter(Boolean).length, critiques.length],
    rounds: [critiques.length, cycles.length],
  };
}

/** Adds `b` into `a` (pooling over tasks). */
export function poolCounts(a: ReflectionCounts, b: ReflectionCounts): void {
  for (const key of Object.keys(a) as (keyof ReflectionCounts)[]) {
    a[key][0] += b[key][0];
    a[key][1] += b[key][1];
  }
}

/** n / d, or null when there is nothing to divide. */
export function ratio([n, d]: readonly [number, number]): number | null {
  return d === 0 ? null : n / d;
}
