// Timing summaries shared by the benchmarks (bench/engine.ts, bench/gpu.ts).

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

export function round(x: number): number {
  return Math.round(x * 100) / 100;
}
