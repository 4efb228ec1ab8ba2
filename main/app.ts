// The app core that both faces share (Electron window, headless server): the store, the event
// bus, the compute worker, settings, and the validated dispatch of API calls.
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { EXECUTION_PROVIDERS, type ExecutionProvider, type MediaRef } from '../contract/api.ts';
import { openStore, resolveDataDir, schemaVersion, StoreError, type Store } from '../db/index.ts';
import { createDispatch, type Dispatch } from './api/dispatch.ts';
import { EventBus } from './api/events.ts';
import { createHandlers } from './api/handlers.ts';
import { RunController } from './api/runs.ts';
import { ComputeClient } from './compute/client.ts';
import { appPath } from './paths.ts';
import { interruptAbandonedRuns } from './rl/owner.ts';
import { SettingsFile } from './settings.ts';

export interface AppCore {
  dataDir: string;
  store: Store;
  events: EventBus;
  compute: ComputeClient;
  dispatch: Dispatch;
  media(ref: MediaRef): Buffer | null;
  close(): Promise<void>;
}

export interface OpenAppOptions {
  mode: 'electron' | 'headless';
  /** --data-dir; falls back to UNIRL_DATA_DIR, Electron's userData, then the per-user default. */
  dataDir?: string;
  electronUserData?: string;
}

const APP_VERSION: string = JSON.parse(readFileSync(appPath('package.json'), 'utf8')).version;

/** Providers this onnxruntime-node build can load here (CUDA only when its binaries were installed). */
function availableProviders(): ExecutionProvider[] {
  const names = new Set(
    ort
      .listSupportedBackends()
      .filter((b) => b.bundled || b.name === 'cpu')
      .map((b) => b.name),
  );
  return EXECUTION_PROVIDERS.filter((p) => names.has(p));
}

export async function openApp(options: OpenAppOptions): Promise<AppCore> {
  const dataDir = resolveDataDir({ cliDir: options.dataDir, electronUserData: options.electronUserData });
  const store = openStore(dataDir.dbPath);
  const events = new EventBus();
  const settings = new SettingsFile(dataDir.dir, (message) => store.log.append(null, 'warn', message));
  const compute = new ComputeClient({
    onProgress: (jobId, kind, progress) => events.publish('job.progress', { jobId, kind, ...progress }),
    onEvent: (name, payload) => events.publish(name, payload as never),
  });
  // Runs left 'running' by a process that died are marked interrupted, so the UI can offer to resume them;
  // a run a live trainer (the CLI) holds stays running.
  for (const runId of interruptAbandonedRuns(store, dataDir.dir)) events.publish('run.updated', store.runs.get(runId));

  const handlers = createHandlers({
    store,
    events,
    compute,
    settings,
    runs: new RunController(store, events, compute, dataDir.dir),
    info: () => ({
      version: APP_VERSION,
      mode: options.mode,
      dataDir: dataDir.dir,
      providers: availableProviders(),
      schemaVersion: schemaVersion(store.db),
    }),
  });

  return {
    dataDir: dataDir.dir,
    store,
    events,
    compute,
    dispatch: createDispatch(handlers),
    media(ref) {
      try {
        switch (ref.kind) {
          case 'sample':
            return store.samples.imagePng(ref.id);
          case 'edit-source':
            return store.edits.sourcePng(ref.id);
          case 'eval-result':
            return store.evaluations.resultPng(ref.id);
        }
      } catch (err) {
        // A missing row is a 404 like a row without an image, not a server error.
        if (err instanceof StoreError && err.code === 'not_found') return null;
        throw err;
      }
    },
    async close() {
      await compute.close();
      store.close();
    },
  };
}
