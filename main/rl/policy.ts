// What the GRPO trainer needs of a model, and of a task source. The trainer (trainer.ts) is written
// against these interfaces only; unified.ts adapts the unified model (main/models) to them, and tests plug in
// small policies of their own.
import type { DrawSeeds, JsonValue, Verdict } from '../../contract/domain.ts';
import type { PatchGrid } from '../../contract/tensors.ts';
import type { ParamStore } from '../engine/runtime/params.ts';
import type { SdeWindow } from '../models/flow.ts';
import type { ImageRGB } from '../world/image.ts';
import type { DmLoss, ModelPart } from './config.ts';
import type { ClipKl } from './losses.ts';
import type { RewardTarget } from './rewards.ts';

/** One prompt of a step: what the model is given, what is stored, and what the rewards check. */
export interface TaskItem {
  /** ShapeWorld task name ('counting', 'vague', 'question', ...). */
  task: string;
  /** The prompt text the model reads. */
  text: string;
  /** Stored with the prompt for the screens (what the scorer checks). */
  spec: JsonValue;
  target: RewardTarget;
  /** An input image (questions about a scene, editing). */
  image?: ImageRGB;
}

export interface TaskSource {
  /** `count` prompts for optimisation step `step` (deterministic in the step). */
  next(count: number, step: number): TaskItem[];
  /** The held-out evaluation prompts (fixed). */
  heldout(): TaskItem[];
}

export interface RolloutOptions {
  groupSize: number;
  sdeSteps: number;
  noiseLevel: number;
  /** Every member of a group starts from the same initial noise. */
  sameNoisePerGroup: boolean;
  temperature: number;
  topP: number;
  maxNewTokens: number;
  /** Seeds each group's sampling (with the group's index). */
  seed: number;
  /** Editing: edit each result back with the inverse instruction (Cycle Edit RL). */
  editCycle: boolean;
  /** Reflection: most critique-and-refine rounds after the first image. */
  reflectionRounds: number;
  /** The SDE only on these steps, the ODE elsewhere (config.rollout.sdeWindow); absent: the SDE on every step. */
  sdeWindow?: SdeWindow;
}

/** The DM's SDE trajectory of one sample (shapes as in the store's convention, contract/domain.ts). */
export interface DmTrajectory {
  /** S+1 latents, each one image in patch layout [N·patchDim] (contract/tensors.ts). */
  latents: Float32Array[];
  /** The image size and patch of the latents. */
  grid: PatchGrid;
  /** What draws it again: the seeds of its initial noise and of its SDE noise. */
  seeds: DrawSeeds;
  /** S means. */
  means: Float32Array[];
  /** [S] log-probs of latents[k+1] (averaged over elements). */
  logProbs: Float32Array;
  /** S+1 times from 1 to 0. */
  times: Float64Array;
  /** [S] std of each step's Gaussian. */
  stds: Float64Array;
  /** The noise level a the trajectory was sampled with (sigma_t = a·sqrt(t / (1 - t))). */
  noiseLevel: number;
}

/** Generated LM tokens and their log-probs at rollout time, under softmax(logits / temperature). */
export interface LmRecord {
  tokenIds: Int32Array;
  logProbs: Float32Array;
  temperature: number;
}

/** An image the DM drew and how. */
export interface DrawnImage {
  image: ImageRGB;
  dm: DmTrajectory;
}

/**
 * What one model call of a sample produced. Roles: 'reasoning' (CoT's text before its image), 'answer' (text
 * and VQA), 'image' (drawn from the prompt), 'edit' (the edited source), 'reverse' (Cycle Edit RL's
 * reconstruction), 'critique' (reflection's judgement of the image before it) and 'refine' (the image a
 * 'wrong' critique asked for).
 */
export type Turn = TextTurn | ImageTurn;

export interface TextTurn {
  kind: 'text';
  role: 'reasoning' | 'answer' | 'critique';
  /** As written (decoded, special tokens kept). */
  text: string;
  lm: LmRecord;
  /** Critiques: the verdict read from the text and the corrected instruction (empty when 'correct'). */
  verdict?: Verdict;
  fix?: string;
}

export interface ImageTurn extends DrawnImage {
  kind: 'image';
  role: 'image' | 'edit' | 'reverse' | 'refine';
}

/** One member of a group: its seed and its model calls in order (a scenario module says which). */
export interface SampleResult {
  /** Seed of this sample's randomness (stored). */
  seed: number;
  turns: Turn[];
}

export const imageTurns = (s: SampleResult): ImageTurn[] => s.turns.filter((t): t is ImageTurn => t.kind === 'image');
export const textTurns = (s: SampleResult): TextTurn[] => s.turns.filter((t): t is TextTurn => t.kind === 'text');
/** The sample's first image (t2i, CoT, reflection's first image, the edited image), if it drew one. */
export const firstImage = (s: SampleResult): ImageTurn | undefined => imageTurns(s)[0];
/** The sample's first text (CoT's reasoning, an answer, reflection's first critique), if it wrote one. */
export const firstText = (s: SampleResult): TextTurn | undefined => textTurns(s)[0];

/** One sample in an update, with its advantage and the DM steps to train this epoch. */
export interface UpdateSample {
  item: TaskItem;
  sample: SampleResult;
  advantage: number;
  /** The advantage of the turns its scenario credits on their own (reflection's first image); `advantage` covers the rest. */
  splitAdvantage?: number;
  /** Indices of the SDE steps to train; the same indices in every DM trajectory of the sample (all have the same steps). */
  dmSteps: number[];
}

/** The terms an update trains, with their settings (config.loss.lm and loss.dm; left-out DM settings take their defaults). */
export interface ObjectiveTerms {
  lm?: ClipKl;
  dm?: ClipKl & Partial<DmLoss>;
}

export interface ObjectiveResult {
  loss: number;
  /** 'policy_loss/lm', 'kl/dm', 'clip_fraction/dm', 'approx_kl/lm', 'entropy/lm', ... */
  metrics: Record<string, number>;
  /** Gradient of every trainable (not frozen) parameter, by name. */
  grads: Record<string, Float32Array>;
}

export interface Policy {
  /** All parameters; the trainer freezes the parts that do not train. */
  readonly params: ParamStore;
  /** Parameter names of a part (empty when the model has no such part). */
  paramsOf(part: ModelPart): string[];
  /** G samples for each item. */
  rollout(items: readonly TaskItem[], options: RolloutOptions): Promise<SampleResult[][]>;
  /**
   * The joint GRPO objective over `batch` (mean over its samples) and the gradients of the trainable
   * parameters; the frozen reference is the policy's weights when the run started.
   */
  objective(batch: readonly UpdateSample[], terms: ObjectiveTerms): Promise<ObjectiveResult>;
  /** Images by the Euler ODE, one per item (evaluation). */
  generate(items: readonly TaskItem[], odeSteps: number, seed: number): Promise<ImageRGB[]>;
  /**
   * Reflection evaluation: per item the first Euler ODE image, then up to `rounds` greedy critiques, each
   * 'wrong' one followed by an ODE refinement. Images first to final; one verdict per critique.
   */
  reflectGreedy?(
    items: readonly TaskItem[],
    odeSteps: number,
    rounds: number,
    seed: number,
  ): Promise<{ images: ImageRGB[]; verdicts: Verdict[] }[]>;
  /** Feature vectors of images for the preference model. */
  features(images: readonly ImageRGB[]): Promise<Float32Array[]>;
  /** String metadata a checkpoint must carry to be loaded again (config, tokenizer). */
  checkpointMetadata(): Record<string, string>;
}
