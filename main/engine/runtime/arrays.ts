// Small helpers for building feeds out of several Float32Arrays.

/** The arrays one after another in a new Float32Array (e.g. a batch from per-example rows). */
export function concatFloat32(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export interface DiffStats {
  /** max |actual − expected| over the elements. */
  maxAbs: number;
  /** max |expected|: the tensor's scale. */
  scale: number;
  /** maxAbs / scale (0 when both are 0, Infinity when only the scale is). NaN anywhere gives NaN. */
  relative: number;
}

/** How far `actual` is from `expected` (same length): the largest error, absolute and relative to the largest reference value. */
export function diffStats(actual: ArrayLike<number>, expected: ArrayLike<number>): DiffStats {
  if (actual.length !== expected.length) throw new Error(`diffStats: lengths differ (${actual.length} vs ${expected.length})`);
  let maxAbs = 0;
  let scale = 0;
  let nan = false;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (Number.isNaN(d)) nan = true;
    else if (d > maxAbs) maxAbs = d;
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  if (nan) maxAbs = NaN;
  const relative = maxAbs === 0 ? 0 : maxAbs / scale;
  return { maxAbs, scale, relative };
}
