// A ranking being built one pick at a time, the way the keyboard builds it: each pick is the next
// best sample, or (after "tie") equal to the previous pick. Immutable: every change returns a new
// draft, so undo is just going back and Svelte sees each change.
import type { RankEntry } from '../../../contract/domain.ts';

export interface Pick {
  sampleId: number;
  tiedWithPrevious: boolean;
}

/**
 * What the run asks of people (config human.answer): every sample in order; the best `k` in order with the
 * rest tied after them; or the best and then the worst, the rest tied between.
 */
export type RankAnswer = { kind: 'full' } | { kind: 'topK'; k: number } | { kind: 'bestWorst' };

export class RankDraft {
  constructor(
    /** The group's member samples, in any order. */
    readonly sampleIds: readonly number[],
    readonly picks: readonly Pick[] = [],
    /** Set by tie(): the next pick shares the previous pick's rank. */
    readonly tieArmed = false,
    readonly answer: RankAnswer = { kind: 'full' },
  ) {
    if (new Set(sampleIds).size !== sampleIds.length) throw new Error(`RankDraft: duplicate sample ids in ${sampleIds.join(',')}`);
  }

  private with(picks: readonly Pick[], tieArmed = false): RankDraft {
    return new RankDraft(this.sampleIds, picks, tieArmed, this.answer);
  }

  /** Picks that make the answer complete: all but one, the top k, or best and worst. */
  get picksNeeded(): number {
    const allButOne = Math.max(0, this.sampleIds.length - 1);
    if (this.answer.kind === 'topK') return Math.min(this.answer.k, allButOne);
    if (this.answer.kind === 'bestWorst') return Math.min(2, allButOne);
    return allButOne;
  }

  /** The next best sample; unchanged when it is not a member or already picked. */
  pick(sampleId: number): RankDraft {
    if (!this.sampleIds.includes(sampleId) || this.isPicked(sampleId)) return this;
    // Best and worst: the second pick is the worst, never tied with the best.
    const tied = this.tieArmed && this.picks.length > 0 && this.answer.kind !== 'bestWorst';
    return this.with([...this.picks, { sampleId, tiedWithPrevious: tied }]);
  }

  /**
   * Drag: puts the sample at `position` in the order (0 = best), not tied; moves it when already
   * picked. Positions past the end append.
   */
  placeAt(sampleId: number, position: number): RankDraft {
    if (!this.sampleIds.includes(sampleId)) return this;
    const picks = withoutPick(this.picks, sampleId);
    const at = Math.max(0, Math.min(position, picks.length));
    picks.splice(at, 0, { sampleId, tiedWithPrevious: false });
    // What followed at `at` keeps its own rank: a tie with the pick before it now ties across the new one, so break it.
    if (picks[at + 1]?.tiedWithPrevious) picks[at + 1] = { ...picks[at + 1]!, tiedWithPrevious: false };
    return this.with(picks);
  }

  /** Drag onto a ranked sample: the dragged one shares its rank (placed right after it). */
  tieWith(sampleId: number, targetId: number): RankDraft {
    if (sampleId === targetId || !this.sampleIds.includes(sampleId) || !this.isPicked(targetId)) return this;
    const picks = withoutPick(this.picks, sampleId);
    const at = picks.findIndex((p) => p.sampleId === targetId) + 1;
    picks.splice(at, 0, { sampleId, tiedWithPrevious: true });
    return this.with(picks);
  }

  /** Takes a sample out of the order (drag back to the pool). */
  unpick(sampleId: number): RankDraft {
    if (!this.isPicked(sampleId)) return this;
    return this.with(withoutPick(this.picks, sampleId));
  }

  /** The next pick ties with the previous one (pressing it again disarms it). */
  tie(): RankDraft {
    if (this.picks.length === 0) return this;
    return this.with(this.picks, !this.tieArmed);
  }

  /** Takes back the armed tie, else the last pick. */
  undo(): RankDraft {
    if (this.tieArmed) return this.with(this.picks);
    return this.with(this.picks.slice(0, -1));
  }

  get canUndo(): boolean {
    return this.picks.length > 0;
  }

  isPicked(sampleId: number): boolean {
    return this.picks.some((p) => p.sampleId === sampleId);
  }

  /** Ready to submit: the answer's picks are made (full: every sample, or all but one, which is then last). */
  get complete(): boolean {
    return this.sampleIds.length > 0 && this.picks.length >= this.picksNeeded;
  }

  /** Competition ranks (1 = best; ties share the rank of their first member: 1, 1, 3). */
  rankOf(sampleId: number): number | undefined {
    return this.ranks().find((entry) => entry.sampleId === sampleId)?.rank;
  }

  ranks(): RankEntry[] {
    if (this.answer.kind === 'bestWorst' && this.picks.length === 2 && this.sampleIds.length > 2) {
      // The worst ranks last, below the tied middle.
      return [
        { sampleId: this.picks[0]!.sampleId, rank: 1 },
        { sampleId: this.picks[1]!.sampleId, rank: 3 },
      ];
    }
    const entries: RankEntry[] = [];
    this.picks.forEach((pick, position) => {
      const previous = entries[entries.length - 1];
      entries.push({ sampleId: pick.sampleId, rank: pick.tiedWithPrevious && previous ? previous.rank : position + 1 });
    });
    return entries;
  }

  /** The full ranking to submit: the unpicked samples tie after the picks (best and worst: between them). */
  finalRanks(): RankEntry[] {
    if (!this.complete) {
      throw new Error(`RankDraft: ${this.picksNeeded - this.picks.length} more picks needed`);
    }
    const entries = this.ranks();
    const rest = this.answer.kind === 'bestWorst' && this.picks.length === 2 ? 2 : this.picks.length + 1;
    for (const id of this.sampleIds) if (!this.isPicked(id)) entries.push({ sampleId: id, rank: rest });
    return entries;
  }
}

/** The picks without `sampleId`; a pick that was tied with it (as the head of its tie) gets a rank of its own. */
function withoutPick(picks: readonly Pick[], sampleId: number): Pick[] {
  const at = picks.findIndex((p) => p.sampleId === sampleId);
  if (at < 0) return [...picks];
  const out = [...picks];
  const [removed] = out.splice(at, 1);
  if (!removed!.tiedWithPrevious && out[at]?.tiedWithPrevious) out[at] = { ...out[at], tiedWithPrevious: false };
  return out;
}

/** A deterministic shuffle (mulberry32 on the seed): the display order against position bias. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A small stable hash of a string (FNV-1a), to vary the display order per annotator. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
