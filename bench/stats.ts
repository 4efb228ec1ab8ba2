// Timing summaries shared by the benchmarks (bench/engine.ts, bench/gpu.ts, bench/db.ts).

export interface Stats {
  median: number;
  best: number;
  all: number[];
}

/** Median (upper median for an even count), best, and every value, rounded to 0.01. */
export function stats(all: number[]): Stats {
  const sorted = [...all].sort((a, b) => a - b);
  return { median: round(sorted[Math.floor(sorted.length / 2)]!), best: round(sorted[0]!), all: all.map(round) };
}

/** The values at quantiles `qs` (0.5 = median, 0.99 = p99; nearest rank), rounded to 0.01. */
export function percentiles(all: number[], qs: readonly number[]): number[] {
  const sorted = [...all].sort((a, b) => a - b);
  return qs.map((q) => round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!));
}

export function round(x: number): number {
  return Math.round(x * 100) / 100;
}
