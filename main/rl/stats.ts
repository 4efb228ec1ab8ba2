// The mean and the population standard deviation (ddof 0, as numpy's default in Flow-GRPO's code), in one place.

export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const m = mean(values);
  return { mean: m, std: Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / values.length) };
}
