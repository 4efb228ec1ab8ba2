// The ranking screen's state: the annotator's queue, the open group in a randomised display order,
// the draft ranking, and the keyboard that drives it (REFERENCE §4).
import type { GroupDetail, Ranking, RolloutGroup, Sample } from '../../../contract/domain.ts';
import { errorMessage, type RendererApi } from './api.ts';
import { RankDraft, hashString, shuffled, type RankAnswer } from './rank-draft.ts';

const QUEUE_LIMIT = 50;

export class RankingSession {
  queue = $state.raw<RolloutGroup[]>([]);
  loaded = $state(false);
  group = $state.raw<GroupDetail | null>(null);
  /** Member samples in the order shown; key 1 is display[0]. */
  display = $state.raw<Sample[]>([]);
  draft = $state.raw(new RankDraft([]));
  /** Drafts before each change to the open group's ranking, for undo (keys and drags alike). */
  private past = $state.raw<RankDraft[]>([]);
  /** Rankings (not skips) saved in this session. */
  submittedCount = $state(0);
  /** What this session saved, newest last: the only decisions `undo` takes back (never one from an earlier visit). */
  private saved = $state.raw<Ranking[]>([]);
  /** Says what an undo did or why it did nothing. */
  notice = $state<string | null>(null);
  /** Groups still waiting for this annotator (all of the queue, not just the loaded page). */
  waiting = $state(0);
  busy = $state(false);
  error = $state<string | null>(null);
  private openedAt = 0;
  /** The save in flight, if any. */
  private saving: Promise<void> = Promise.resolve();
  /** What each run asks of people (its config's human.answer), by run id. */
  private readonly answers = new Map<number, RankAnswer>();

  constructor(
    private readonly api: RendererApi,
    private readonly annotator: () => string,
  ) {}

  async loadQueue(runId?: number): Promise<void> {
    try {
      const annotator = this.annotator();
      const filter = runId === undefined ? { annotator } : { annotator, runId };
      const [queue, { waiting }] = await Promise.all([
        this.api.call('ranking.queue', { ...filter, limit: QUEUE_LIMIT }),
        this.api.call('ranking.waiting', filter),
      ]);
      this.queue = queue;
      this.waiting = waiting;
      this.error = null;
      // The open group stays open while it is still queued: a reload (new groups arrive during a step) must not
      // swap the group a person is ranking, and its draft, for one the queue policy now puts first.
      const first = this.queue[0];
      const openStillQueued = this.group !== null && this.queue.some((g) => g.id === this.group!.id);
      if (first && !openStillQueued) await this.open(first.id);
      if (!first) this.close();
    } catch (err) {
      this.error = errorMessage(err);
    } finally {
      this.loaded = true;
    }
  }

  async open(groupId: number): Promise<void> {
    const group = await this.api.call('groups.get', { groupId });
    const members = group.samples.filter((s) => s.role === 'member');
    const answer = await this.answerOf(group.runId);
    // New groups arrive in bursts, and each may start a queue reload; a reload that opened this group while we
    // waited has a draft the annotator may already be filling: keep it.
    if (this.group?.id === groupId) return;
    this.group = group;
    this.display = shuffled(members, hashString(this.annotator()) ^ group.id);
    this.draft = new RankDraft(
      members.map((s) => s.id),
      [],
      false,
      answer,
    );
    this.past = [];
    this.openedAt = performance.now();
  }

  private async answerOf(runId: number): Promise<RankAnswer> {
    let answer = this.answers.get(runId);
    if (!answer) {
      const human = ((await this.api.call('runs.get', { runId })).config as { human?: { answer?: string; topK?: number } }).human;
      answer =
        human?.answer === 'bestWorst'
          ? { kind: 'bestWorst' }
          : human?.answer === 'topK'
            ? { kind: 'topK', k: human.topK ?? 3 }
            : { kind: 'full' };
      this.answers.set(runId, answer);
    }
    return answer;
  }

  /** "Group 3 of 12": the open group's place among those ranked this session and those waiting. */
  get progress(): { position: number; total: number } {
    return { position: this.submittedCount + 1, total: this.submittedCount + Math.max(this.waiting, this.queue.length) };
  }

  get canUndoDraft(): boolean {
    return this.past.length > 0;
  }

  pickPosition(position: number): void {
    const sample = this.display[position];
    if (sample) this.pick(sample.id);
  }

  pick(sampleId: number): void {
    this.change(this.draft.pick(sampleId));
  }

  tie(): void {
    this.change(this.draft.tie());
  }

  /** Drag into the order at `position` (0 = best). */
  placeAt(sampleId: number, position: number): void {
    this.change(this.draft.placeAt(sampleId, position));
  }

  /** Drag onto a ranked sample: share its rank. */
  tieWith(sampleId: number, targetId: number): void {
    this.change(this.draft.tieWith(sampleId, targetId));
  }

  /** Drag back to the pool. */
  unpick(sampleId: number): void {
    this.change(this.draft.unpick(sampleId));
  }

  private change(next: RankDraft): void {
    if (next === this.draft) return;
    this.past = [...this.past, this.draft];
    this.draft = next;
  }

  async submit(): Promise<void> {
    if (!this.group || !this.draft.complete) return;
    await this.save({ ranks: this.draft.finalRanks() });
  }

  /**
   * No sample is better than another ("all equally bad" or good): every rank 1, so the group's human rewards are equal and
   * change no advantage.
   */
  async allTied(): Promise<void> {
    if (this.group) await this.save({ ranks: this.display.map((s) => ({ sampleId: s.id, rank: 1 })) });
  }

  /** The group of the last ranking (not skip) saved in this session, to show what it did. */
  get lastRankedGroupId(): number | null {
    return [...this.saved].reverse().find((r) => !r.skipped)?.groupId ?? null;
  }

  async skip(): Promise<void> {
    if (this.group) await this.save({ skipped: true });
  }

  /**
   * Undo within the open group first; with nothing to undo there, take back the last ranking or skip saved
   * in this session and reopen its group. Rankings saved before this page opened are never touched.
   */
  async undo(): Promise<void> {
    const previous = this.past[this.past.length - 1];
    if (previous) {
      this.draft = previous;
      this.past = this.past.slice(0, -1);
      return;
    }
    const last = this.saved[this.saved.length - 1];
    if (!last) {
      this.notice = 'Nothing to undo: you have not ranked or skipped a group on this page (earlier rankings stay as saved).';
      return;
    }
    await this.guard(async () => {
      await this.api.call('ranking.undo', { annotator: this.annotator(), rankingId: last.id });
      this.saved = this.saved.slice(0, -1);
      if (!last.skipped) this.submittedCount = Math.max(0, this.submittedCount - 1);
      await this.loadQueue();
      await this.open(last.groupId);
      this.notice = `Took back your ${last.skipped ? 'skip' : 'ranking'} of this group.`;
    });
  }

  /**
   * Keyboard: 1-9 pick by display position, t tie, a all tied, s skip, u or Ctrl+Z undo, Enter submit. Returns whether it
   * handled the key.
   */
  handleKey(event: KeyboardEvent): boolean {
    if (event.altKey || event.metaKey) return false;
    if ((event.ctrlKey && event.key.toLowerCase() === 'z') || (!event.ctrlKey && event.key === 'u')) {
      void this.undo();
      return true;
    }
    if (event.ctrlKey) return false;
    if (/^[1-9]$/.test(event.key)) {
      this.pickPosition(Number(event.key) - 1);
      return true;
    }
    switch (event.key) {
      case 't':
        this.tie();
        return true;
      case 's':
        void this.skip();
        return true;
      case 'a':
        void this.allTied();
        return true;
      case 'Enter':
        void this.submit();
        return true;
      default:
        return false;
    }
  }

  private async save(decision: { ranks: { sampleId: number; rank: number }[] } | { skipped: true }): Promise<void> {
    const group = this.group;
    if (!group) return;
    if (this.busy) {
      // A decision made while the last one is saving (the next group can show before that save ends, when a queue
      // reload opened it) waits for it instead of being dropped; one made twice on the same group saves once.
      await this.saving;
      if (this.busy || this.group?.id !== group.id) return;
    }
    this.saving = this.guard(async () => {
      const durationMs = Math.round(performance.now() - this.openedAt);
      const ranking = await this.api.call('ranking.submit', { groupId: group.id, annotator: this.annotator(), durationMs, ...decision });
      this.saved = [...this.saved, ranking];
      this.notice = null;
      this.queue = this.queue.filter((g) => g.id !== group.id);
      this.waiting = Math.max(0, this.waiting - 1);
      const next = this.queue[0];
      if (next) await this.open(next.id);
      else await this.loadQueue();
      // Counted once the next group is on screen, so the count and the group change together; a skip is no ranking.
      if (!ranking.skipped) this.submittedCount++;
    });
    await this.saving;
  }

  private async guard(action: () => Promise<void>): Promise<void> {
    this.busy = true;
    try {
      await action();
      this.error = null;
    } catch (err) {
      this.error = errorMessage(err);
    } finally {
      this.busy = false;
    }
  }

  private close(): void {
    this.group = null;
    this.display = [];
    this.draft = new RankDraft([]);
  }
}
