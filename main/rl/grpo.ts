// One GRPO step, the algorithm alone (REFERENCE §1): rollout -> rewards -> advantages -> steps to train ->
// objective -> clip -> optimizer step -> metrics. Model-agnostic (a `Policy`), scenario-agnostic (its
// module says what a sample is) and free of the store, of people and of evaluation: the trainer's hook
// `scored` is where the recorder stores the groups and people's rankings may change their rewards.
import type { RewardComponent } from '../../contract/domain.ts';
import type { AdamW } from '../engine/optim/adamw.ts';
import { clipGradNorm } from '../engine/optim/clip.ts';
import { trainableSteps } from '../models/flow.ts';
import { mixSeeds, Rng } from '../world/rng.ts';
import { batchAdvantages } from './advantages.ts';
import { advantageOptions, rewardWeights, type TrainConfig } from './config.ts';
import { firstImage, type ObjectiveTerms, type Policy, type SampleResult, type TaskItem, type UpdateSample } from './policy.ts';
import { computeRewards, REWARD_COMPONENT_DEFS, totalReward, type RewardComponentDef, type RewardContext } from './rewards.ts';
import { rolloutOptionsOf, type ScenarioModule } from './scenarios/scenario.ts';
import { meanStd } from './stats.ts';

/** A prompt's G samples with their rewards and advantages (ids once the recorder stored them). */
export interface ScoredGroup {
  step: number;
  item: TaskItem;
  samples: SampleResult[];
  rewards: RewardComponent[][];
  advantages: number[];
  zeroStd: boolean;
  /** Rewards and advantages of the turns the scenario credits on their own (reflection's first image). */
  split?: { rewards: number[]; weight: number; advantages: number[] };
  /**
   * The spread of its step's rewards (loss.advantage 'globalStd' normalises by it, also when people's answers change the
   * rewards later).
   */
  batchStd?: number;
  /** Image features (the preference reward's input), when the run uses them. */
  features?: Float32Array[];
  groupId?: number;
  sampleIds?: number[];
}

export interface GrpoEnv {
  cfg: TrainConfig;
  policy: Policy;
  scenario: ScenarioModule;
  optimizer: Pick<AdamW, 'step'>;
  components?: readonly RewardComponentDef[];
  /** Compute image features for the preference reward (and the ranking queue). */
  wantsFeatures: boolean;
  checkCancelled(): void;
}

export interface StepHooks {
  /** Rewards that arrive from outside the rollout (the learned preference model). */
  rewardContext(): RewardContext;
  /**
   * Called once the step's groups are scored: the recorder stores them; people's answers may change their
   * rewards (then their advantages are recomputed); returns earlier groups to train again with new advantages.
   */
  scored(groups: ScoredGroup[], metrics: Record<string, number>): Promise<ScoredGroup[]>;
}

/** One GRPO step on `items`; the metrics of its rewards and its update. */
export async function grpoStep(
  env: GrpoEnv,
  step: number,
  items: readonly TaskItem[],
  hooks: StepHooks,
): Promise<{ groups: ScoredGroup[]; metrics: Record<string, number> }> {
  const { cfg, policy } = env;
  const metrics: Record<string, number> = {};
  const t0 = performance.now();
  const rolled = await policy.rollout(items, rolloutOptionsOf(cfg, { seed: mixSeeds(cfg.seed, step) }));
  metrics['time/rollout'] = (performance.now() - t0) / 1000;
  env.checkCancelled();

  const groups: ScoredGroup[] = [];
  for (const [i, item] of items.entries()) groups.push(await scoreGroup(env, step, item, rolled[i]!, hooks.rewardContext()));
  assignAdvantages(groups, cfg);
  const replay = await hooks.scored(groups, metrics);
  Object.assign(metrics, rewardMetrics(groups));

  const t1 = performance.now();
  const trained = [...groups.filter(isTrained), ...replay];
  if (trained.length > 0) Object.assign(metrics, await update(env, trained, step));
  metrics['time/update'] = (performance.now() - t1) / 1000;
  return { groups, metrics };
}

/** A group with a training signal: some spread in its rewards (or in its split turns' rewards). */
export function isTrained(g: ScoredGroup): boolean {
  return !g.zeroStd || !!g.split?.advantages.some((a) => a !== 0);
}

/** The group's rewards (weighted components) and advantages. */
async function scoreGroup(env: GrpoEnv, step: number, item: TaskItem, samples: SampleResult[], ctx: RewardContext): Promise<ScoredGroup> {
  const { cfg, scenario } = env;
  if (samples.length !== cfg.rollout.groupSize)
    throw new Error(`policy.rollout gave ${samples.length} samples for '${item.text}', expected ${cfg.rollout.groupSize}`);
  const seen = samples.map((s) => scenario.rewardSample(s));
  // The features of the member's own image (the one stored and shown for ranking; reflection's first image).
  const images = samples.map((s) => firstImage(s)?.image);
  const features = env.wantsFeatures && images.every((im) => im) ? await env.policy.features(images.map((im) => im!)) : undefined;
  const rewards = computeRewards(
    seen.map((s, k) => ({ ...s, ...(features ? { features: features[k]! } : {}) })),
    item.target,
    rewardWeights(cfg),
    ctx,
    env.components,
  );
  const split = scenario.splitRewards?.(samples, item, cfg, env.components ?? REWARD_COMPONENT_DEFS, ctx);
  return {
    step,
    item,
    samples,
    rewards,
    advantages: [],
    zeroStd: false,
    ...(features ? { features } : {}),
    ...(split ? { split: { ...split, advantages: [] } } : {}),
  };
}

/**
 * Advantages of groups scored together (one step, or one group again once people answered on it), by
 * `loss.advantage`. What is normalised: each member's total reward, less (with a split) the weighted reward
 * of the turns credited on their own: total = w·first + [the rest], the rest is what the other turns
 * earned; the split turns' rewards are normalised on their own.
 */
export function assignAdvantages(groups: readonly ScoredGroup[], cfg: TrainConfig): void {
  const options = advantageOptions(cfg.loss);
  const totals = groups.map((g) => g.rewards.map((r, k) => totalReward(r) - (g.split ? g.split.weight * g.split.rewards[k]! : 0)));
  const known = groups[0]?.batchStd;
  const main = batchAdvantages(totals, { ...options, ...(known !== undefined ? { batchStd: known } : {}) });
  groups.forEach((g, i) =>
    Object.assign(g, { advantages: main.groups[i]!.advantages, zeroStd: main.groups[i]!.zeroStd, batchStd: main.batchStd }),
  );
  const split = groups.filter((g) => g.split && g.split.advantages.length === 0);
  if (split.length === 0) return;
  const first = batchAdvantages(
    split.map((g) => g.split!.rewards),
    options,
  );
  split.forEach((g, i) => (g.split!.advantages = first.groups[i]!.advantages));
}

/** The loss terms a run's trained parts need: the LM term for the LM (or vision encoder), the DM term for the rest. */
export function objectiveTerms(cfg: TrainConfig): ObjectiveTerms {
  const trainsLm = cfg.train.includes('lm') || cfg.train.includes('vision');
  const trainsDm = cfg.train.some((p) => p !== 'lm' && p !== 'vision');
  // DiffusionNFT reads advantages as optimality probabilities over [-clip, clip]; win rates span [-1, 1].
  const advantageClip = cfg.loss.advantage === 'winRate' ? 1 : cfg.loss.advantageClip;
  return { ...(trainsLm ? { lm: cfg.loss.lm } : {}), ...(trainsDm ? { dm: { ...cfg.loss.dm, advantageClip } } : {}) };
}

/** Epochs of: objective and gradients over the batch, global-norm clip, one optimizer step; their mean metrics. */
async function update(env: GrpoEnv, groups: readonly ScoredGroup[], step: number): Promise<Record<string, number>> {
  const { cfg, policy } = env;
  const rng = new Rng(mixSeeds(cfg.seed, step, 0x5eed));
  const terms = objectiveTerms(cfg);
  const sums: Record<string, number> = {};
  const last: Record<string, number> = {};
  const trainedGroups = new Set(policy.params.trainable().map((p) => p.group));
  for (let epoch = 0; epoch < cfg.optim.epochsPerBatch; epoch++) {
    const batch: UpdateSample[] = groups.flatMap((g) =>
      g.samples.map((sample, k) => ({
        item: g.item,
        sample,
        advantage: g.advantages[k]!,
        dmSteps: stepsToTrain(cfg, sample, rng),
        ...(g.split ? { splitAdvantage: g.split.advantages[k]! } : {}),
      })),
    );
    const result = await policy.objective(batch, terms);
    const gradNorm = clipGradNorm(result.grads, cfg.optim.gradClip);
    if (!Number.isFinite(gradNorm)) {
      last['update/skipped'] = (last['update/skipped'] ?? 0) + 1;
      continue;
    }
    const report = env.optimizer.step(result.grads);
    for (const group of trainedGroups) last[`lr/${group}`] = report.lr[group]!;
    // How many denoising steps each drawn sample trained on (rollout.timestepFraction of the trainable ones).
    const drawn = batch.filter((u) => u.dmSteps.length > 0);
    if (drawn.length > 0)
      sums['update/dm_steps_per_sample'] =
        (sums['update/dm_steps_per_sample'] ?? 0) + drawn.reduce((n, u) => n + u.dmSteps.length, 0) / drawn.length;
    for (const [name, value] of Object.entries({ ...result.metrics, loss: result.loss, grad_norm: gradNorm }))
      sums[name] = (sums[name] ?? 0) + value;
    env.checkCancelled();
  }
  return { ...last, ...Object.fromEntries(Object.entries(sums).map(([name, value]) => [name, value / cfg.optim.epochsPerBatch])) };
}

/**
 * A random `timestepFraction` of the trainable SDE steps (the last one left out when configured), the same for all of a
 * sample's trajectories.
 */
function stepsToTrain(cfg: TrainConfig, sample: SampleResult, rng: Rng): number[] {
  const drawn = sample.turns.find((t) => t.kind === 'image');
  if (!drawn) return [];
  const S = drawn.dm.logProbs.length;
  // With an SDE window only its steps are random (the ODE steps elsewhere have no likelihood to train).
  const trainable = cfg.rollout.sdeWindow
    ? trainableSteps(drawn.dm.stds).filter((k) => !(cfg.rollout.dropLastStep && S > 1 && k === S - 1))
    : Array.from({ length: cfg.rollout.dropLastStep && S > 1 ? S - 1 : S }, (_, k) => k);
  if (trainable.length === 0) return [];
  const keep = Math.max(1, Math.round(cfg.rollout.timestepFraction * trainable.length));
  for (let i = trainable.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [trainable[i], trainable[j]] = [trainable[j]!, trainable[i]!];
  }
  return trainable.slice(0, keep).sort((a, b) => a - b);
}

/** Mean and std of the total reward and of each component, the zero-spread fraction, LM lengths. */
function rewardMetrics(groups: readonly ScoredGroup[]): Record<string, number> {
  const all = groups.flatMap((g) => g.rewards);
  const total = meanStd(all.map(totalReward));
  const metrics: Record<string, number> = { 'reward/mean': total.mean, 'reward/std': total.std };
  for (const name of new Set(all.flat().map((c) => c.name))) {
    const s = meanStd(all.flatMap((cs) => cs.filter((c) => c.name === name).map((c) => c.value)));
    metrics[`reward/${name}/mean`] = s.mean;
    metrics[`reward/${name}/std`] = s.std;
  }
  metrics.frac_reward_zero_std = groups.filter((g) => g.zeroStd).length / groups.length;
  const firstImageRewards = groups.flatMap((g) => g.split?.rewards ?? []);
  if (firstImageRewards.length) metrics['reward/first_image/mean'] = meanStd(firstImageRewards).mean;
  const lengths = groups.flatMap((g) =>
    g.samples.flatMap((s) => s.turns.flatMap((t) => (t.kind === 'text' ? [t.lm.tokenIds.length] : []))),
  );
  if (lengths.length) metrics['lm/length_mean'] = meanStd(lengths).mean;
  return metrics;
}
