// Human rankings -> rewards, preference pairs, and agreement between annotators (REFERENCE §4).
import type { RankEntry, Ranking } from '../../contract/domain.ts';

/**
 * Normalised-rank reward of each ranked sample: the best gets 1, the worst -1, evenly spaced between
 * (position p of k gives 1 - 2p/(k-1)); tied samples share the mean of the positions they cover.
 * Only the order of the rank numbers matters (1 = best, equal = tie). One sample alone gets 0.
 */
export function rankRewards(ranks: readonly RankEntry[]): Map<number, number> {
  checkRanks(ranks);
  const k = ranks.length;
  const sorted = [...ranks].sort((a, b) => a.rank - b.rank);
  const rewards = new Map<number, number>();
  for (let start = 0; start < k; ) {
    let end = start;
    while (end + 1 < k && sorted[end + 1]!.rank === sorted[start]!.rank) end++;
    // Mean of 1 - 2p/(k-1) over p in [start, end] is 1 - 2 * ((start + end) / 2) / (k - 1).
    const reward = k === 1 ? 0 : 1 - (start + end) / (k - 1);
    for (let i = start; i <= end; i++) rewards.set(sorted[i]!.sampleId, reward);
    start = end + 1;
  }
  return rewards;
}

/** Per-sample human rank reward of a group: the mean over the annotators who ranked it (skips ignored). */
export function humanRankRewards(rankings: readonly Ranking[]): Map<number, number> {
  const sums = new Map<number, { total: number; count: number }>();
  for (const ranking of rankings) {
    if (ranking.skipped) continue;
    for (const [sampleId, reward] of rankRewards(ranking.ranks)) {
      const s = sums.get(sampleId) ?? { total: 0, count: 0 };
      s.total += reward;
      s.count++;
      sums.set(sampleId, s);
    }
  }
  return new Map([...sums].map(([id, s]) => [id, s.total / s.count]));
}

export interface PreferencePair {
  /** The sample ranked better. */
  winner: number;
  loser: number;
}

/** Every strictly ordered pair of a ranking: C(k, 2) pairs minus the tied ones. */
export function pairsFromRanks(ranks: readonly RankEntry[]): PreferencePair[] {
  checkRanks(ranks);
  const pairs: PreferencePair[] = [];
  for (let i = 0; i < ranks.length; i++) {
    for (let j = i + 1; j < ranks.length; j++) {
      const a = ranks[i]!;
      const b = ranks[j]!;
      if (a.rank === b.rank) continue;
      pairs.push(a.rank < b.rank ? { winner: a.sampleId, loser: b.sampleId } : { winner: b.sampleId, loser: a.sampleId });
    }
  }
  return pairs;
}

export interface Agreement {
  /** Annotators with at least one ranking among those given. */
  annotators: number;
  /**
   * Over every two annotators and every sample pair both ordered strictly: the fraction they order the
   * same way. null when no such pair exists.
   */
  pairwise: number | null;
  /** Krippendorff's alpha (ordinal) with samples as units and ranks as values; null when undefined. */
  alpha: number | null;
}

/** Agreement between the annotators of the given rankings (of one group or several). */
export function rankingAgreement(rankings: readonly Ranking[]): Agreement {
  const byAnnotator = new Map<string, Map<number, number>>();
  for (const r of rankings) {
    if (r.skipped) continue;
    const ranks = byAnnotator.get(r.annotator) ?? new Map<number, number>();
    for (const e of r.ranks) ranks.set(e.sampleId, e.rank);
    byAnnotator.set(r.annotator, ranks);
  }
  const annotators = [...byAnnotator.values()];
  let agree = 0;
  let compared = 0;
  for (let a = 0; a < annotators.length; a++) {
    for (let b = a + 1; b < annotators.length; b++) {
      const shared = [...annotators[a]!.keys()].filter((id) => annotators[b]!.has(id));
      for (let i = 0; i < shared.length; i++) {
        for (let j = i + 1; j < shared.length; j++) {
          const da = Math.sign(annotators[a]!.get(shared[i]!)! - annotators[a]!.get(shared[j]!)!);
          const db = Math.sign(annotators[b]!.get(shared[i]!)! - annotators[b]!.get(shared[j]!)!);
          if (da === 0 || db === 0) continue;
          compared++;
          if (da === db) agree++;
        }
      }
    }
  }
  const units = [...new Set(annotators.flatMap((m) => [...m.keys()]))];
  const alpha = krippendorffAlpha(
    annotators.map((m) => units.map((id) => m.get(id) ?? null)),
    'ordinal',
  );
  return { annotators: annotators.length, pairwise: compared ? agree / compared : null, alpha };
}

export type AlphaMetric = 'nominal' | 'ordinal' | 'interval';

/**
 * Krippendorff's alpha = 1 - D_o / D_e from the coincidence matrix (Krippendorff 2011, "Computing
 * Krippendorff's alpha-reliability"). `data[coder][unit]` is a value or null (missing). Units with fewer
 * than two values are not pairable and are left out. null when fewer than two pairable values exist or
 * every value is the same (D_e = 0).
 */
export function krippendorffAlpha(data: readonly (readonly (number | null)[])[], metric: AlphaMetric = 'ordinal'): number | null {
  const unitCount = Math.max(0, ...data.map((row) => row.length));
  const values = [...new Set(data.flat().filter((v): v is number => v !== null))].sort((a, b) => a - b);
  const index = new Map(values.map((v, i) => [v, i]));
  const V = values.length;
  // o[c][k]: coincidences of values c and k within units, each unit weighted 1 / (m_u - 1).
  const o = Array.from({ length: V }, () => new Float64Array(V));
  for (let u = 0; u < unitCount; u++) {
    const inUnit = data.map((row) => row[u] ?? null).filter((v): v is number => v !== null);
    const m = inUnit.length;
    if (m < 2) continue;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        if (i !== j) o[index.get(inUnit[i]!)!]![index.get(inUnit[j]!)!]! += 1 / (m - 1);
      }
    }
  }
  const nc = o.map((row) => row.reduce((a, b) => a + b, 0));
  const n = nc.reduce((a, b) => a + b, 0);
  if (n < 2) return null;
  const delta2 = (c: number, k: number): number => {
    if (metric === 'nominal') return c === k ? 0 : 1;
    if (metric === 'interval') return (values[c]! - values[k]!) ** 2;
    // ordinal: (sum of n_g for g between c and k, minus half of n_c and n_k)^2
    const [lo, hi] = c < k ? [c, k] : [k, c];
    let s = 0;
    for (let g = lo; g <= hi; g++) s += nc[g]!;
    return (s - (nc[c]! + nc[k]!) / 2) ** 2;
  };
  let observed = 0;
  let expected = 0;
  for (let c = 0; c < V; c++) {
    for (let k = 0; k < V; k++) {
      const d = delta2(c, k);
      observed += o[c]![k]! * d;
      expected += nc[c]! * nc[k]! * d;
    }
  }
  if (expected === 0) return null;
  return 1 - ((n - 1) * observed) / expected;
}

function checkRanks(ranks: readonly RankEntry[]): void {
  const seen = new Set<number>();
  ranks.forEach((e, i) => {
    if (!Number.isFinite(e.rank)) throw new Error(`ranks[${i}].rank must be a finite number, got ${e.rank}`);
    if (seen.has(e.sampleId)) throw new Error(`ranks[${i}]: sample ${e.sampleId} is ranked twice`);
    seen.add(e.sampleId);
  });
}
