// One run's metrics for the dashboard: every name it logged and their series, kept live by the
// trainer's `metrics.appended` events (no polling). Dispose to stop listening.
import type { MetricSeries } from '../../../contract/domain.ts';
import { errorMessage, type RendererApi } from './api.ts';
import { appendPoint } from './chart-data.ts';

export class RunMetrics {
  names = $state.raw<string[]>([]);
  /** name -> series; replaced (not mutated) on every change so charts see it. */
  series = $state.raw<Record<string, MetricSeries>>({});
  loaded = $state(false);
  error = $state<string | null>(null);
  private readonly unsubscribe: () => void;

  constructor(
    private readonly api: RendererApi,
    readonly runId: number,
  ) {
    this.unsubscribe = api.on('metrics.appended', (event) => {
      if (event.runId === this.runId) this.append(event.step, event.values);
    });
  }

  async load(): Promise<void> {
    try {
      const names = await this.api.call('metrics.names', { runId: this.runId });
      const series = names.length ? await this.api.call('metrics.series', { runId: this.runId, names }) : [];
      this.names = names;
      this.series = Object.fromEntries(series.map((s) => [s.name, s]));
      this.error = null;
    } catch (err) {
      this.error = errorMessage(err);
    } finally {
      this.loaded = true;
    }
  }

  /** The latest value of a metric, or undefined. */
  latest(name: string): number | undefined {
    const s = this.series[name];
    return s ? s.values[s.values.length - 1] : undefined;
  }

  dispose(): void {
    this.unsubscribe();
  }

  private append(step: number, values: Record<string, number>): void {
    const next = { ...this.series };
    for (const [name, value] of Object.entries(values)) {
      next[name] = appendPoint(next[name] ?? { name, steps: [], values: [] }, step, value);
    }
    this.series = next;
    const added = Object.keys(values).filter((name) => !this.names.includes(name));
    if (added.length) this.names = [...this.names, ...added].sort();
  }
}
