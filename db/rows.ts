// Stored-row types: the columns exactly as SQLite returns them (snake_case, 0/1 booleans, JSON as text,
// blobs as Buffer). Only repositories see these; they map rows to the domain types in contract/domain.ts.
import type { TensorEncoding } from './tensor.ts';
import type {
  EvaluationStatus,
  LogLevel,
  QueueClosed,
  RankingStatus,
  RunStatus,
  SampleRole,
  Scenario,
  TensorDType,
  TrajectoryKind,
  Verdict,
} from '../contract/domain.ts';

export type Bit = 0 | 1;

export interface RunRow {
  id: number;
  name: string;
  scenario: Scenario;
  config: string;
  status: RunStatus;
  step: number;
  created_at: number;
  updated_at: number;
  error: string | null;
}

export interface CheckpointRow {
  id: number;
  run_id: number;
  step: number;
  path: string;
  metadata: string;
  created_at: number;
}

export interface PromptRow {
  id: number;
  run_id: number;
  text: string;
  task: string;
  spec: string;
}

export interface RolloutGroupRow {
  id: number;
  run_id: number;
  step: number;
  prompt_id: number;
  group_size: number;
  zero_std: Bit;
  ranking_status: RankingStatus;
  rankings_needed: number;
  created_at: number;
  discarded_at: number | null;
  /** The queue policy's score of a queued group (higher is shown first); NULL for none. */
  queue_score: number | null;
}

/** A group row joined with its prompt and its members' reward statistics. */
export interface RolloutGroupListRow extends RolloutGroupRow {
  prompt_text: string;
  prompt_task: string;
  queue_reason: string | null;
  queue_closed: QueueClosed | null;
  reward_mean: number | null;
  reward_sq_mean: number | null;
}

export interface SampleRow {
  id: number;
  group_id: number;
  role: SampleRole;
  idx: number;
  parent_sample_id: number | null;
  seed: number;
  text: string | null;
  image_png: Buffer | null;
  image_width: number | null;
  image_height: number | null;
  advantage: number | null;
}

/** SampleRow without the image bytes (lists never load them). */
export type SampleMetaRow = Omit<SampleRow, 'image_png'>;

export interface TrajectoryRow {
  id: number;
  sample_id: number;
  kind: TrajectoryKind;
  label: string;
  noise_seed: number | null;
  sde_seed: number | null;
}

export interface TrajectoryTensorRow {
  trajectory_id: number;
  name: string;
  dtype: TensorDType;
  shape: string;
  data: Buffer;
  encoding: TensorEncoding;
}

export interface RewardComponentRow {
  sample_id: number;
  name: string;
  value: number;
  weight: number;
}

export interface RankingRow {
  id: number;
  group_id: number;
  annotator: string;
  skipped: Bit;
  created_at: number;
  duration_ms: number;
}

export interface RankingEntryRow {
  ranking_id: number;
  sample_id: number;
  rank: number;
}

export interface ReflectionCycleRow {
  id: number;
  sample_id: number;
}

export interface ReflectionRoundRow {
  id: number;
  cycle_id: number;
  round: number;
  judged_sample_id: number;
  refined_sample_id: number | null;
  critique: string;
  verdict: Verdict;
  scorer_verdict: Verdict;
  reward: number | null;
}

export interface EditMarkRow {
  edit_id: number;
  annotator: string;
  followed: Bit;
  created_at: number;
}

export interface CritiqueMarkRow {
  round_id: number;
  annotator: string;
  correct: Bit;
  created_at: number;
}

export interface EditRow {
  id: number;
  edited_sample_id: number;
  source_sample_id: number | null;
  source_png: Buffer | null;
  instruction: string;
  inverse_instruction: string;
  reconstruction_sample_id: number | null;
  compliance: number | null;
  preservation: number | null;
  cycle_score: number | null;
}

export interface MetricRow {
  run_id: number;
  name: string;
  step: number;
  /** NULL stands for NaN. */
  value: number | null;
}

export interface EventRow {
  id: number;
  run_id: number | null;
  time: number;
  level: LogLevel;
  message: string;
  data: string | null;
}

export interface PreferenceModelRow {
  id: number;
  run_id: number;
  version: number;
  path: string;
  train_pairs: number;
  heldout_pairs: number;
  heldout_accuracy: number | null;
  created_at: number;
}

export interface EvaluationRow {
  id: number;
  run_id: number | null;
  checkpoint_path: string | null;
  suite: string;
  status: EvaluationStatus;
  summary: string | null;
  error: string | null;
  created_at: number;
  finished_at: number | null;
}

export interface EvalResultRow {
  id: number;
  evaluation_id: number;
  task: string;
  prompt: string;
  image_index: number;
  correct: Bit;
  reward: number;
  reason: string;
  image_png: Buffer | null;
}
