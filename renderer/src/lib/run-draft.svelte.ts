// A run to start the new-run form from: Clone on the Runs screen puts a run's name, scenario, model
// and whole config here, and the form takes it (once) to fill its fields.
import type { Run, RunConfig, Scenario } from '../../../contract/domain.ts';

export interface RunDraft {
  /** The run it was cloned from. */
  from: number;
  name: string;
  scenario: Scenario;
  model: 'base' | 'nano';
  /** The cloned run's resolved config: sent as the new run's overrides. */
  config: RunConfig;
}

export class RunDraftState {
  draft = $state.raw<RunDraft | null>(null);

  clone(run: Run): void {
    const preset = (run.config as { model?: { preset?: unknown } }).model?.preset;
    this.draft = {
      from: run.id,
      name: `${run.name} (copy)`,
      scenario: run.scenario,
      model: preset === 'nano' ? 'nano' : 'base',
      config: run.config,
    };
  }

  /** The draft, once: the form that takes it owns it. */
  take(): RunDraft | null {
    const draft = this.draft;
    this.draft = null;
    return draft;
  }
}
