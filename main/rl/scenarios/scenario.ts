// What a GRPO scenario is, in one place: its prompts, its rollout (which model calls a sample makes), its
// episode (which tokens and which DM steps train, with which advantage), what its rewards see, what it
// stores and how it is evaluated. Each scenario is one module of this folder (index.ts lists them); the
// trainer, the update and the policy are written against this interface only.
import type { Scenario } from '../../../contract/domain.ts';
import type { SampleInput } from '../../../db/repos/samples.ts';
import type { Store } from '../../../db/store.ts';
import type { QuerySet } from '../../models/connector.ts';
import { windowStart } from '../../models/flow.ts';
import type { ImageRGB } from '../../world/image.ts';
import type { Rng } from '../../world/rng.ts';
import type { TrainConfig } from '../config.ts';
import type { DmTrajectory, DrawnImage, LmRecord, Policy, RolloutOptions, SampleResult, TaskItem, UpdateSample } from '../policy.ts';
import type { LatentStorage } from '../records.ts';
import type { RewardComponentDef, RewardContext, RewardSample } from '../rewards.ts';

/** One member of a rollout batch: its prompt, its group's index in the batch and its own seed. */
export interface RolloutRow {
  item: TaskItem;
  group: number;
  seed: number;
}

/** One image request of a rollout batch: the token ids the LM reads (as the update will pack them). */
export interface DrawRequest {
  ids: number[];
  querySet: QuerySet;
  /** Editing and refinement: shown to the LM and given to the DiT as reference. */
  source?: ImageRGB;
}

/** An evaluation image: the formatted text the LM reads, its query set and the source (editing). */
export interface ImageRequest {
  text: string;
  querySet: QuerySet;
  source?: ImageRGB;
}

/** Completions of a batch of prompts: the decoded texts, their token ids and the record the update reads. */
export interface Written {
  texts: string[];
  tokens: number[][];
  records: LmRecord[];
}

/** The model calls a rollout is made of (UnifiedPolicy implements them). */
export interface ModelCalls {
  encode(text: string): number[];
  /** One sampled completion per prompt (the rollout's temperature and top-p), seeded by `seed`. */
  write(prompts: readonly { text: string; image?: ImageRGB }[], o: RolloutOptions, seed: number): Promise<Written>;
  /** One greedy completion per prompt (evaluation). */
  writeGreedy(prompts: readonly { text: string; image?: ImageRGB }[], seed: number): Promise<string[]>;
  /**
   * One SDE image per request, row b seeded by rows[b]; `turn` tells a sample's successive draws apart in
   * the seeds (turn 0 keeps the single-turn seeds).
   */
  draw(requests: readonly DrawRequest[], rows: readonly RolloutRow[], o: RolloutOptions, turn: number): Promise<DrawnImage[]>;
}

/** One LM input the model read: token ids, the image it saw, the meta-query set after it (DM conditions). */
export interface EpisodeSequence {
  ids: number[];
  image?: ImageRGB;
  querySet?: QuerySet;
}

/** What one sample of an update trains, over its own sequences (indices into `sequences`). */
export interface Episode {
  sequences: EpisodeSequence[];
  /** Completions: the tokens after the first `promptLength` ids of sequence `seq`. */
  lm: { seq: number; promptLength: number; record: LmRecord }[];
  /**
   * DM trajectories conditioned on sequence `seq`, with `source` as the DiT reference (none: grey), and their own advantage
   * (none: the sample's).
   */
  dm: { seq: number; source?: ImageRGB; trajectory: DmTrajectory; advantage?: number }[];
}

/** A held-out image with the scorer's verdict (stored as an evaluation of the run). */
export interface ScoredImage {
  item: TaskItem;
  image: ImageRGB;
  verdict: { correct: boolean; reward: number; reason: string };
}

export interface EvalEnv {
  cfg: TrainConfig;
  seed: number;
  components?: readonly RewardComponentDef[];
}

export interface ScenarioModule {
  readonly name: Scenario;
  /** The LM writes completions (trained by the LM term when the LM trains). */
  readonly writes: boolean;
  /** The DM draws images (the update's sequences carry meta-queries and condition the DiT). */
  readonly draws: boolean;
  /** How many kinds of prompt it cycles through (the held-out set has promptsPerTask of each). */
  readonly taskKinds: number;
  /** The index-th prompt of a stream, drawn from `rng`. */
  task(rng: Rng, index: number): TaskItem;
  /** The formatted prompt of the sample's first model call. */
  prompt(item: TaskItem): string;
  rollout(model: ModelCalls, rows: readonly RolloutRow[], o: RolloutOptions): Promise<SampleResult[]>;
  /** Evaluation images: the ODE image requests for the items (scenarios that draw). */
  imagePrompts?(model: ModelCalls, items: readonly TaskItem[], seed: number): Promise<ImageRequest[]>;
  episode(encode: (text: string) => number[], u: UpdateSample): Episode;
  /** What the reward components see of a sample. */
  rewardSample(s: SampleResult): RewardSample;
  /**
   * Rewards of the turns it credits on their own (reflection's first image, per-round mode), one per member,
   * with the weight they carry in the total; undefined when the whole sample shares one advantage.
   */
  splitRewards?(
    samples: readonly SampleResult[],
    item: TaskItem,
    cfg: TrainConfig,
    components: readonly RewardComponentDef[],
    ctx: RewardContext,
  ): { rewards: number[]; weight: number } | undefined;
  /** The member's stored form. */
  member(s: SampleResult, base: Pick<SampleInput, 'rewards' | 'advantage'>, storage: LatentStorage): SampleInput;
  /** The images derived from a stored member and the edit or reflection record (the caller holds the transaction). */
  recordDerived?(store: Store, memberId: number, item: TaskItem, s: SampleResult, storage: LatentStorage): void;
  /** Held-out evaluation: the eval/ metrics, and the images (if any) with their verdicts. */
  evaluate(policy: Policy, items: readonly TaskItem[], env: EvalEnv): Promise<{ metrics: Record<string, number>; scored: ScoredImage[] }>;
}

/**
 * The policy's rollout options from a run's config (the seed, and anything else given, from `overrides`);
 * the SDE window's start follows from the seed, so a step's draws can be made again.
 */
export function rolloutOptionsOf(cfg: TrainConfig, overrides: Partial<RolloutOptions> & { seed: number }): RolloutOptions {
  const r = cfg.rollout;
  const window = r.sdeWindow ? { start: windowStart(r.sdeWindow, overrides.seed, r.sdeSteps), size: r.sdeWindow.size } : undefined;
  return {
    groupSize: r.groupSize,
    sdeSteps: r.sdeSteps,
    noiseLevel: r.noiseLevel,
    sameNoisePerGroup: r.sameNoisePerGroup,
    temperature: r.temperature,
    topP: r.topP,
    maxNewTokens: r.maxNewTokens,
    editCycle: cfg.edit.cycle,
    reflectionRounds: cfg.reflect.rounds,
    ...(window ? { sdeWindow: window } : {}),
    ...overrides,
  };
}

export function need<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new Error(message);
  return value;
}
