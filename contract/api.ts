// The one API contract between the renderer and the main process. Every call the renderer can
// make and every event it can receive is declared here once: the zod schema validates the input
// at the boundary (both transports), and the TypeScript types type the preload, the WebSocket
// client and the handlers. No Node or Electron imports: main, preload and renderer import it.
import { z } from 'zod';
import type {
  Edit,
  EvalResult,
  Evaluation,
  GroupDetail,
  GroupKey,
  KeysetPage,
  LogEvent,
  MetricSeries,
  Page,
  RolloutGroup,
  Ranking,
  RewardComponent,
  Run,
  RunStatus,
  Sample,
  Verdict,
  CritiqueMark,
  Scenario,
  TensorDType,
  TrajectoryKind,
} from './domain.ts';
import { REFLECTION_FILTERS } from './domain.ts';

export { REFLECTION_FILTERS, type ReflectionFilter } from './domain.ts';

const id = z.number().int().positive();
const paging = { offset: z.number().int().min(0).optional(), limit: z.number().int().min(1).max(500).optional() };
const annotator = z.string().trim().min(1).max(64);

import { EXECUTION_PROVIDERS, EXPORT_FORMATS, type ExecutionProvider, type ExportFormat, type MediaRef } from './media.ts';

export { EXECUTION_PROVIDERS, EXPORT_FORMATS, MEDIA_PATH_PATTERN, mediaPath } from './media.ts';
export type { ExecutionProvider, ExportFormat, MediaRef } from './media.ts';

export interface Settings {
  annotator: string;
  theme: 'system' | 'light' | 'dark';
  provider: ExecutionProvider;
  /** Threads per inference/training session (0 = let onnxruntime decide). */
  threads: number;
}

export interface AppInfo {
  version: string;
  mode: 'electron' | 'headless';
  dataDir: string;
  /** Execution providers this build of onnxruntime-node can load on this machine. */
  providers: ExecutionProvider[];
  schemaVersion: number;
}

/** Weights the API can name (checkpoints.list): by id only, never by an arbitrary path. */
export interface CheckpointEntry {
  /** "shipped:base", or "run:<runId>:<step>" for a checkpoint a run saved. */
  id: string;
  label: string;
  source: 'shipped' | 'run';
  runId: number | null;
  step: number | null;
}

/** A sync run waiting for people: the groups it waits on (they come first in the ranking queue). */
export interface RunWait {
  runId: number;
  runName: string;
  step: number;
  groupIds: number[];
}

export interface SuiteInfo {
  name: string;
  description: string;
  prompts: number;
}

export interface JobInfo {
  jobId: string;
  kind: string;
  /** For eval jobs: the evaluation row its per-image results are recorded under. */
  evaluationId?: number;
}

/** A trajectory tensor as JSON can carry it: data as plain numbers (int64 converted with Number). */
export interface TensorView {
  dtype: TensorDType;
  shape: number[];
  data: number[];
}

export interface TrajectoryView {
  id: number;
  kind: TrajectoryKind;
  label: string;
  tensors: Record<string, TensorView>;
  /** lm: the word of each token id (tokenIds order), from the tokenizer of the model the run trains. */
  tokens?: string[];
  /** lm without `tokens`: why the ids stay ids (e.g. the run's checkpoint is gone). */
  tokensNote?: string;
}

/** A sample's DM trajectories drawn again (samples.redraw): its stored seeds, the run's checkpoint nearest to the weights that drew it. */
export interface RedrawView {
  sampleId: number;
  /** The step whose weights drew the sample. */
  drawnWithStep: number;
  /** The checkpoint step the re-draw used (0 = the weights the run started from); equal to drawnWithStep: the same trajectory. */
  checkpointStep: number;
  trajectories: { trajectoryId: number; label: string; latents: TensorView }[];
  skipped: { trajectoryId: number; label: string; reason: string }[];
}

/** What one run takes on disk (storage.usage). Bytes as stored; `rowBytes` is an estimate (db/usage.ts). */
export interface RunUsage {
  runId: number;
  name: string;
  status: RunStatus;
  samples: number;
  rowBytes: number;
  imageBytes: number;
  tensorBytes: number;
  checkpoints: number;
  checkpointsWithOptimizer: number;
  checkpointBytes: number;
  otherFileBytes: number;
  exportBytes: number;
}

export interface DataDirUsage {
  dataDir: string;
  fileBytes: number;
  walBytes: number;
  /** Pages free inside the database file. */
  freeBytes: number;
  autoVacuum: 'none' | 'full' | 'incremental';
  runs: RunUsage[];
}

/** Overrides of a run's storage policy for pruning (unset: the run's config). */
export interface StorageKeep {
  /** Checkpoints with optimizer state kept. */
  latest?: number;
  /** Keep the best checkpoint by held-out evaluation. */
  best?: boolean;
  /** Weights-only snapshot every K steps (0 = none). */
  every?: number;
  /** 'viewed': latents of ranked and sampled groups only (others are re-drawn); 'all': every stored latent stays. */
  latents?: 'viewed' | 'all';
}

export interface ReclaimInfo {
  beforeBytes: number;
  afterBytes: number;
  mode: 'incremental_vacuum' | 'vacuum';
  ms: number;
}

export interface PruneResult {
  runId: number;
  checkpoints: {
    deleted: number[];
    weightsOnly: number[];
    freedBytes: number;
    policy: { keepLatest: number; keepBest: boolean; snapshotEvery: number };
  };
  tensorBytesFreed: number;
  reclaim: ReclaimInfo;
}

/** Agreement between annotators who ranked the same groups (pure maths in main/export/agreement.ts). */
export interface Agreement {
  /** Rankings (not skips) that took part. */
  rankings: number;
  annotators: string[];
  /** Share of sample pairs two annotators order alike (a tie is its own answer); null with < 2 annotators. */
  pairwise: number | null;
  /** Krippendorff's alpha, ordinal metric, samples as units; null when undefined. */
  alpha: number | null;
}

export interface GroupAgreement extends Agreement {
  groupId: number;
  step: number;
  prompt: string;
}

/** Two annotators' agreement over the groups both ranked. */
export interface PairAgreement extends Agreement {
  a: string;
  b: string;
  /** Groups both ranked. */
  groups: number;
}

export interface AgreementReport {
  /** Pooled over the groups ranked by two or more annotators. */
  overall: Agreement;
  /** Per pair of annotators, over the groups both ranked. */
  pairs: PairAgreement[];
  /** Groups with two or more rankings, newest step first. */
  groups: GroupAgreement[];
}

export type ExportFileFormat = Exclude<ExportFormat, 'all'>;

export interface ExportedFile {
  /** Relative to the export folder. */
  path: string;
  format: ExportFileFormat;
  rows: number;
  description: string;
  fileFormat: 'jsonl' | 'parquet' | 'python';
  /** Column name -> type (for the Python file: the functions it defines -> their signatures). */
  schema: Record<string, string>;
}

export interface ExportManifest {
  /** Absolute path of the export folder. */
  dir: string;
  run: { id: number; name: string; scenario: string; step: number; status: string };
  formats: ExportFileFormat[];
  files: ExportedFile[];
  /** PNG files written under images/ for the JSONL files (Parquet files embed their images as PNG bytes). */
  images: number;
  imageFormat: 'png';
  createdAt: string;
  /** URL path where a browser downloads the folder as a zip (headless mode only; not in manifest.json). */
  download?: string;
}

/** ShapeEval's verdict on one image of a reflection cycle, scored from the stored image against the prompt. */
export interface ImageVerdict {
  sampleId: number;
  correct: boolean;
  /** ShapeEval's fractional reward in [0, 1] (1 exactly when correct). */
  reward: number;
  /** The scorer's reason: "ok", or one line per failed check. */
  reason: string;
}

/** One critique round as a person reads it: the LM's critique as plain text, its fix, and what the round earned. */
export interface ReflectionRoundView {
  id: number;
  /** 1-based. */
  round: number;
  /** The critique with the format's tags parsed away. */
  critique: string;
  /** The corrected prompt the refinement was drawn from; '' when the LM said the image is right. */
  fix: string;
  /** The LM's verdict on the judged image, and the scorer's. */
  verdict: Verdict;
  scorerVerdict: Verdict;
  judged: ImageVerdict;
  /** The refined image; null when the LM said the judged image is right. */
  refined: ImageVerdict | null;
  /**
   * What this round earned, weighted as the run weighs the cycle's components: critique (1 when the
   * verdict agrees with the scorer's) and, when it refined, improvement (refined less judged ShapeEval).
   */
  rewards: RewardComponent[];
  marks: CritiqueMark[];
}

/** How a cycle ended, by the scorer: corrected (wrong → right), broken (right → wrong), or kept right or wrong. */
export type ReflectionOutcome = 'corrected' | 'broken' | 'kept right' | 'kept wrong';

export interface ReflectionCycleView {
  id: number;
  /** The group member (the first image) whose advantage the cycle's samples share. */
  sampleId: number;
  groupId: number;
  step: number;
  prompt: string;
  task: string;
  rounds: ReflectionRoundView[];
  outcome: ReflectionOutcome;
  /** The member's stored reward components (on the final image), total and advantage. */
  rewards: RewardComponent[];
  reward: number;
  advantage: number | null;
}

/** One group of an edit run: one source and instruction, its G edits (each with its reconstruction), by step. */
export interface EditGroupView {
  groupId: number;
  step: number;
  task: string;
  instruction: string;
  inverseInstruction: string;
  /** Mean and std of the members' total rewards. */
  rewardMean: number | null;
  rewardStd: number | null;
  edits: (Edit & { reward: number; advantage: number | null })[];
}

/** Declares one call: `call<Output>()(inputSchema)`; the output type rides along as a phantom. */
function call<O>() {
  return <I extends z.ZodType>(input: I): { input: I; output?: O } => ({ input });
}

const scenario = z.enum(['t2i', 'cot', 'text', 'vqa', 'edit', 'reflect']);
// Compile-time check that the schema and the domain list name the same scenarios.
const _scenariosMatch: [z.infer<typeof scenario>] extends [Scenario]
  ? [Scenario] extends [z.infer<typeof scenario>]
    ? true
    : never
  : never = true;
void _scenariosMatch;

export const calls = {
  'app.info': call<AppInfo>()(z.object({}).strict()),
  'settings.get': call<Settings>()(z.object({}).strict()),
  'settings.set': call<Settings>()(
    z
      .object({
        annotator: annotator.optional(),
        theme: z.enum(['system', 'light', 'dark']).optional(),
        provider: z.enum(EXECUTION_PROVIDERS).optional(),
        threads: z.number().int().min(0).max(256).optional(),
      })
      .strict(),
  ),

  'runs.list': call<Run[]>()(z.object({}).strict()),
  'runs.get': call<Run>()(z.object({ runId: id }).strict()),
  'runs.create': call<Run>()(
    z
      .object({
        name: z.string().trim().min(1).max(120),
        scenario,
        /** Overrides over the scenario's preset (see main/rl/config.ts); validated field by field. */
        config: z.record(z.string(), z.unknown()).optional(),
        /** base: the shipped model; nano: a tiny one that trains in seconds (demos, tests). */
        model: z.enum(['base', 'nano']).optional(),
      })
      .strict(),
  ),
  /**
   * Starts a created run, or resumes a paused or interrupted one from its last checkpoint; `steps` sets
   * the step it trains to (required to continue a completed run, more than it has).
   */
  'runs.start': call<Run>()(z.object({ runId: id, steps: z.number().int().min(1).max(10_000_000).optional() }).strict()),
  'runs.rename': call<Run>()(z.object({ runId: id, name: z.string().trim().min(1).max(120) }).strict()),
  /** Deletes a run that is not training: its rows (groups, samples, rankings, metrics...) and its files (runs/<id>/). */
  'runs.delete': call<{ runId: number; removedFiles: boolean; fileBytesFreed: number; reclaim: ReclaimInfo }>()(
    z.object({ runId: id }).strict(),
  ),
  /** Pauses after the current step (resumable with runs.start). */
  'runs.pause': call<Run>()(z.object({ runId: id }).strict()),
  'runs.stop': call<Run>()(z.object({ runId: id }).strict()),

  /** A page of a run's groups by offset, with their total (reads past the rows it skips: for short lists). */
  'groups.list': call<Page<RolloutGroup>>()(
    z
      .object({
        runId: id,
        step: z.number().int().min(0).optional(),
        order: z.enum(['asc', 'desc']).optional(),
        discarded: z.boolean().optional(),
        ...paging,
      })
      .strict(),
  ),
  /** A page of a run's groups by keyset (GroupPageQuery): the same cost at any depth. */
  'groups.page': call<KeysetPage<RolloutGroup, GroupKey>>()(
    z
      .object({
        runId: id,
        step: z.number().int().min(0).optional(),
        order: z.enum(['asc', 'desc']).optional(),
        discarded: z.boolean().optional(),
        ...paging,
        after: z
          .object({ step: z.number().int().min(0), id })
          .strict()
          .optional(),
        fromStep: z.number().int().min(0).optional(),
      })
      .strict(),
  ),
  'groups.get': call<GroupDetail>()(z.object({ groupId: id }).strict()),
  /** Groups per step; with discarded: true, discarded groups count too (and `discarded` says how many). */
  'groups.steps': call<{ step: number; groups: number; discarded: number }[]>()(
    z.object({ runId: id, discarded: z.boolean().optional() }).strict(),
  ),

  'ranking.queue': call<RolloutGroup[]>()(
    z.object({ annotator, runId: id.optional(), limit: z.number().int().min(1).max(100).optional() }).strict(),
  ),
  'ranking.submit': call<Ranking>()(
    z
      .object({
        groupId: id,
        annotator,
        ranks: z
          .array(z.object({ sampleId: id, rank: z.number().int().min(1) }).strict())
          .max(256)
          .optional(),
        skipped: z.boolean().optional(),
        durationMs: z.number().min(0),
      })
      .strict()
      .refine((v) => v.skipped === true || (v.ranks !== undefined && v.ranks.length > 0), {
        message: 'either skipped: true or a non-empty ranks list is required',
        path: ['ranks'],
      }),
  ),
  'ranking.waiting': call<{ waiting: number }>()(z.object({ annotator, runId: id.optional() }).strict()),
  /** Sync runs waiting for rankings now, with the groups they wait on. */
  'ranking.waits': call<RunWait[]>()(z.object({}).strict()),
  /** Takes back one of the annotator's own rankings or skips (the screen sends only those it saved in this session). */
  'ranking.undo': call<{ undone: Ranking }>()(z.object({ annotator, rankingId: id }).strict()),

  'reflections.list': call<Page<ReflectionCycleView>>()(
    z.object({ runId: id, filter: z.enum(REFLECTION_FILTERS).optional(), ...paging }).strict(),
  ),
  /** Pages of groups (newest step first), each with its edits. */
  'edits.list': call<Page<EditGroupView>>()(z.object({ runId: id, ...paging }).strict()),

  'samples.trajectory': call<TrajectoryView[]>()(z.object({ sampleId: id }).strict()),
  'samples.redraw': call<RedrawView>()(z.object({ sampleId: id }).strict()),
  'storage.usage': call<DataDirUsage>()(z.object({}).strict()),
  'runs.prune': call<PruneResult>()(
    z
      .object({
        runId: id,
        keep: z
          .object({
            latest: z.number().int().min(1).max(1000).optional(),
            best: z.boolean().optional(),
            every: z.number().int().min(0).max(1_000_000).optional(),
            latents: z.enum(['viewed', 'all']).optional(),
          })
          .strict()
          .optional(),
      })
      .strict(),
  ),
  /** The images made from a sample (a reflection's refined images, an edit's reconstruction), in order. */
  'samples.derived': call<Sample[]>()(z.object({ sampleId: id }).strict()),
  'ranking.agreement': call<AgreementReport>()(z.object({ runId: id }).strict()),
  'reflections.mark': call<{ roundId: number; annotator: string; correct: boolean }>()(
    z.object({ roundId: id, annotator, correct: z.boolean() }).strict(),
  ),

  'edits.mark': call<{ editId: number; annotator: string; followed: boolean }>()(
    z.object({ editId: id, annotator, followed: z.boolean() }).strict(),
  ),

  'metrics.names': call<string[]>()(z.object({ runId: id }).strict()),
  'metrics.series': call<MetricSeries[]>()(
    z
      .object({
        runId: id,
        names: z.array(z.string().min(1)).max(64),
        afterStep: z.number().int().optional(),
        maxPoints: z.number().int().min(2).max(1_000_000).optional(),
      })
      .strict(),
  ),
  'logs.tail': call<LogEvent[]>()(
    z
      .object({ runId: id.nullable(), limit: z.number().int().min(1).max(2000).optional(), afterId: z.number().int().min(0).optional() })
      .strict(),
  ),

  /** The shipped model and every run's checkpoints (only that run's with runId), for eval.start and runs.create. */
  'checkpoints.list': call<CheckpointEntry[]>()(z.object({ runId: id.optional() }).strict()),
  'eval.suites': call<SuiteInfo[]>()(z.object({}).strict()),
  'eval.start': call<JobInfo>()(
    z
      .object({
        /** A name from eval.suites; the handler checks it against the list. */
        suite: z.string().min(1).max(64),
        generator: z.string().min(1).max(64),
        limit: z.number().int().min(1).optional(),
        /** Weights for the model generator: an id from checkpoints.list (or a path inside the data dir); the shipped base when absent. */
        checkpoint: z.string().min(1).max(4096).optional(),
      })
      .strict(),
  ),
  'evaluations.list': call<Evaluation[]>()(z.object({ runId: id.nullable().optional() }).strict()),
  'evaluations.results': call<Page<EvalResult>>()(
    z.object({ evaluationId: id, task: z.string().min(1).optional(), failuresFirst: z.boolean().optional(), ...paging }).strict(),
  ),
  'export.run': call<ExportManifest>()(z.object({ runId: id, format: z.enum(EXPORT_FORMATS) }).strict()),
  'jobs.cancel': call<{ cancelled: boolean }>()(z.object({ jobId: z.string().min(1) }).strict()),
} as const;

export type Calls = typeof calls;
export type CallName = keyof Calls;
export type CallInput<K extends CallName> = z.input<Calls[K]['input']>;
/** The input after validation (defaults and transforms applied): what handlers receive. */
export type CallArgs<K extends CallName> = z.output<Calls[K]['input']>;
export type CallOutput<K extends CallName> = NonNullable<Calls[K]['output']>;

/** Events pushed from main to every renderer. */
export interface Events {
  'job.progress': { jobId: string; kind: string; done: number; total: number; message?: string };
  'job.finished': { jobId: string; kind: string; ok: boolean; result?: unknown; error?: string; cancelled?: boolean };
  'run.updated': Run;
  'run.deleted': { runId: number };
  'metrics.appended': { runId: number; step: number; values: Record<string, number> };
  'group.created': RolloutGroup;
  'ranking.saved': Ranking;
  'log.appended': LogEvent;
  'settings.changed': Settings;
}
export type EventName = keyof Events;

/** What both transports give the renderer (window.unirl in Electron; a WebSocket client in a browser). */
export interface UnirlApi {
  call<K extends CallName>(name: K, input: CallInput<K>): Promise<CallOutput<K>>;
  /** Subscribe to an event; returns the unsubscribe function. */
  on<E extends EventName>(event: E, handler: (payload: Events[E]) => void): () => void;
  mediaUrl(ref: MediaRef): string;
}

export const CALL_NAMES = Object.keys(calls) as CallName[];
export const EVENT_NAMES: EventName[] = [
  'job.progress',
  'job.finished',
  'run.updated',
  'run.deleted',
  'metrics.appended',
  'group.created',
  'ranking.saved',
  'log.appended',
  'settings.changed',
];
