// The GRPO trainer's one typed config: every knob with its default and why, validated with zod, and a
// preset per scenario. No Node imports: the renderer's run form validates with the same schema.
import { z } from 'zod';
import { EXECUTION_PROVIDERS } from '../../contract/api.ts';
import { SCENARIOS, type Scenario } from '../../contract/domain.ts';
import { ADVANTAGE_MODES, type AdvantageOptions } from './advantages.ts';

/** Trainable parts of the unified model (REFERENCE §1). The vision encoder stays frozen unless asked. */
export const MODEL_PARTS = ['lm', 'vision', 'genQueries', 'editQueries', 'connector', 'dm'] as const;
export type ModelPart = (typeof MODEL_PARTS)[number];

/** Optimizer parameter group of each part: the paper gives the LM its own (smaller) learning rate. */
export const PARAM_GROUP_OF_PART: Readonly<Record<ModelPart, 'lm' | 'dm'>> = {
  lm: 'lm',
  vision: 'lm',
  genQueries: 'dm',
  editQueries: 'dm',
  connector: 'dm',
  dm: 'dm',
};

/** Reward components a run can weigh (rewards.ts computes them; weight 0 = not computed). */
export const REWARD_COMPONENTS = [
  'shapeEval',
  'format',
  'answer',
  'humanRank',
  'preference',
  'editCompliance',
  'editPreservation',
  'cycle',
  'improvement',
  'critique',
  'critiqueMark',
  'editMark',
] as const;
export type RewardComponentName = (typeof REWARD_COMPONENTS)[number];

/** The components people's answers feed: rankings (directly and through the learned preference model) and marks. */
export const HUMAN_REWARDS = ['humanRank', 'preference', 'critiqueMark', 'editMark'] as const satisfies readonly RewardComponentName[];

/**
 * Weights a run with people in the loop gets unless it sets its own: docs/results.md measured automatic :
 * human rank : preference = 1 : 0.25 : 0.25 (object area 1.5x the base with ShapeEval 0.295 -> 0.212; at
 * 1 : 1 : 1 the taste won over correctness, 0.101).
 */
export const HUMAN_DEFAULT_WEIGHTS: Readonly<Partial<Record<RewardComponentName, number>>> = { humanRank: 0.25, preference: 0.25 };

/** How the trainer orders the groups it sends to people (each gets a score and a reason the queue shows). */
export const QUEUE_POLICIES = ['random', 'uncertain', 'disagreement', 'spread'] as const;
export type QueuePolicy = (typeof QUEUE_POLICIES)[number];

/**
 * One default group per pass of the update. Peak memory of `unirl train --steps 3 --threads 1` on the base
 * model (/usr/bin/time): edit 7.0 GB in one pass of 32 samples, 2.2 GB in passes of 8; reflect 4.1 -> 2.5
 * GB; the same speed.
 */
export const DEFAULT_SAMPLES_PER_PASS = 8;

const positive = () => z.number().positive();
const nonNegative = () => z.number().nonnegative();
/** A count with bounds: large enough for any real run, small enough that a typo fails here, not as bad_alloc later. */
const count = (min = 1, max = 1_000_000) => z.number().int().min(min).max(max);
/** Samples one step's rollouts hold in memory until the update (prompts x group size). */
export const MAX_ROLLOUT_SAMPLES = 4096;

const rolloutSchema = z.strictObject({
  /** Prompts per optimisation step (each gives one group). */
  promptsPerStep: count(1, 1024).default(4),
  /** G: samples per prompt; advantages are normalised within a group. */
  groupSize: count(2, 256).default(8),
  /** Denoising steps of the Flow-GRPO SDE sampler in rollouts ("denoising reduction"). */
  sdeSteps: count(1, 1000).default(10),
  /** a in sigma_t = a * sqrt(t / (1 - t)). */
  noiseLevel: positive().default(0.7),
  /** Same initial noise for every member of a group (DanceGRPO): reward differences come from the policy's noise only. */
  sameNoisePerGroup: z.boolean().default(true),
  /** Fraction of the trained denoising steps used per update, drawn at random per sample (DanceGRPO 0.6; 1 = all). */
  timestepFraction: z.number().gt(0).max(1).default(0.6),
  /**
   * SDE only on a window of the trajectory, the deterministic Euler (ODE) step elsewhere (Flow-GRPO-Fast,
   * MixGRPO): only the window's steps have a log-prob to train. null = the SDE on every step. `start`
   * 'random' = drawn per optimisation step from the step's seed, in the first half of the trajectory as
   * Flow-GRPO's fast config does (flow.ts windowStart).
   */
  sdeWindow: z
    .strictObject({
      size: count(1, 1000),
      start: z.union([count(0, 999), z.literal('random')]).default('random'),
    })
    .nullable()
    .default(null),
  /** Leave the last SDE step out of training: its likelihood blows up as t -> 0. */
  dropLastStep: z.boolean().default(true),
  /** LM sampling. */
  temperature: positive().default(1),
  topP: z.number().gt(0).max(1).default(1),
  maxNewTokens: count(1, 1024).default(48),
  /** Store DM latents at all (by `storage.trajectories`); off stores log-probs, seeds and the final image only. */
  storeLatents: z.boolean().default(true),
});

/**
 * What a run keeps on disk (issue 21). The update needs a step's full tensors in memory only; people look at
 * few of them later, and a sample's filmstrip can be drawn again from a checkpoint and its stored seeds.
 */
const storageSchema = z.strictObject({
  /**
   * Which samples keep their DM latents: 'viewed' = the groups sent to ranking and a sampled fraction of the
   * rest (every other sample keeps its seeds and is re-drawn on demand); 'all' = every sample, with the SDE
   * means too; 'none' = no sample.
   */
  trajectories: z.enum(['viewed', 'all', 'none']).default('viewed'),
  /** 'viewed': the fraction of the other groups kept in full (picked by the run's seed and the step). */
  sampledFraction: z.number().min(0).max(1).default(0.02),
  /** How kept latents are stored: 'q8' (8 bits per value with each frame's range, deflated), 'float16' (deflated), 'float32'. */
  encoding: z.enum(['q8', 'float16', 'float32']).default('q8'),
  /** Checkpoints with optimizer state (to resume from): the latest N are kept. */
  keepLatest: count().default(2),
  /** Keep the checkpoint with the best held-out evaluation (weights only). */
  keepBest: z.boolean().default(true),
  /** Keep a weights-only checkpoint every K steps (for the step slider and comparisons; 0 = none). */
  snapshotEvery: count(0).default(250),
});

const lmLossSchema = z.strictObject({
  /** PPO clip epsilon on the token ratio. */
  clipRange: positive().default(0.2),
  /** Weight of the k3 KL to the frozen reference LM. */
  klBeta: nonNegative().default(0.01),
});

const dmLossSchema = z.strictObject({
  /**
   * The DM objective (rl/objectives/): 'flowGrpo' (PPO-clip on the SDE steps' likelihood ratios) or 'nft'
   * (DiffusionNFT: flow matching on the forward process toward positives and away from negatives).
   */
  objective: z.enum(['flowGrpo', 'nft']).default('flowGrpo'),
  /** Flow-GRPO: PPO clip epsilon on the per-step ratio; tiny, as in Flow-GRPO's code (per-step Gaussian ratios are sharp). */
  clipRange: positive().default(1e-4),
  /**
   * Weight of the KL to the reference: flowGrpo ||mu - mu_ref||^2 / (2 sigma_t^2 |dt|) (4e-3 for T2I/CoT, 4e-2 for editing);
   * nft mean (v - v_ref)^2.
   */
  klBeta: nonNegative().default(4e-3),
  /** DiffusionNFT's beta: how far the implicit positive and negative policies stand from the sampling one. */
  nftBeta: positive().default(1),
  /** DiffusionNFT: the paper's self-normalised x0-space error (true) or plain velocity flow matching. */
  adaptiveWeight: z.boolean().default(true),
  /**
   * DiffusionNFT's old policy is an EMA of the trained weights: after update n, old <- d·old + (1-d)·theta with
   * d = min(0.001·n, nftOldDecay) (the paper's 0.5); 0 = the weights before each update.
   */
  nftOldDecay: z.number().min(0).lt(1).default(0.5),
});

export type DmLoss = z.output<typeof dmLossSchema> & { advantageClip?: number };
/** The DM loss settings a caller leaves out (a test's bare { clipRange, klBeta }). */
export const DM_LOSS_DEFAULTS: DmLoss = dmLossSchema.parse({});
export type LmLoss = z.output<typeof lmLossSchema>;

const lossSchema = z.strictObject({
  /** Advantages are clamped to [-advantageClip, advantageClip]. */
  advantageClip: positive().default(5),
  /** Added to the group std before dividing. */
  stdEps: positive().default(1e-4),
  /**
   * How a group's rewards become advantages (advantages.ts): 'groupStd' (GRPO) divides by the group's std;
   * 'globalStd' by the std of the step's whole batch (Flow-GRPO's fast config); 'none' (Dr. GRPO) keeps
   * A = r - mean, so a group whose rewards differ only a little (every edit compliant, similarities apart
   * by noise) weighs little instead of getting the same unit advantages as a group split by compliance;
   * 'winRate' (Pref-GRPO) keeps only the order within the group. Replaces `scaleByStd` (false = 'none'),
   * which configs stored before still say: upgradeLegacyConfig reads it.
   */
  advantage: z.enum(ADVANTAGE_MODES).default('groupStd'),
  lm: lmLossSchema.prefault({}),
  dm: dmLossSchema.prefault({}),
});

const optimSchema = z.strictObject({
  /** Base learning rate per parameter group (see PARAM_GROUP_OF_PART). */
  lr: z.strictObject({ lm: nonNegative().default(1e-5), dm: nonNegative().default(1e-5) }).prefault({}),
  weightDecay: nonNegative().default(0),
  betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.999]),
  /** Global gradient-norm clip (over every trained parameter). */
  gradClip: positive().default(1),
  /** Optimisation passes over one batch of rollouts (the ratio departs from 1 after the first). */
  epochsPerBatch: count().default(1),
  /** Linear warmup steps of the learning rate (0 = constant from the start). */
  warmupSteps: count(0).default(0),
});

const humanSchema = z.strictObject({
  /** off: automatic rewards only; sync: wait until each batch's groups are ranked; async: rankings join later updates. */
  mode: z.enum(['off', 'sync', 'async']).default('off'),
  /** async: a ranking of a group older than this many steps is not used for a policy update any more. */
  stalenessLimit: count(0).default(4),
  /** Rankings (not skips) a group needs before it counts as ranked. */
  rankingsPerGroup: count().default(1),
  /** Fraction of each step's groups sent to the ranking queue. */
  groupFraction: z.number().min(0).max(1).default(1),
  /** sync: give up waiting after this many minutes (the step then uses the automatic rewards alone). */
  syncTimeoutMinutes: positive().default(60),
  /**
   * Which groups people see first: random; uncertain: the preference model is least sure of its order
   * (mean over pairs of 1 - |2 sigma(s_i - s_j) - 1|); disagreement: the preference model and the automatic
   * reward order the group most differently (1 - Kendall's tau); spread: the largest reward std. The last
   * three fall back to spread until a preference model exists.
   */
  queue: z.enum(QUEUE_POLICIES).default('random'),
  /**
   * full: rank every sample; bestWorst: pick the best and the worst, the rest tie between;
   * topK: rank the best `topK`, the rest tie after.
   */
  answer: z.enum(['full', 'bestWorst', 'topK']).default('full'),
  topK: count().default(3),
});

const preferenceSchema = z.strictObject({
  /** Hidden width of the Bradley-Terry head (0 = linear). */
  hidden: count(0).default(32),
  lr: positive().default(1e-2),
  epochs: count().default(200),
  l2: nonNegative().default(1e-4),
  /** Fraction of pairs (by group) held out to measure pair accuracy. */
  heldoutFraction: z.number().min(0).lt(1).default(0.2),
  /** Retrain once this many new pairs arrived. */
  retrainEvery: count().default(16),
  /** Do not score with a model trained on fewer pairs. */
  minPairs: count().default(8),
});

const editSchema = z.strictObject({
  /**
   * Cycle Edit RL: edit every result back with the inverse instruction, reward the reconstruction
   * (rewards.cycle) and train the reverse trajectory with the sample's advantage. Off: no inverse edit,
   * and the cycle weight is ignored (compliance, and preservation if weighted, alone).
   */
  cycle: z.boolean().default(true),
});

const reflectSchema = z.strictObject({
  /** K: most critique -> refine rounds after the first image (a round ends the cycle when the LM says the image is right). */
  rounds: count().default(2),
  /**
   * perRound: the first image's DM steps get the advantage of its own ShapeEval reward within the group
   * (every member has a first image, so the baseline is sound), and the critiques and refinements that of
   * what they added: the total less the shapeEval weight times the first image's reward. shared: one
   * advantage for the whole cycle, which also pays the first image for the improvement term: a worse
   * first try leaves more to fix (docs/results.md).
   */
  advantage: z.enum(['perRound', 'shared']).default('perRound'),
});

const weightsShape = Object.fromEntries(REWARD_COMPONENTS.map((name) => [name, z.number().finite().default(0)])) as Record<
  RewardComponentName,
  z.ZodDefault<z.ZodNumber>
>;

export const trainConfigSchema = z.strictObject({
  scenario: z.enum(SCENARIOS as unknown as [Scenario, ...Scenario[]]),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(0),
  model: z
    .strictObject({
      /** Model preset (main/models/config.ts): 'nano' for tests, 'base' for the shipped default. */
      preset: z.enum(['nano', 'base']).default('base'),
      /** Start from this checkpoint instead of the shipped weights. */
      checkpoint: z.string().min(1).nullable().default(null),
    })
    .prefault({}),
  runtime: z
    .strictObject({
      provider: z.enum(EXECUTION_PROVIDERS).default('cpu'),
      /** ORT intra-op threads; 0 = one per core. */
      threads: count(0, 256).default(0),
      /**
       * The update runs the batch through the model this many samples at a time and adds up the gradients:
       * the same update, with peak memory set by the pass instead of the batch (prompts x group size).
       */
      samplesPerPass: count(1, MAX_ROLLOUT_SAMPLES).default(DEFAULT_SAMPLES_PER_PASS),
    })
    .prefault({}),
  /** Stop after this many optimisation steps... */
  steps: count().default(100),
  /** ...or after this many minutes, whichever comes first (null = no time limit). */
  minutes: positive().nullable().default(null),
  rollout: rolloutSchema
    .refine((r) => r.promptsPerStep * r.groupSize <= MAX_ROLLOUT_SAMPLES, {
      error: (issue) => {
        const r = issue.input as { promptsPerStep: number; groupSize: number };
        return (
          `promptsPerStep x groupSize is ${r.promptsPerStep * r.groupSize} samples a step; ` +
          `at most ${MAX_ROLLOUT_SAMPLES} samples (each holds its trajectory in memory until the update)`
        );
      },
    })
    .refine((r) => !r.sdeWindow || (r.sdeWindow.start === 'random' ? 0 : r.sdeWindow.start) + r.sdeWindow.size <= r.sdeSteps, {
      path: ['sdeWindow'],
      error: (issue) => {
        const r = issue.input as z.output<typeof rolloutSchema>;
        return `the SDE window (start ${r.sdeWindow!.start}, size ${r.sdeWindow!.size}) ends after the trajectory's ${r.sdeSteps} steps`;
      },
    })
    .prefault({}),
  loss: lossSchema.prefault({}),
  optim: optimSchema.prefault({}),
  /** Parts whose parameters train; the rest stay frozen. */
  train: z
    .array(z.enum(MODEL_PARTS))
    .min(1)
    .refine((parts) => new Set(parts).size === parts.length, 'parts must not repeat'),
  /** Weight of each reward component in the total reward (0 = off). */
  rewards: z
    .strictObject(weightsShape)
    .prefault({})
    .refine((w) => Object.values(w).some((v) => v !== 0), 'at least one reward weight must be non-zero'),
  human: humanSchema.prefault({}),
  preference: preferenceSchema.prefault({}),
  /** Editing scenario. */
  edit: editSchema.prefault({}),
  /** Reflection scenario. */
  reflect: reflectSchema.prefault({}),
  eval: z
    .strictObject({
      /** Evaluate on a held-out ShapeEval subset every K steps (0 = never). */
      every: count(0).default(10),
      /** Euler ODE steps for evaluation images. */
      odeSteps: count(1, 1000).default(40),
      /** Prompts per task in the held-out subset. */
      promptsPerTask: count().default(8),
    })
    .prefault({}),
  /** Save a checkpoint every N steps (and always at stop). */
  checkpointEvery: count().default(25),
  storage: storageSchema.prefault({}),
});

export type TrainConfig = z.output<typeof trainConfigSchema>;
/** What a user or a preset writes: any field may be left out (deeply). */
export type TrainConfigInput = DeepPartial<z.input<typeof trainConfigSchema>>;
type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/**
 * Per-scenario presets. Learning rates: the paper's scripts use 1e-5 (T2I, edit) and, for CoT, 3e-6
 * (DM + connector + queries) with 5e-7 (LM) on billion-parameter experts; text/VQA rates are not in its
 * scripts, so we use the T2I rate. Small models tolerate larger rates: raise them with --config.
 */
export const PRESETS: Readonly<Record<Scenario, TrainConfigInput>> = {
  t2i: {
    train: ['genQueries', 'connector', 'dm'],
    // bench:rl (docs/results.md), 12 CPU-minutes each from base v2: DiffusionNFT with global-std advantages
    // +0.094 ShapeEval, Flow-GRPO at the paper's lr 1e-5 +0.042, at 3e-5 +0.063, Flow-GRPO-Fast +0.031.
    optim: { lr: { dm: 3e-5 } },
    loss: { dm: { objective: 'nft', klBeta: 1e-4 }, advantage: 'globalStd' },
    rewards: { shapeEval: 1 },
  },
  cot: {
    train: ['lm', 'genQueries', 'connector', 'dm'],
    // docs/results.md, 113 steps from base v2, vague suite with reasoning: DiffusionNFT with global-std
    // advantages at DM lr 3e-5 0.575 -> 0.665 (+0.090 ± 0.019); Flow-GRPO at the paper's 3e-6 0.588 (+0.013).
    optim: { lr: { lm: 5e-7, dm: 3e-5 } },
    loss: { dm: { objective: 'nft', klBeta: 1e-4 }, advantage: 'globalStd' },
    // The GenEval reward plus a format reward for the reasoning tags, as in their CoT code.
    rewards: { shapeEval: 1, format: 0.5 },
  },
  text: {
    train: ['lm'],
    optim: { lr: { lm: 1e-5 } },
    rewards: { answer: 1, format: 0.5 },
  },
  vqa: {
    train: ['lm'],
    optim: { lr: { lm: 1e-5 } },
    rewards: { answer: 1, format: 0.5 },
  },
  edit: {
    train: ['editQueries', 'connector', 'dm'],
    // docs/results.md: with GRPO's std scaling, edits did not improve (0.80 -> 0.79 in 266 steps at DM lr
    // 5e-5; -> 0.76 in 200 at 1e-4): most members of a group are compliant, and the scaling blew their
    // similarity noise up to unit advantages. Unscaled advantages (Dr. GRPO) and 8 prompts a step gained
    // 0.80 -> 0.83 in 194 steps at 5e-5.
    optim: { lr: { dm: 5e-5 } },
    rollout: { promptsPerStep: 8 },
    // The paper's KL of 3e-4 let our DM drift: ODE edits lost preservation while the SDE reward held
    // (docs/results.md); 4e-2 kept them intact on the same items while the reward rose more. DiffusionNFT
    // (same KL, unscaled advantages) gained 0.799 -> 0.859 in 100 steps from base v2, Flow-GRPO 0.816.
    loss: { dm: { objective: 'nft', klBeta: 4e-2 }, advantage: 'none' },
    // Cycle Edit RL: 4 x direction + 1 x reconstruction similarity, with direction = compliance and
    // preservation (the edit verdict needs both: a right object in a changed scene is a wrong edit).
    // editMark: people's "instruction followed / not" on the Edits screen, +1 / -1, in a later update.
    rewards: { editCompliance: 4, editPreservation: 2, cycle: 1, editMark: 1 },
  },
  reflect: {
    // The refinement is an edit of the judged image with the critique's corrected instruction (edit queries).
    train: ['lm', 'genQueries', 'editQueries', 'connector', 'dm'],
    // docs/results.md, 263 steps from base v2 with per-round advantages: DiffusionNFT with global std at LM
    // 1e-5 / DM 2e-5 took the refine suite's final accuracy 0.596 -> 0.638 (first image 0.500 -> 0.604);
    // Flow-GRPO at the same rates 0.588 (first 0.542).
    optim: { lr: { lm: 1e-5, dm: 2e-5 } },
    loss: { dm: { objective: 'nft', klBeta: 1e-4 }, advantage: 'globalStd' },
    // A critique and its corrected instruction run to ~40 words: room to finish both.
    rollout: { maxNewTokens: 64 },
    // The final image's ShapeEval reward, its gain over the first image, and the critiques' correctness.
    // critiqueMark: people's "critique right / wrong" on the Reflections screen, +1 / -1, in a later update.
    rewards: { shapeEval: 1, improvement: 1, critique: 1, critiqueMark: 0.5 },
  },
};

/** Small sizes for tests and smoke runs on the nano model (seconds per step). */
export const NANO_OVERRIDES: TrainConfigInput = {
  model: { preset: 'nano' },
  runtime: { threads: 1 },
  steps: 2,
  rollout: { promptsPerStep: 2, groupSize: 4, sdeSteps: 4, maxNewTokens: 8 },
  eval: { every: 0, odeSteps: 4, promptsPerTask: 1 },
  checkpointEvery: 1,
};

export class ConfigError extends Error {
  constructor(
    /** Dotted path of the first bad field, e.g. 'loss.dm.clipRange'. */
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Validates a complete config object (e.g. one read back from the store); throws ConfigError naming the field. */
export function parseTrainConfig(value: unknown): TrainConfig {
  const result = trainConfigSchema.safeParse(upgradeLegacyConfig(value));
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const field = issue.path.map(String).join('.') || '(config)';
    return { field, text: `config.${field}: ${issue.message}` };
  });
  throw new ConfigError(lines[0]!.field, lines.map((l) => l.text).join('; '));
}

/**
 * The config of a run: the scenario preset, then each override in order (later wins; objects merge
 * deeply, arrays and scalars replace), validated. Throws ConfigError naming the first bad field.
 */
export function resolveTrainConfig(scenario: Scenario, ...overrides: readonly unknown[]): TrainConfig {
  if (!SCENARIOS.includes(scenario))
    throw new ConfigError('scenario', `config.scenario: must be one of ${SCENARIOS.join(', ')}, got '${String(scenario)}'`);
  let merged: unknown = { ...PRESETS[scenario], scenario };
  for (const [i, override] of overrides.entries()) {
    if (override === undefined) continue;
    if (!isPlainObject(override)) throw new ConfigError('(config)', `config override ${i}: must be a JSON object`);
    if (override.scenario !== undefined && override.scenario !== scenario) {
      throw new ConfigError('scenario', `config.scenario: the override says '${String(override.scenario)}' but the run is '${scenario}'`);
    }
    merged = deepMerge(merged, upgradeLegacyConfig(override) as Record<string, unknown>);
  }
  return checkHumanWeights(parseTrainConfig(withHumanDefaults(merged)));
}

/**
 * A config written before a field was renamed, in today's words (runs store their config in SQLite, and
 * scripts and saved overrides keep the old names): `loss.scaleByStd` true / false is `loss.advantage`
 * 'groupStd' / 'none'. Applied to each override before merging, so a later override's old name still
 * wins over an earlier one's new name. Saying both in one object is refused.
 */
function upgradeLegacyConfig(value: unknown): unknown {
  if (!isPlainObject(value) || !isPlainObject(value.loss) || !('scaleByStd' in value.loss)) return value;
  const { scaleByStd, ...loss } = value.loss;
  const refuse = (why: string) => new ConfigError('loss.scaleByStd', `config.loss.scaleByStd: ${why}`);
  if (typeof scaleByStd !== 'boolean') throw refuse('expected a boolean (it is now loss.advantage)');
  if (loss.advantage !== undefined) throw refuse(`replaced by loss.advantage (${ADVANTAGE_MODES.join(', ')}); give only loss.advantage`);
  return { ...value, loss: { ...loss, advantage: scaleByStd ? 'groupStd' : 'none' } };
}

/** What advantages.ts needs of a run's loss config. */
export function advantageOptions(loss: TrainConfig['loss']): AdvantageOptions {
  return { mode: loss.advantage, stdEps: loss.stdEps, clip: loss.advantageClip };
}

/** People in the loop: the human rewards get HUMAN_DEFAULT_WEIGHTS where the config does not weigh them. */
function withHumanDefaults(merged: unknown): unknown {
  if (!isPlainObject(merged)) return merged;
  const human = isPlainObject(merged.human) ? merged.human : {};
  if (human.mode === undefined || human.mode === 'off') return merged;
  const rewards = isPlainObject(merged.rewards) ? merged.rewards : {};
  return { ...merged, rewards: { ...HUMAN_DEFAULT_WEIGHTS, ...rewards } };
}

/** A run that waits for people while their rankings weigh nothing would waste their time: refused. */
export function checkHumanWeights(config: TrainConfig): TrainConfig {
  const { mode } = config.human;
  const { humanRank, preference } = config.rewards;
  if (mode === 'sync' && humanRank === 0) {
    throw new ConfigError(
      'rewards.humanRank',
      "config.rewards.humanRank: human.mode 'sync' waits for people's rankings, but their weight is 0, so they would change nothing; " +
        "give rewards.humanRank a weight (e.g. 0.25) or set human.mode to 'async' or 'off'",
    );
  }
  if (mode === 'async' && humanRank === 0 && preference === 0) {
    throw new ConfigError(
      'rewards.humanRank',
      "config.rewards.humanRank: human.mode 'async' sends groups to people, but rewards.humanRank and rewards.preference weigh 0, " +
        "so rankings would change nothing; give one a weight (e.g. 0.25) or set human.mode to 'off'",
    );
  }
  return config;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: unknown, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = isPlainObject(base) ? { ...base } : {};
  for (const [key, value] of Object.entries(patch)) {
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? deepMerge(out[key], value) : value;
  }
  return out;
}

/** The reward weights a run uses: config.rewards, with the cycle term off when editing without the inverse edit. */
export function rewardWeights(config: TrainConfig): Record<RewardComponentName, number> {
  return config.edit.cycle ? config.rewards : { ...config.rewards, cycle: 0 };
}

/** Names of the reward components with a non-zero weight. */
export function activeRewards(config: TrainConfig): RewardComponentName[] {
  const weights = rewardWeights(config);
  return REWARD_COMPONENTS.filter((name) => weights[name] !== 0);
}
