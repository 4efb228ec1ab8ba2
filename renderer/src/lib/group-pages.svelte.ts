// A run's rollout groups for the virtualised list, newest step first, fetched a page at a time as
// rows come into view; step counts give each step's offset so "jump to step" scrolls straight there, and
// turn a row index into (step, place in it): pages are read by keyset from that step (groups.page), so
// a page deep in a long run costs what the first one does.
import type { RolloutGroup } from '../../../contract/domain.ts';
import { errorMessage, type RendererApi } from './api.ts';

const PAGE_SIZE = 100;

export class GroupPages {
  total = $state(0);
  /** Steps, newest first, with how many groups each has (and how many of them are discarded). */
  steps = $state.raw<{ step: number; groups: number; discarded: number }[]>([]);
  /** List the groups of steps a resume discarded too (greyed), for audit. */
  showDiscarded = $state(false);
  loaded = $state(false);
  error = $state<string | null>(null);
  private pages = $state.raw<Map<number, RolloutGroup[]>>(new Map());
  /** Row index of each step's first group, in `steps` order. */
  private starts: number[] = [];
  private readonly inFlight = new Set<number>();
  private range: [number, number] = [0, 0];
  private generation = 0;

  constructor(
    private readonly api: RendererApi,
    readonly runId: number,
  ) {}

  /** (Re)loads the step counts and forgets cached pages; rows in view are fetched again. */
  async reload(): Promise<void> {
    const generation = ++this.generation;
    try {
      const steps = await this.api.call('groups.steps', { runId: this.runId, discarded: this.showDiscarded });
      if (generation !== this.generation) return;
      this.steps = [...steps].reverse();
      let total = 0;
      this.starts = this.steps.map((s) => (total += s.groups) - s.groups);
      this.total = total;
      this.pages = new Map();
      this.inFlight.clear();
      this.error = null;
      await this.ensure(...this.range);
    } catch (err) {
      this.error = errorMessage(err);
    } finally {
      this.loaded = true;
    }
  }

  at(index: number): RolloutGroup | undefined {
    return this.pages.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE];
  }

  /** Row index of the first group of `step` (or of the nearest older step), for jumping. */
  offsetOfStep(step: number): number {
    const i = this.steps.findIndex((s) => s.step <= step);
    return i < 0 ? Math.max(0, this.total - 1) : this.starts[i]!;
  }

  /** The step row `index` is in and how many rows of that step come before it. */
  private locate(index: number): { step: number; within: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return { step: this.steps[lo]!.step, within: index - this.starts[lo]! };
  }

  /** Fetches the pages covering rows [start, end). */
  async ensure(start: number, end: number): Promise<void> {
    this.range = [start, end];
    const generation = this.generation;
    const wanted: number[] = [];
    for (let page = Math.floor(start / PAGE_SIZE); page * PAGE_SIZE < Math.min(end, this.total); page++) {
      if (!this.pages.has(page) && !this.inFlight.has(page)) wanted.push(page);
    }
    await Promise.all(
      wanted.map(async (page) => {
        this.inFlight.add(page);
        try {
          const { step, within } = this.locate(page * PAGE_SIZE);
          const result = await this.api.call('groups.page', {
            runId: this.runId,
            order: 'desc',
            discarded: this.showDiscarded,
            fromStep: step,
            offset: within,
            limit: PAGE_SIZE,
          });
          if (generation !== this.generation) return;
          this.pages = new Map(this.pages).set(page, result.items);
        } catch (err) {
          this.error = errorMessage(err);
        } finally {
          this.inFlight.delete(page);
        }
      }),
    );
  }
}
