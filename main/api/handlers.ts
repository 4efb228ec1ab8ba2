// What each API call does. Inputs arrive validated (see dispatch.ts); handlers read and write the
// store, start jobs on the compute worker, and publish events.
import { join } from 'node:path';
import type {
  AgreementReport,
  AppInfo,
  EditGroupView,
  GroupAgreement,
  PairAgreement,
  RunWait,
  TensorView,
  TrajectoryView,
} from '../../contract/api.ts';
import { exportDownloadPath } from '../../contract/media.ts';
import type { GroupDetail, Ranking, RolloutGroup, Tensor, Trajectory } from '../../contract/domain.ts';
import { advantageOptions, HUMAN_REWARDS, parseTrainConfig, type TrainConfig } from '../rl/config.ts';
import { automaticAdvantages, humanPart } from '../rl/feedback.ts';
import { meanStd } from '../rl/stats.ts';
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

/** A group of an edit run with its members' edits, their rewards and advantages. */
function editGroupView(store: Store, group: RolloutGroup): EditGroupView {
  const members = new Map(store.samples.members(group.id).map((s) => [s.id, s]));
  const edits = store.edits.forGroup(group.id).map((edit) => {
    const member = members.get(edit.editedSampleId)!;
    return { ...edit, reward: member.reward, advantage: member.advantage };
  });
  return {
    groupId: group.id,
    step: group.step,
    task: group.task,
    instruction: edits[0]?.instruction ?? group.prompt,
    inverseInstruction: edits[0]?.inverseInstruction ?? '',
    rewardMean: group.rewardMean,
    rewardStd: group.rewardStd,
    edits,
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
  store.runs.get(runId);
  for (const group of store.groups.each({ runId, order: 'desc' })) {
    const rankings = store.rankings.forGroup(group.id).filter((r) => !r.skipped);
    if (rankings.length < 2) continue;
    ranked.push(rankings);
    groups.push({ groupId: group.id, step: group.step, prompt: group.prompt, ...groupAgreement(rankings) });
  }
  return { overall: poolAgreement(ranked), pairs: pairAgreements(ranked), groups };
}

/** Krippendorff's alpha and pairwise agreement for every two annotators, over the groups both ranked. */
function pairAgreements(ranked: readonly Ranking[][]): PairAgreement[] {
  const annotators = [...new Set(ranked.flat().map((r) => r.annotator))].sort();
  return annotators.flatMap((a, i) =>
    annotators.slice(i + 1).flatMap((b) => {
      const both = ranked
        .map((rankings) => rankings.filter((r) => r.annotator === a || r.annotator === b))
        .filter((rankings) => rankings.length === 2);
      return both.length === 0 ? [] : [{ a, b, groups: both.length, ...poolAgreement(both) }];
    }),
  );
}

/** The sync runs training now that wait for people, with the groups each waits on. */
function runWaits(store: Store): RunWait[] {
  return store.runs.list().flatMap((run) => {
    if (run.status !== 'running' || (run.config as { human?: { mode?: string } }).human?.mode !== 'sync') return [];
    const groupIds = store.groups.pendingOfRun(run.id);
    return groupIds.length ? [{ runId: run.id, runName: run.name, step: run.step + 1, groupIds }] : [];
  });
}

/** A group with its members' advantages on the automatic rewards alone, when people's answers reached it. */
function withAutomaticAdvantages(store: Store, detail: GroupDetail): GroupDetail {
  const members = detail.samples.filter((s) => s.role === 'member');
  if (!members.some((s) => s.rewards.some((c) => (HUMAN_REWARDS as readonly string[]).includes(c.name))))
    return { ...detail, automaticAdvantages: null };
  let config: TrainConfig;
  try {
    config = parseTrainConfig(store.runs.get(detail.runId).config);
  } catch {
    return { ...detail, automaticAdvantages: null };
  }
  if (config.scenario === 'reflect' && config.reflect.advantage === 'perRound') return { ...detail, automaticAdvantages: null };
  const options = advantageOptions(config.loss);
  // Global-std advantages divide by the spread of the whole step's automatic rewards, as the trainer did
  // when it scored the step (people's rewards came later).
  if (config.loss.advantage === 'globalStd') {
    const step = store.groups.list({ runId: detail.runId, step: detail.step, limit: 500 }).items;
    const automaticTotals = step.flatMap((g) => store.samples.members(g.id).map((s) => (s.reward ?? 0) - humanPart(s.rewards)));
    options.batchStd = meanStd(automaticTotals).std;
  }
  const totals = members.map((s) => s.reward ?? 0);
  const automatic = automaticAdvantages(
    totals,
    members.map((s) => humanPart(s.rewards)),
    options,
  );
  return { ...detail, automaticAdvantages: automatic };
}

/** Every call that names a run answers not_found for a missing one, before its handler runs. */
function requireNamedRun(store: Store, handlers: Handlers): Handlers {
  const checked = Object.entries(handlers).map(([name, handler]) => [
    name,
    (args: { runId?: number | null }) => {
      if (typeof args.runId === 'number') store.runs.get(args.runId);
      return (handler as (a: unknown) => unknown)(args);
    },
  ]);
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
    'runs.create': ({ name, scenario, config, model }) => {
      const { provider, threads } = settings.get();
      return runs.create(name, scenario, config, model ?? 'base', { provider, threads });
    },
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
    'groups.page': (query) => store.groups.page(query),
    'groups.get': ({ groupId }) => withAutomaticAdvantages(store, store.groups.detail(groupId)),
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
    'ranking.waits': () => runWaits(store),
    'ranking.undo': ({ annotator, rankingId }) => ({ undone: store.rankings.undo(annotator, rankingId) }),

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
    'edits.mark': ({ editId, annotator, followed }) => {
      store.edits.mark(editId, annotator, followed);
      return { editId, annotator, followed };
    },

    'metrics.names': ({ runId }) => store.metrics.names(runId),
    'metrics.series': (query) => store.metrics.series(query),
    'logs.tail': (query) => store.log.tail(query),

    'checkpoints.list': ({ runId }) => listCheckpoints(store, runId),
    'eval.suites': () => listSuites(),
    'eval.start': ({ suite, generator, limit, checkpoint: checkpointRef }) => {
      requireKnown(
        'suite',
        suite,
        listSuites().map((s) => s.name),
      );
      requireKnown(
        'generator',
        generator,
        listGenerators().map((g) => g.name),
      );
      // The shipped base is no checkpoint: the model generator's default weights, and the baseline the
      // Evaluation screen compares with.
      const checkpoint =
        checkpointRef === undefined || checkpointRef === SHIPPED_BASE_ID
          ? undefined
          : resolveCheckpoint(store, info().dataDir, checkpointRef);
      // The evaluation row is written first, so the screen lists it while it runs; the job's report lands in it.
      // It belongs to the run whose checkpoint it scores.
      const runId = checkpointRef === undefined ? null : runOfCheckpoint(checkpointRef);
      const evaluation = store.evaluations.start({ suite, runId, ...(checkpoint ? { checkpointPath: checkpoint } : {}) });
      const { provider, threads } = settings.get();
      const job = compute.start('eval', { suite, generator, limit, checkpoint, provider, threads });
      job.result.then(
        (result) => {
          const summary = recordEvalReport(store, evaluation.id, generator, result);
          events.publish('job.finished', { jobId: job.id, kind: job.kind, ok: summary !== null, result: summary });
        },
        (err: unknown) => {
          const error = err instanceof Error ? err.message : String(err);
          store.evaluations.fail(evaluation.id, error);
          events.publish('job.finished', {
            jobId: job.id,
            kind: job.kind,
            ok: false,
            error,
            cancelled: err instanceof JobFailed && err.cancelled,
          });
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
