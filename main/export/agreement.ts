// Agreement between annotators who ranked the same group (REFERENCE §4): pairwise agreement on
// sample pairs and Krippendorff's alpha with the ordinal metric. Pure functions over rankings.
import type { Agreement } from '../../contract/api.ts';
import type { Ranking } from '../../contract/domain.ts';

export type { Agreement };

/** A unit of analysis (one sample) and the ordinal values (ranks) coders gave it. */
export type Units = number[][];

/**
 * Krippendorff's alpha with the ordinal difference metric.
 * Coincidences: o[c][k] = sum over units u with m_u >= 2 of (ordered pairs of values (c, k) in u) / (m_u - 1).
 * n_c = sum_k o[c][k], n = sum_c n_c. Ordinal metric on the sorted distinct values g:
 * delta2(c, k) = (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2.
 * alpha = 1 - (n - 1) * sum o[c][k] delta2(c,k) / sum n_c n_k delta2(c,k).
 */
export function krippendorffAlphaOrdinal(units: Units): number | null {
  const pairable = units.filter((values) => values.length >= 2);
  const values = [...new Set(pairable.flat())].sort((a, b) => a - b);
  if (values.length < 2) return null;
  const index = new Map(values.map((v, i) => [v, i]));
  const v = values.length;
  const o = Array.from({ length: v }, () => new Float64Array(v));
  for (const unit of pairable) {
    const weight = 1 / (unit.length - 1);
    for (let i = 0; i < unit.length; i++) {
      for (let j = 0; j < unit.length; j++) {
        if (i !== j) o[index.get(unit[i]!)!]![index.get(unit[j]!)!]! += weight;
      }
    }
  }
  const nc = o.map((row) => row.reduce((s, x) => s + x, 0));
  const n = nc.reduce((s, x) => s + x, 0);
  // prefix[g] = n_0 + ... + n_{g-1}, so sum_{g=c..k} n_g = prefix[k+1] - prefix[c].
  const prefix = [0];
  for (const count of nc) prefix.push(prefix[prefix.length - 1]! + count);
  let observed = 0;
  let expected = 0;
  for (let c = 0; c < v; c++) {
    for (let k = 0; k < v; k++) {
      if (c === k) continue;
      const [lo, hi] = c < k ? [c, k] : [k, c];
      const delta2 = (prefix[hi + 1]! - prefix[lo]! - (nc[c]! + nc[k]!) / 2) ** 2;
      observed += o[c]![k]! * delta2;
      expected += nc[c]! * nc[k]! * delta2;
    }
  }
  if (expected === 0) return null;
  return 1 - ((n - 1) * observed) / expected;
}

/** Pairwise agreement and the (sample -> ranks) units of a set of rankings of one group. */
function compareRankings(rankings: readonly Ranking[]): { agreeing: number; compared: number; units: Units } {
  const byAnnotator = rankings.map((r) => new Map(r.ranks.map((e) => [e.sampleId, e.rank])));
  let agreeing = 0;
  let compared = 0;
  for (let a = 0; a < byAnnotator.length; a++) {
    for (let b = a + 1; b < byAnnotator.length; b++) {
      const first = byAnnotator[a]!;
      const second = byAnnotator[b]!;
      const shared = [...first.keys()].filter((id) => second.has(id));
      for (let i = 0; i < shared.length; i++) {
        for (let j = i + 1; j < shared.length; j++) {
          const [x, y] = [shared[i]!, shared[j]!];
          compared++;
          if (Math.sign(first.get(x)! - first.get(y)!) === Math.sign(second.get(x)! - second.get(y)!)) agreeing++;
        }
      }
    }
  }
  const sampleIds = [...new Set(byAnnotator.flatMap((m) => [...m.keys()]))];
  const units = sampleIds.map((id) => byAnnotator.flatMap((m) => (m.has(id) ? [m.get(id)!] : [])));
  return { agreeing, compared, units };
}

/** Agreement on one group from all its rankings (skips are left out). */
export function groupAgreement(rankings: readonly Ranking[]): Agreement {
  return poolAgreement([rankings]);
}

/**
 * Agreement pooled over several groups (each entry: one group's rankings): pairwise over all compared
 * pairs, alpha over all samples as units (ranks of different groups share the 1..G scale).
 */
export function poolAgreement(groups: readonly (readonly Ranking[])[]): Agreement {
  let agreeing = 0;
  let compared = 0;
  const units: Units = [];
  const annotators = new Set<string>();
  let count = 0;
  for (const rankings of groups) {
    const ranked = rankings.filter((r) => !r.skipped);
    ranked.forEach((r) => annotators.add(r.annotator));
    count += ranked.length;
    const result = compareRankings(ranked);
    agreeing += result.agreeing;
    compared += result.compared;
    units.push(...result.units);
  }
  return {
    rankings: count,
    annotators: [...annotators].sort(),
    pairwise: compared === 0 ? null : agreeing / compared,
    alpha: krippendorffAlphaOrdinal(units),
  };
}
