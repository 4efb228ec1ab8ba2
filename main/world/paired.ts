// Paired comparison of two evaluations of the same prompts and seeds: each one's accuracy, their
// difference, and the difference's standard error clustered by item (the images of one prompt share it,
// so they are not independent). bench/paired.ts and the Evaluation screen both use it.

/** One image scored by both evaluations: 1 when right, 0 when wrong (or a fractional reward). */
export interface PairedOutcome {
  /** What the images of one cluster share (the prompt). */
  item: string;
  before: number;
  after: number;
}

export interface PairedComparison {
  samples: number;
  items: number;
  before: number;
  after: number;
  /** after - before, averaged over the samples. */
  difference: number;
  /** Cluster-robust standard error of the difference: sqrt(Σ_items (Σ_i d_i − n_item·mean)²) / n. */
  standardError: number;
}

export function pairedComparison(pairs: readonly PairedOutcome[]): PairedComparison {
  if (pairs.length === 0) throw new Error('paired comparison: no images scored by both evaluations');
  const perItem = new Map<string, number[]>();
  for (const p of pairs) perItem.set(p.item, [...(perItem.get(p.item) ?? []), p.after - p.before]);
  const n = pairs.length;
  const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);
  const difference = sum(pairs.map((p) => p.after - p.before)) / n;
  const standardError = Math.sqrt(sum([...perItem.values()].map((d) => (sum(d) - d.length * difference) ** 2))) / n;
  return {
    samples: n,
    items: perItem.size,
    before: sum(pairs.map((p) => p.before)) / n,
    after: sum(pairs.map((p) => p.after)) / n,
    difference,
    standardError,
  };
}
