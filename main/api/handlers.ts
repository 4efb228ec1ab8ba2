// What each API call does. Inputs arrive validated (see dispatch.ts); handlers read and write the
// store, start jobs on the compute worker, and publish events.
import { join } from 'node:path';
import type { AgreementReport, AppInfo, EditGroupView, GroupAgreement, TensorView, TrajectoryView } from '../../contract/api.ts';
import { exportDownloadPath } from '../../contract/media.ts';
import type { Ranking, RolloutGroup, Tensor, Trajectory } from '../../contract/domain.ts';
import type { Store } from '../../db/index.ts';
import { invalid } from '../../db/errors.ts';
import type { ComputeClient } from '../compute/client.ts';
import { JobFailed } from '../compute/client.ts';
import type { SettingsFile } from '../settings.ts';
import { dataDirUsage, pruneRun } from './disk.ts';
import type { Handlers } from './dispatch.ts';
import type { EventBus } from './events.ts';
import type { RunController } from './runs.ts';
import { listSuites } from '../world/suites.ts';
import { listGenerators } from '../world/generators.ts';
import { groupAgreement, poolAgreement } from '../export/agreement.ts';
import { exportRun } from '../export/export.ts';
import { recordEvalReport } from './eval-records.ts';
import { SHIPPED_BASE_ID, listCheckpoints, resolveCheckpoint, runOfCheckpoint } from './files.ts';
import { reflectionPage } from './reflections.ts';
import { RunTokenizers } from './trajectory-tokens.ts';

export interface HandlerDeps {
  store: Store;
  events: EventBus;
  compute: ComputeClient;
  settings: SettingsFile;
  runs: RunController;
  info(): AppInfo;
}

/** Refuses a name that is not on the list, naming the list (before any row is written). */
function requireKnown(field: string, name: string, known: string[]): void {
  if (!known.includes(name)) throw invalid(field, `unknown ${field} "${name}"; one of ${known.join(', ')}`);
}

/** Every group of a run, newest step first, a page at a time. */
function* runGroups(store: Store, runId: number) {
  store.runs.get(runId);
  for (let offset = 0; ; offset += 500) {
    const page = store.groups.list({ runId, offset, limit: 500, order: 'desc' });
    yield* page.items;
    if (offset + 500 >= page.total) return;
  }
}

/** A group of an edit run with its members' edits, their rewards and advantages. */
function editGroupView(store: Store, group: RolloutGroup): EditGroupView {
  const members = new Map(store.samples.members(group.id).map((s) => [s.id, s]));
  const edits = store.edits.forGroup(group.id).map((edit) => {
    const member = members.get(edit.editedSampleId)!;
    return { ...edit, reward: member.reward, advantage: member.advantage };
  });
  return {
    groupId: group.id, step: group.step, task: group.task, instruction: edits[0]?.instruction ?? group.prompt,
    inverseInstruction: edits[0]?.inverseInstruction ?? '', rewardMean: group.rewardMean, rewardStd: group.rewardStd, edits,
  };
}

/** TypedArrays do not survive JSON: tensors go out as plain number arrays. */
function tensorView(tensor: Tensor): TensorView {
  return { dtype: tensor.dtype, shape: tensor.shape, data: Array.from(tensor.data as ArrayLike<number | bigint>, Number) };
}

function trajectoryView(trajectory: Trajectory): TrajectoryView {
  const tensors = Object.fromEntries(Object.entries(trajectory.tensors).map(([name, t]) => [name, tensorView(t)]));
  return { id: trajectory.id, kind: trajectory.kind, label: trajectory.label, tensors };
}

function agreementOf(store: Store, runId: number): AgreementReport {
  const ranked: Ranking[][] = [];
  const groups: GroupAgreement[] = [];
  for (const group of runGroups(store, runId)) {
    const rankings = store.rankings.forGroup(group.id).filter((r) => !r.skipped);
    if (rankings.length < 2) continue;
    ranked.push(rankings);
    groups.push({ groupId: group.id, step: group.step, prompt: group.prompt, ...groupAgreement(rankings) });
  }
  return { overall: poolAgreement(ranked), groups };
}

/** Every call that names a run answers not_found for a missing one, before its handler runs. */
function requireNamedRun(store: Store, handlers: Handlers): Handlers {
  const checked = Object.entries(handlers).map(([name, handler]) => [name, (args: { runId?: number | null }) => {
    if (typeof args.runId === 'number') store.runs.get(args.runId);
    return (handler as (a: unknown) => unknown)(args);
  }]);
  return Object.fromEntries(checked) as Handlers;
}

export function createHandlers({ store, events, compute, settings, runs, info }: HandlerDeps): Handlers {
  const tokenizers = new RunTokenizers(store);
  return requireNamedRun(store, {
    'app.info': () => info(),
    'settings.get': () => settings.get(),
    'settings.set': (patch) => {
      const next = settings.update(patch);
      events.publish('settings.changed', next);
      return next;
    },

    'runs.list': () => store.runs.list(),
    'runs.get': ({ runId }) => store.runs.get(runId),
    'runs.create': ({ name, scenario, config, model }) => runs.create(name, scenario, config, model ?? 'base'),
    'runs.start': ({ runId, steps }) => runs.start(runId, steps),
    'runs.rename': ({ runId, name }) => {
      const run = store.runs.rename(runId, name);
      events.publish('run.updated', run);
      return run;
    },
    'runs.delete': ({ runId }) => runs.delete(runId),
    'runs.pause': ({ runId }) => runs.pause(runId),
    'runs.stop': ({ runId }) => runs.stop(runId),

    'groups.list': (query) => store.groups.list(query),
    'groups.get': ({ groupId }) => store.groups.detail(groupId),
    'groups.steps': ({ runId, discarded }) => store.groups.stepCounts(runId, discarded),

    'ranking.queue': (query) => store.rankings.queue(query),
    'ranking.submit': ({ groupId, annotator, ranks, skipped, durationMs }) => {
      const ranking = skipped
        ? store.rankings.submit({ groupId, annotator, skipped: true, durationMs })
        : store.rankings.submit({ groupId, annotator, ranks: ranks ?? [], durationMs });
      events.publish('ranking.saved', ranking);
      return ranking;
    },
    'ranking.waiting': (query) => ({ waiting: store.rankings.queueSize(query) }),
    'ranking.undo': ({ annotator }) => ({ undone: store.rankings.undoLast(annotator) }),

    'reflections.list': ({ runId, filter = 'all', offset = 0, limit = 50 }) => reflectionPage(store, runId, filter, offset, limit),
    'edits.list': ({ runId, offset = 0, limit = 50 }) => {
      if (store.runs.get(runId).scenario !== 'edit') return { items: [], total: 0, offset, limit };
      const groups = store.groups.list({ runId, offset, limit, order: 'desc' });
      return { ...groups, items: groups.items.map((group) => editGroupView(store, group)) };
    },

    'samples.trajectory': ({ sampleId }) => {
      const sample = store.samples.get(sampleId);
      return tokenizers.addWords(store.groups.get(sample.groupId).runId, store.samples.trajectories(sampleId).map(trajectoryView));
    },
    'samples.redraw': async ({ sampleId }) => {
      store.samples.get(sampleId);
      const redrawn = await compute.start('redraw', { dataDir: info().dataDir, sampleId }).result;
      return { ...redrawn, trajectories: redrawn.trajectories.map((t) => ({ ...t, latents: tensorView(t.latents) })) };
    },
    'storage.usage': () => dataDirUsage(store, info().dataDir),
    'runs.prune': ({ runId, keep }) => pruneRun(store, runId, keep),
    'samples.derived': ({ sampleId }) => {
      store.samples.get(sampleId);
      return store.samples.derived(sampleId);
    },
    'ranking.agreement': ({ runId }) => agreementOf(store, runId),
    'reflections.mark': ({ roundId, annotator, correct }) => {
      store.reflections.mark(roundId, annotator, correct);
      return { roundId, annotator, correct };
    },

    'metrics.names': ({ runId }) => store.metrics.names(runId),
    'metrics.series': (query) => store.metrics.series(query),
    'logs.tail': (query) => store.log.tail(query),

    'checkpoints.list': ({ runId }) => listCheckpoints(store, runId),
    'eval.suites': () => listSuites(),
    'eval.start': ({ suite, generator, limit, checkpoint: checkpointRef }) => {
      requireKnown('suite', suite, listSuites().map((s) => s.name));
      requireKnown('generator', generator, listGenerators().map((g) => g.name));
      // The shipped base is recorded as no checkpoint (the baseline the screen compares with).
      const checkpoint = checkpointRef === undefined || checkpointRef === SHIPPED_BASE_ID ? undefined : resolveCheckpoint(store, info().dataDir, checkpointRef);
      // The evaluation row is written first, so the screen lists it while it runs; the job's report lands in it.
      const runId = checkpointRef === undefined ? null : runOfCheckpoint(checkpointRef);
      const evaluation = store.evaluations.start({ suite, runId, ...(checkpoint ? { checkpointPath: checkpoint } : {}) });
      const job = compute.start('eval', { suite, generator, limit, checkpoint });
      job.result.then(
        (result) => {
          const summary = recordEvalReport(store, evaluation.id, generator, result);
          events.publish('job.finished', { jobId: job.id, kind: job.kind, ok: summary !== null, result: summary });
        },
        (err: unknown) => {
          const error = err instanceof Error ? err.message : String(err);
          store.evaluations.fail(evaluation.id, error);
          events.publish('job.finished', { jobId: job.id, kind: job.kind, ok: false, error, cancelled: err instanceof JobFailed && err.cancelled });
        },
      );
      return { jobId: job.id, kind: job.kind, evaluationId: evaluation.id };
    },
    'evaluations.list': ({ runId }) => store.evaluations.list(runId),
    'evaluations.results': (query) => {
      store.evaluations.get(query.evaluationId);
      return store.evaluations.results(query);
    },
    'export.run': ({ runId, format }) => {
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const folder = `run-${runId}-${format}-${stamp}`;
      const manifest = exportRun(store, { runId, format, outDir: join(info().dataDir, 'exports', folder) });
      // A browser cannot open a folder on the server: it downloads the export as a zip.
      return info().mode === 'headless' ? { ...manifest, download: exportDownloadPath(folder) } : manifest;
    },
    'jobs.cancel': ({ jobId }) => ({ cancelled: compute.cancel(jobId) }),
  });
}
