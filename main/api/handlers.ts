// What each API call does. Inputs arrive validated (see dispatch.ts); handlers read and write the
// store, start jobs on the compute worker, and publish events.
import type { AppInfo } from '../../contract/api.ts';
import type { Page } from '../../contract/domain.ts';
import type { Store } from '../../db/index.ts';
import type { ComputeClient } from '../compute/client.ts';
import { JobFailed } from '../compute/client.ts';
import type { SettingsFile } from '../settings.ts';
import type { Handlers } from './dispatch.ts';
import type { EventBus } from './events.ts';
import { listSuites } from '../world/suites.ts';

export interface HandlerDeps {
  store: Store;
  events: EventBus;
  compute: ComputeClient;
  settings: SettingsFile;
  info(): AppInfo;
}

/** Pages over a run's groups and flattens what each group holds (reflection cycles, edits). */
function pageAcrossGroups<T>(store: Store, runId: number, offset: number, limit: number, perGroup: (groupId: number) => T[]): Page<T> {
  store.runs.get(runId);
  const all: T[] = [];
  for (let groupOffset = 0; ; groupOffset += 500) {
    const groups = store.groups.list({ runId, offset: groupOffset, limit: 500, order: 'desc' });
    for (const group of groups.items) all.push(...perGroup(group.id));
    if (groupOffset + 500 >= groups.total) break;
  }
  return { items: all.slice(offset, offset + limit), total: all.length, offset, limit };
}

export function createHandlers({ store, events, compute, settings, info }: HandlerDeps): Handlers {
  return {
    'app.info': () => info(),
    'settings.get': () => settings.get(),
    'settings.set': (patch) => {
      const next = settings.update(patch);
      events.publish('settings.changed', next);
      return next;
    },

    'runs.list': () => store.runs.list(),
    'runs.get': ({ runId }) => store.runs.get(runId),
    'runs.create': ({ name, scenario, config }) => {
      const run = store.runs.create({ name, scenario, config: (config ?? {}) as never });
      const event = store.log.append(run.id, 'info', `run "${name}" created (${scenario})`);
      events.publish('run.updated', run);
      events.publish('log.appended', event);
      return run;
    },

    'groups.list': (query) => store.groups.list(query),
    'groups.get': ({ groupId }) => store.groups.detail(groupId),

    'ranking.queue': (query) => store.rankings.queue(query),
    'ranking.submit': ({ groupId, annotator, ranks, skipped, durationMs }) => {
      const ranking = skipped
        ? store.rankings.submit({ groupId, annotator, skipped: true, durationMs })
        : store.rankings.submit({ groupId, annotator, ranks: ranks ?? [], durationMs });
      events.publish('ranking.saved', ranking);
      return ranking;
    },
    'ranking.undo': ({ annotator }) => ({ undone: store.rankings.undoLast(annotator) }),

    'reflections.list': ({ runId, offset = 0, limit = 50 }) =>
      pageAcrossGroups(store, runId, offset, limit, (groupId) => store.reflections.forGroup(groupId)),
    'edits.list': ({ runId, offset = 0, limit = 50 }) =>
      pageAcrossGroups(store, runId, offset, limit, (groupId) => store.edits.forGroup(groupId)),

    'metrics.series': (query) => store.metrics.series(query),
    'logs.tail': (query) => store.log.tail(query),

    'eval.suites': () => listSuites(),
    'eval.start': ({ suite, generator, limit }) => {
      const job = compute.start('eval', { suite, generator, limit });
      job.result.then(
        (result) => events.publish('job.finished', { jobId: job.id, kind: job.kind, ok: true, result }),
        (err: unknown) => events.publish('job.finished', {
          jobId: job.id,
          kind: job.kind,
          ok: false,
          error: err instanceof Error ? err.message : String(err),
          cancelled: err instanceof JobFailed && err.cancelled,
        }),
      );
      return { jobId: job.id, kind: job.kind };
    },
    'jobs.cancel': ({ jobId }) => ({ cancelled: compute.cancel(jobId) }),
  };
}
