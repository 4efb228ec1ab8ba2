// The API's handlers behind the validated dispatch over an in-memory store and a temporary data dir,
// with whatever part of the compute worker a test needs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CallName, CallOutput, Settings } from '../../contract/api.ts';
import { openStore } from '../../db/index.ts';
import type { ComputeClient } from '../compute/client.ts';
import { DEFAULT_SETTINGS, type SettingsFile } from '../settings.ts';
import { createDispatch } from './dispatch.ts';
import { EventBus } from './events.ts';
import { createHandlers } from './handlers.ts';
import { RunController } from './runs.ts';

export function setupHandlers(compute: Partial<ComputeClient> = {}, settings: Settings = { ...DEFAULT_SETTINGS }) {
  const store = openStore(':memory:');
  const dataDir = mkdtempSync(join(tmpdir(), 'unirl-handlers-'));
  const events = new EventBus();
  const dispatch = createDispatch(
    createHandlers({
      store,
      events,
      compute: compute as ComputeClient,
      settings: { get: () => settings } as SettingsFile,
      runs: new RunController(store, events, compute as ComputeClient, dataDir),
      info: () => ({ version: 'test', mode: 'headless', dataDir, providers: ['cpu'], schemaVersion: 0 }),
    }),
  );
  const call = <K extends CallName>(name: K, input: unknown) => dispatch(name, input) as Promise<CallOutput<K>>;
  return {
    store,
    events,
    call,
    dispatch,
    dataDir,
    done: () => {
      store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A compute worker whose jobs never finish; `started` records each job's parameters. */
export function pendingCompute(): { compute: Partial<ComputeClient>; started: unknown[] } {
  const started: unknown[] = [];
  const compute = {
    start: (kind: string, params: unknown) => {
      started.push(params);
      return { id: `job-${started.length}`, kind, result: new Promise(() => {}), cancel() {} };
    },
    cancel: () => false,
  } as unknown as Partial<ComputeClient>;
  return { compute, started };
}
