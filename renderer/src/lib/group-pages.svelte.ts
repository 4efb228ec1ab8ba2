// A run's rollout groups for the virtualised list, newest step first, fetched a page at a time as
// rows come into view; step counts give each step's offset so "jump to step" scrolls straight there.
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
  private readonly inFlight = new Set<number>();
  private range: [number, number] = [0, 0];
  private generation = 0;

  constructor(private readonly api: RendererApi, readonly runId: number) {}

  /** (Re)loads the step counts and forgets cached pages; rows in view are fetched again. */
  async reload(): Promise<void> {
    const generation = ++this.generation;
    try {
      const steps = await this.api.call('groups.steps', { runId: this.runId, discarded: this.showDiscarded });
      if (generation !== this.generation) return;
      this.steps = [...steps].reverse();
      this.total = steps.reduce((sum, s) => sum + s.groups, 0);
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
    let offset = 0;
    for (const s of this.steps) {
      if (s.step <= step) return offset;
      offset += s.groups;
    }
    return Math.max(0, offset - 1);
  }

  /** Fetches the pages covering rows [start, end). */
  async ensure(start: number, end: number): Promise<void> {
    this.range = [start, end];
    const generation = this.generation;
    const wanted: number[] = [];
    for (let page = Math.floor(start / PAGE_SIZE); page * PAGE_SIZE < Math.min(end, this.total); page++) {
      if (!this.pages.has(page) && !this.inFlight.has(page)) wanted.push(page);
    }
    await Promise.all(wanted.map(async (page) => {
      this.inFlight.add(page);
      try {
        const result = await this.api.call('groups.list', { runId: this.runId, order: 'desc', discarded: this.showDiscarded, offset: page * PAGE_SIZE, limit: PAGE_SIZE });
        if (generation !== this.generation) return;
        this.pages = new Map(this.pages).set(page, result.items);
      } catch (err) {
        this.error = errorMessage(err);
      } finally {
        this.inFlight.delete(page);
      }
    }));
  }
}
