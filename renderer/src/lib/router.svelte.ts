// Hash routing: `#/runs`, `#/rollouts/3`. The first segment names the page, the rest are its ids.
export const PAGES = [
  { id: 'runs', label: 'Runs' },
  { id: 'dashboard', label: 'Dashboard' },
  { id: 'rollouts', label: 'Rollouts' },
  { id: 'ranking', label: 'Ranking' },
  { id: 'reflections', label: 'Reflections' },
  { id: 'edits', label: 'Edits' },
  { id: 'evaluation', label: 'Evaluation' },
  { id: 'settings', label: 'Settings' },
] as const;
export type PageId = (typeof PAGES)[number]['id'];

function isPageId(value: string): value is PageId {
  return PAGES.some((page) => page.id === value);
}

function segmentsOf(hash: string): string[] {
  return hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
}

export class Router {
  segments = $state<string[]>(segmentsOf(location.hash));
  page: PageId = $derived(isPageId(this.segments[0] ?? '') ? (this.segments[0] as PageId) : 'runs');
  /** The first id after the page name, e.g. the run of `#/rollouts/3`; null when absent or not a number. */
  id: number | null = $derived(toId(this.segments[1]));

  constructor() {
    window.addEventListener('hashchange', () => {
      this.segments = segmentsOf(location.hash);
    });
  }

  href(page: PageId, ...ids: (number | string)[]): string {
    return `#/${[page, ...ids].map((s) => encodeURIComponent(String(s))).join('/')}`;
  }

  go(page: PageId, ...ids: (number | string)[]): void {
    location.hash = this.href(page, ...ids);
  }
}

function toId(segment: string | undefined): number | null {
  if (segment === undefined || !/^\d+$/.test(segment)) return null;
  return Number(segment);
}
