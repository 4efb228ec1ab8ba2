// The list of runs, newest first, kept live by `run.updated`.
import type { Run, Scenario } from '../../../contract/domain.ts';
import { errorMessage, type RendererApi } from './api.ts';

export class RunsState {
  list = $state.raw<Run[]>([]);
  loaded = $state(false);
  error = $state<string | null>(null);

  constructor(private readonly api: RendererApi) {
    api.on('run.updated', (run) => this.upsert(run));
    api.on('run.deleted', ({ runId }) => {
      this.list = this.list.filter((run) => run.id !== runId);
    });
  }

  async load(): Promise<void> {
    try {
      const runs = await this.api.call('runs.list', {});
      this.list = [...runs].sort((a, b) => b.id - a.id);
      this.error = null;
    } catch (err) {
      this.error = errorMessage(err);
    } finally {
      this.loaded = true;
    }
  }

  async create(name: string, scenario: Scenario, model: 'base' | 'nano' = 'base', config?: Record<string, unknown>): Promise<Run> {
    const run = await this.api.call('runs.create', { name, scenario, model, ...(config ? { config } : {}) });
    this.upsert(run);
    return run;
  }

  find(runId: number | null): Run | undefined {
    return runId === null ? undefined : this.list.find((run) => run.id === runId);
  }

  private upsert(run: Run): void {
    const index = this.list.findIndex((r) => r.id === run.id);
    this.list = index >= 0 ? this.list.with(index, run) : [run, ...this.list];
  }
}
