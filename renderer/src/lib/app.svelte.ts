// The app's long-lived state, created once per window: the transport and the managers the pages share.
import { createApi, type RendererApi } from './api.ts';
import { ConnectionState } from './connection.svelte.ts';
import { EvalJobsState } from './eval-jobs.svelte.ts';
import { Router } from './router.svelte.ts';
import { RunDraftState } from './run-draft.svelte.ts';
import { RunsState } from './runs.svelte.ts';
import { SettingsState } from './settings.svelte.ts';

export class AppState {
  readonly api: RendererApi;
  readonly connection: ConnectionState;
  readonly router = new Router();
  readonly settings: SettingsState;
  readonly runs: RunsState;
  readonly evalJobs: EvalJobsState;
  /** A cloned run waiting for the new-run form. */
  readonly runDraft = new RunDraftState();

  constructor(api: RendererApi = createApi()) {
    this.api = api;
    this.connection = new ConnectionState(api);
    this.settings = new SettingsState(api);
    this.runs = new RunsState(api);
    this.evalJobs = new EvalJobsState(api);
  }

  /** The annotator name from Settings (the queue and the rankings belong to it). */
  get annotator(): string {
    return this.settings.settings?.annotator ?? '';
  }
}

export const app = new AppState();
