// Domain types: what the store returns, what the API carries and what the screens show.
// Pure TypeScript with no Node or Electron imports: main, preload and the renderer all import it.
// Times are milliseconds since the Unix epoch; ids are SQLite integer row ids.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

// ---------- runs ----------

export type Scenario = 't2i' | 'cot' | 'text' | 'vqa' | 'edit' | 'reflect';
export const SCENARIOS: readonly Scenario[] = ['t2i', 'cot', 'text', 'vqa', 'edit', 'reflect'];

/**
 * created -> running <-> paused; running|paused -> stopped|completed|failed;
 * running -> interrupted (the process died: found 'running' at startup) -> running (resumed) | stopped.
 */
export type RunStatus = 'created' | 'running' | 'paused' | 'stopped' | 'completed' | 'failed' | 'interrupted';
export const RUN_STATUSES: readonly RunStatus[] = ['created', 'running', 'paused', 'stopped', 'completed', 'failed', 'interrupted'];

/** The trainer's typed config lives with the trainer; the store keeps it as an opaque JSON object. */
export type RunConfig = JsonObject;

export interface Run {
  id: number;
  name: string;
  scenario: Scenario;
  config: RunConfig;
  status: RunStatus;
  /** Last optimisation step the trainer reported (0 before the first). */
  step: number;
  createdAt: number;
  updatedAt: number;
  /** Why the run failed; null otherwise. */
  error: string | null;
}

export interface Checkpoint {
  id: number;
  runId: number;
  step: number;
  /** Absolute path of the checkpoint file (safetensors) on disk. */
  path: string;
  metadata: JsonObject;
  createdAt: number;
}

// ---------- rollouts ----------

export interface Prompt {
  id: number;
  runId: number;
  text: string;
  /** ShapeWorld task name (e.g. 'counting', 'vague', 'edit', 'question'). */
  task: string;
  /** What the scorer checks (scene constraints, target scene, answer...), opaque to the store. */
  spec: JsonValue;
}

/**
 * none: not sent to people; pending: in the ranking queue; ranked: enough rankings arrived.
 * A group leaves the queue of an annotator who ranked or skipped it; it stays pending for the others.
 */
export type RankingStatus = 'none' | 'pending' | 'ranked';

/**
 * Why a queued group left the queue unranked: a skip released it (sync mode trains on its automatic rewards), the trainer can no
 * longer use it (stale: older than the staleness limit, or left over from before a pause), or sync mode stopped waiting (timeout).
 */
export type QueueClosed = 'released' | 'stale' | 'timeout';

export interface RolloutGroup {
  id: number;
  runId: number;
  step: number;
  promptId: number;
  prompt: string;
  task: string;
  /** G: number of member samples. */
  groupSize: number;
  /** All G rewards equal: no GRPO gradient from this group. */
  zeroStd: boolean;
  rankingStatus: RankingStatus;
  /** Rankings (not skips) needed before the group counts as ranked. */
  rankingsNeeded: number;
  /** Why the run's queue policy sent this group to people (e.g. 'reward spread 0.31'); null when never queued. */
  queueReason: string | null;
  queueClosed: QueueClosed | null;
  /** Mean and population std of the member samples' total rewards (null when no rewards yet). */
  rewardMean: number | null;
  rewardStd: number | null;
  createdAt: number;
  /** Drawn by weights a resume gave up (a step after the checkpoint it resumed from): kept for audit only. */
  discarded: boolean;
}

export interface RewardComponent {
  name: string;
  value: number;
  weight: number;
}

/** member: one of the G policy samples; derived: an image made from a member (edit reconstruction, reflection refinement). */
export type SampleRole = 'member' | 'derived';

export interface Sample {
  id: number;
  groupId: number;
  role: SampleRole;
  /** Position in the group for members (0..G-1); for derived samples, its order under the parent. */
  index: number;
  parentSampleId: number | null;
  seed: number;
  /** Text the LM wrote for this sample (reasoning, answer, critique), if any. */
  text: string | null;
  /** Image size when the sample has an image (fetch the PNG through the media route). */
  image: { width: number; height: number } | null;
  rewards: RewardComponent[];
  /** Sum of value x weight over the components. */
  reward: number;
  advantage: number | null;
}

export type TensorDType = 'float32' | 'float64' | 'int32' | 'uint32' | 'int16' | 'uint16' | 'int8' | 'uint8' | 'int64';

export type TypedArrayFor<D extends TensorDType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int32'
      ? Int32Array
      : D extends 'uint32'
        ? Uint32Array
        : D extends 'int16'
          ? Int16Array
          : D extends 'uint16'
            ? Uint16Array
            : D extends 'int8'
              ? Int8Array
              : D extends 'uint8'
                ? Uint8Array
                : BigInt64Array;

export type AnyTypedArray = TypedArrayFor<TensorDType>;

/** A tensor with its dtype and shape; data.length = product(shape). */
export interface Tensor<D extends TensorDType = TensorDType> {
  dtype: D;
  shape: number[];
  data: TypedArrayFor<D>;
}

/**
 * What one policy produced for one sample, as named tensors. Their names, dtypes and named dims are described
 * once, in contract/tensors.ts (TRAJECTORY_TENSORS), and checked when written and when read:
 * lm: tokenIds int32 [T], logProbs float32 [T];
 * dm: latents float32 [S+1, N, p·p·3] (images in the DiT's patch layout), means float32 [S, N, p·p·3],
 * logProbs float32 [S], times float32 [S+1], steps int32 [S]. `label` tells several trajectories of one sample apart
 * (e.g. 'forward' / 'reverse' in cycle editing, 'round1' in reflection).
 */
export type TrajectoryKind = 'lm' | 'dm';

export interface Trajectory {
  id: number;
  sampleId: number;
  kind: TrajectoryKind;
  label: string;
  tensors: Record<string, Tensor>;
  /** DM: the seeds that draw it again (initial noise, SDE noise); null for LM and for rows older than them. */
  seeds: DrawSeeds | null;
}

/** Seeds of one SDE draw: x_0 ~ N(0, I) from `noise`, each step's z from `sde` (one source per sample). */
export interface DrawSeeds {
  noise: number;
  sde: number;
}

// ---------- human rankings ----------

export interface RankEntry {
  sampleId: number;
  /** 1 = best; equal ranks are ties. */
  rank: number;
}

export interface Ranking {
  id: number;
  groupId: number;
  annotator: string;
  skipped: boolean;
  /** One entry per member sample; empty when skipped. */
  ranks: RankEntry[];
  createdAt: number;
  /** How long the annotator looked at the group before submitting. */
  durationMs: number;
}

export type RankingInput =
  | { groupId: number; annotator: string; skipped?: false; ranks: RankEntry[]; durationMs: number }
  | { groupId: number; annotator: string; skipped: true; durationMs: number };

/** A learned preference reward model version (Bradley-Terry on pairs from the rankings). */
export interface PreferenceModel {
  id: number;
  runId: number;
  version: number;
  path: string;
  trainPairs: number;
  heldoutPairs: number;
  /** Fraction of held-out pairs ordered correctly; null when there were none. */
  heldoutAccuracy: number | null;
  createdAt: number;
}

// ---------- reflection and editing ----------

export type Verdict = 'correct' | 'wrong';

export interface ReflectionRound {
  id: number;
  cycleId: number;
  /** 1-based. */
  round: number;
  /** The image the LM judged in this round. */
  judgedSampleId: number;
  /** The refined image the DM made from the critique; null when the LM said the image is right. */
  refinedSampleId: number | null;
  critique: string;
  verdict: Verdict;
  /** The scorer's verdict on the judged image: the critique is right when they agree. */
  scorerVerdict: Verdict;
  reward: number | null;
  /** People marking the critique right or wrong. */
  marks: CritiqueMark[];
}

export interface CritiqueMark {
  annotator: string;
  correct: boolean;
  createdAt: number;
}

/** Which cycles the Reflections screen lists (the store filters and pages them). */
export const REFLECTION_FILTERS = ['all', 'disagree', 'corrected', 'broken', 'markedWrong'] as const;
export type ReflectionFilter = (typeof REFLECTION_FILTERS)[number];

export interface ReflectionCycle {
  id: number;
  /** The group member whose advantage the whole cycle shares. */
  sampleId: number;
  rounds: ReflectionRound[];
}

export interface Edit {
  id: number;
  /** The group member holding the edited image. */
  editedSampleId: number;
  /** Source image: a sample, or a rendered scene stored with the edit (then fetch it through the media route). */
  sourceSampleId: number | null;
  hasSourceImage: boolean;
  instruction: string;
  inverseInstruction: string;
  reconstructionSampleId: number | null;
  compliance: number | null;
  preservation: number | null;
  cycleScore: number | null;
  /** People marking whether the edit followed its instruction (the editMark reward). */
  marks: EditMark[];
}

export interface EditMark {
  annotator: string;
  followed: boolean;
  createdAt: number;
}

// ---------- evaluation (ShapeEval suites on a checkpoint) ----------

export type EvaluationStatus = 'running' | 'completed' | 'failed';

/** The suite of the held-out evaluations a run records while it trains (its summary carries the step). */
export const HELD_OUT_SUITE = 'held-out';

export interface Evaluation {
  id: number;
  /** The run whose checkpoint was scored; null for the shipped base model or an outside checkpoint. */
  runId: number | null;
  /** null = the shipped base weights. */
  checkpointPath: string | null;
  suite: string;
  status: EvaluationStatus;
  /** Per-task accuracy, overall score and whatever else the evaluator reports (set when completed). */
  summary: JsonObject | null;
  error: string | null;
  createdAt: number;
  finishedAt: number | null;
}

/** One scored image of an evaluation. */
export interface EvalResult {
  id: number;
  evaluationId: number;
  task: string;
  prompt: string;
  /** Which of the prompt's images (0..3 for GenEval-like suites). */
  imageIndex: number;
  correct: boolean;
  reward: number;
  /** The scorer's human-readable reason. */
  reason: string;
  hasImage: boolean;
}

export interface EvalResultQuery extends PageQuery {
  evaluationId: number;
  task?: string;
  /** Failures first (then by id), as the evaluation screen shows them. Default true. */
  failuresFirst?: boolean;
}

// ---------- metrics and log ----------

export interface Metric {
  runId: number;
  step: number;
  name: string;
  value: number;
}

/** Columnar series, ready for uPlot: steps[i] pairs with values[i], ascending by step. */
export interface MetricSeries {
  name: string;
  steps: number[];
  values: number[];
  /**
   * Present when the series was thinned (it spans more steps than maxPoints): the points are the first
   * logged at or after every `stride`-th step from the first, then the last one.
   */
  stride?: number;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface LogEvent {
  id: number;
  /** null for application-wide messages. */
  runId: number | null;
  time: number;
  level: LogLevel;
  message: string;
  data: JsonValue | null;
}

// ---------- lists ----------

export interface PageQuery {
  offset?: number;
  /** Default 50, at most 500. */
  limit?: number;
}

export interface Page<T> {
  items: T[];
  total: number;
  offset: number;
  limit: number;
}

export interface GroupListQuery extends PageQuery {
  runId: number;
  /** Only this step. */
  step?: number;
  /** Steps ascending (default) or newest first. */
  order?: 'asc' | 'desc';
  /** Include discarded groups (hidden by default). */
  discarded?: boolean;
}

/** Where a group stands in a run's list (by step, then id). */
export interface GroupKey {
  step: number;
  id: number;
}

/**
 * A page of a run's groups read by keyset: it starts after a group (`after`, the last one of the page before)
 * or at a step (`fromStep`, for jumping), then skips `offset` rows (a place within that step) and reads only
 * its own rows, however deep in the run it is (an offset page reads past every row it skips, and its total
 * counts them all).
 */
export interface GroupPageQuery extends Omit<GroupListQuery, 'offset'> {
  after?: GroupKey;
  fromStep?: number;
  /** Rows to skip from where the page starts: keep it small (a place within a step). */
  offset?: number;
}

/** A keyset page: its rows, and the key to pass as `after` for the next page (null after the last row). */
export interface KeysetPage<T, K> {
  items: T[];
  next: K | null;
}

export interface MetricSeriesQuery {
  runId: number;
  names: string[];
  /** Only steps strictly greater than this (for live updates). */
  afterStep?: number;
  /**
   * At most about this many points per series (default 1,000: more than a chart has pixels). A longer
   * series is thinned to a point every `stride` steps and says so (MetricSeries.stride).
   */
  maxPoints?: number;
}

export interface RankingQueueQuery {
  annotator: string;
  runId?: number;
  /** Default 10. */
  limit?: number;
}

export interface LogTailQuery {
  runId: number | null;
  /** Default 200. */
  limit?: number;
  /** Only events with a larger id (for live updates). */
  afterId?: number;
}

/** A group with everything the rollout viewer and the ranking screen show. */
export interface GroupDetail extends RolloutGroup {
  samples: Sample[];
  rankings: Ranking[];
  /**
   * Each member's advantage on the automatic rewards alone, in member order: the "before" of what rankings
   * and marks changed (the samples' advantages are the "after"). null when no person's answer reached the
   * group, or for per-round reflection advantages (their baseline is the first image, not stored).
   */
  automaticAdvantages?: number[] | null;
}
