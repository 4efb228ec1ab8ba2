// The GRPO loop (issue 6): rollout -> rewards -> advantages -> update -> store, step after step, with
// human rankings (sync or async) and a learned preference reward on top. Model-agnostic: it drives a
// `Policy` and a `TaskSource` (policy.ts). Runs in the compute worker; everything goes to SQLite.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HELD_OUT_SUITE, type JsonObject, type RewardComponent, type Run, type RunStatus, type Verdict } from '../../contract/domain.ts';
import type { Store } from '../../db/store.ts';
import { JobCancelled, type JobContext } from '../compute/job-context.ts';
import { loadCheckpoint, saveCheckpoint } from '../engine/checkpoint/checkpoint.ts';
import { AdamW } from '../engine/optim/adamw.ts';
import { clipGradNorm } from '../engine/optim/clip.ts';
import { constantLr, warmupCosineLr } from '../engine/optim/schedule.ts';
import { scoreEdit } from '../world/edits.ts';
import { score } from '../world/evaluate.ts';
import { toUint8, type ImageRGB } from '../world/image.ts';
import { decodePng } from '../world/png.ts';
import { mixSeeds, Rng } from '../world/rng.ts';
import { batchAdvantages, groupAdvantages } from './advantages.ts';
import { pruneCheckpoints } from './checkpoint-policy.ts';
import { MODEL_PARTS, PARAM_GROUP_OF_PART, rewardWeights, type ModelPart, type TrainConfig } from './config.ts';
import { claimRun, runDirOf } from './owner.ts';
import type { ObjectiveTerms, Policy, RolloutOptions, SampleResult, TaskItem, TaskSource, UpdateSample } from './policy.ts';
import { type PreferenceModel, trainPreferenceModel, type GroupedPair } from './preference.ts';
import { humanShare, queueChoice, withFeedback, type GroupFeedback } from './feedback.ts';
import { humanRankRewards, pairsFromRanks } from './ranking.ts';
import { latentStorageOf, memberInput, recordCycle, rewardSampleOf } from './records.ts';
import { computeRewards, REWARD_COMPONENT_DEFS, totalReward, type RewardComponentDef, type RewardContext } from './rewards.ts';

export interface TrainOptions {
  config: TrainConfig;
  store: Store;
  /** Where checkpoints and preference models are written (`runs/<id>/...`). */
  dataDir: string;
  policy: Policy;
  tasks: TaskSource;
  /** Continue this run (from its latest checkpoint, if any); otherwise a new run is created. */
  runId?: number;
  runName?: string;
  /** Reward components (default: rewards.ts REWARD_COMPONENT_DEFS). */
  components?: readonly RewardComponentDef[];
  /** Called after every step (the CLI prints a line). */
  onStep?: (summary: StepSummary) => void;
  /** How often sync mode looks for new rankings. Default 500 ms. */
  pollMs?: number;
  /** The run's status after a cancellation: 'paused' when the cancel meant pause (resume with runId). Default 'stopped'. */
  cancelledStatus?: () => 'stopped' | 'paused';
  /** Called whenever the trainer records a new status (the UI shows 'running' before the first step ends). */
  onStatus?: (run: Run) => void;
}

export interface StepSummary {
  runId: number;
  step: number;
  totalSteps: number;
  /** Since this call to train() started. */
  elapsedSeconds: number;
  /** The time limit (config.minutes) in seconds, or null. */
  limitSeconds: number | null;
  metrics: Record<string, number>;
}

export interface TrainResult {
  runId: number;
  /** Last completed step. */
  step: number;
  stoppedBy: 'steps' | 'minutes' | 'cancelled';
  checkpoint: string | null;
}

/** A stored group kept in memory while its ranking may still arrive (async mode). */
interface LiveGroup {
  groupId: number;
  step: number;
  item: TaskItem;
  samples: SampleResult[];
  sampleIds: number[];
  rewards: RewardComponent[][];
  advantages: number[];
  zeroStd: boolean;
  /** Reflection with per-round advantages: each member's first-image reward and its advantage within the group. */
  firstImage?: { rewards: number[]; advantages: number[] };
}

/** The policy's rollout options from a run's config (the seed, and anything else given, from `overrides`). */
export function rolloutOptionsOf(cfg: TrainConfig, overrides: Partial<RolloutOptions> & { seed: number }): RolloutOptions {
  const r = cfg.rollout;
  return {
    groupSize: r.groupSize, sdeSteps: r.sdeSteps, noiseLevel: r.noiseLevel, sameNoisePerGroup: r.sameNoisePerGroup,
    temperature: r.temperature, topP: r.topP, maxNewTokens: r.maxNewTokens,
    editCycle: cfg.edit.cycle, reflectionRounds: cfg.reflect.rounds, ...overrides,
  };
}

/** The loss terms a run's trained parts need: the LM term for the LM (or vision encoder), the DM term for the rest. */
export function objectiveTerms(cfg: TrainConfig): ObjectiveTerms {
  const trainsLm = cfg.train.includes('lm') || cfg.train.includes('vision');
  const trainsDm = cfg.train.some((p) => p !== 'lm' && p !== 'vision');
  return { ...(trainsLm ? { lm: cfg.loss.lm } : {}), ...(trainsDm ? { dm: cfg.loss.dm } : {}) };
}

/** Trains until the step or time limit, or until cancelled; checkpoints every N steps and at the end. */
export async function train(opts: TrainOptions, ctx: JobContext): Promise<TrainResult> {
  return new Trainer(opts, ctx).run();
}

class Trainer {
  private readonly cfg: TrainConfig;
  private readonly store: Store;
  private readonly policy: Policy;
  private readonly optimizer: AdamW;
  private readonly runId: number;
  private readonly runDir: string;
  private readonly live = new Map<number, LiveGroup>();
  private readonly featureCache = new Map<number, Float32Array>();
  private preference: PreferenceModel | null = null;
  private pairsAtLastFit = 0;
  private lastRankingId = 0;
  /** Watermarks (ms) of the critique and edit marks already applied. */
  private marksSince = { critique: 0, edit: 0 };
  private readonly queueRng: Rng;
  private step = 0;
  private readonly started = Date.now();

  constructor(private readonly opts: TrainOptions, private readonly ctx: JobContext) {
    this.cfg = opts.config;
    this.store = opts.store;
    this.policy = opts.policy;
    // Validate the parts against the model before a run is created for them.
    this.optimizer = this.makeOptimizer();
    const run = opts.runId !== undefined
      ? opts.store.runs.get(opts.runId)
      : opts.store.runs.create({ name: opts.runName ?? `${this.cfg.scenario} ${new Date().toISOString()}`, scenario: this.cfg.scenario, config: this.cfg as unknown as JsonObject });
    this.runId = run.id;
    this.runDir = runDirOf(opts.dataDir, run.id);
    this.queueRng = new Rng(mixSeeds(this.cfg.seed, run.id, 0x9e11e));
  }

  /** Freezes the parts that do not train; one AdamW group per store group, with the lm or dm rate. */
  private makeOptimizer(): AdamW {
    const partOf = new Map<string, ModelPart>();
    for (const part of MODEL_PARTS) for (const name of this.policy.paramsOf(part)) partOf.set(name, part);
    const training = new Set(this.cfg.train);
    const groups: Record<string, { lr: number }> = {};
    for (const p of this.policy.params.list()) {
      const part = partOf.get(p.name);
      if (!part) throw new Error(`trainer: parameter '${p.name}' belongs to no model part`);
      p.frozen = !training.has(part);
      const lr = this.cfg.optim.lr[PARAM_GROUP_OF_PART[part]];
      const previous = groups[p.group];
      if (previous && previous.lr !== lr) throw new Error(`trainer: store group '${p.group}' mixes parts with different learning rates`);
      groups[p.group] = { lr };
    }
    for (const part of training) {
      if (this.policy.paramsOf(part).length === 0) throw new Error(`config.train: the model has no '${part}' parameters`);
    }
    const { optim, steps } = this.cfg;
    return new AdamW(this.policy.params, {
      lr: optim.lr.dm,
      betas: optim.betas,
      weightDecay: optim.weightDecay,
      groups,
      schedule: optim.warmupSteps > 0 && steps > optim.warmupSteps ? warmupCosineLr({ warmupSteps: optim.warmupSteps, totalSteps: steps, minFactor: 1 }) : constantLr(),
    });
  }

  async run(): Promise<TrainResult> {
    // Claimed first: a second trainer of this run stops here, before it touches the store.
    const release = claimRun(this.runDir, this.runId);
    try {
      this.resume();
      // Groups queued before this start can no longer be trained on (their rollouts are not in memory).
      for (const groupId of this.store.groups.pendingOfRun(this.runId)) this.store.groups.closeQueue(groupId, 'stale');
      this.setStatus('running');
      return await this.trainUntilStopped();
    } finally {
      release();
    }
  }

  private setStatus(status: RunStatus, error?: string): void {
    const run = this.store.runs.setStatus(this.runId, status, error);
    this.opts.onStatus?.(run);
  }

  private async trainUntilStopped(): Promise<TrainResult> {
    this.store.log.append(this.runId, 'info', `training ${this.cfg.scenario} from step ${this.step}`, { steps: this.cfg.steps, minutes: this.cfg.minutes });
    let stoppedBy: TrainResult['stoppedBy'] = 'steps';
    try {
      while (this.step < this.cfg.steps) {
        if (this.cfg.minutes !== null && Date.now() - this.started >= this.cfg.minutes * 60_000) {
          stoppedBy = 'minutes';
          break;
        }
        this.ctx.checkCancelled();
        await this.trainStep(this.step + 1);
        this.step++;
        this.store.runs.setStep(this.runId, this.step);
        if (this.step % this.cfg.checkpointEvery === 0) this.checkpoint();
      }
    } catch (err) {
      if (!(err instanceof JobCancelled)) {
        this.setStatus('failed', err instanceof Error ? err.message : String(err));
        throw err;
      }
      stoppedBy = 'cancelled';
    }
    // Rankings and marks that came in after the last update still reach the stored rewards (and the preference model).
    await this.applyHumanFeedback({});
    const checkpoint = this.step > 0 ? this.checkpoint() : null;
    this.setStatus(stoppedBy === 'cancelled' ? this.opts.cancelledStatus?.() ?? 'stopped' : 'completed');
    this.store.log.append(this.runId, 'info', `stopped after step ${this.step} (${stoppedBy})`);
    return { runId: this.runId, step: this.step, stoppedBy, checkpoint };
  }

  /**
   * Continues from the run's latest checkpoint (weights and optimizer state) at the step after it. Steps
   * stored after that checkpoint (by a process that died mid-way) were drawn by weights no file holds:
   * their groups are marked discarded (kept for audit, out of lists, exports and ranking queues) and their
   * metrics set aside, so every kept step matches the weights that drew it.
   */
  private resume(): void {
    const latest = this.store.checkpoints.latest(this.runId);
    if (latest) loadCheckpoint(latest.path, this.policy.params, { optimizer: this.optimizer });
    this.step = latest?.step ?? 0;
    const discarded = this.store.groups.discardAfter(this.runId, this.step);
    if (this.store.runs.get(this.runId).step !== this.step) this.store.runs.setStep(this.runId, this.step);
    if (latest || discarded.groups > 0) {
      const from = latest ? `${latest.path} (step ${latest.step})` : 'the starting weights (no checkpoint yet)';
      const lost = discarded.groups > 0 ? `; ${discarded.groups} groups of later steps discarded (their updates were not saved)` : '';
      this.store.log.append(this.runId, 'info', `resumed at step ${this.step + 1} from ${from}${lost}`, { discardedGroups: discarded.groups, discardedMetrics: discarded.metrics });
    }
  }

  private checkpoint(): string {
    const path = join(this.runDir, 'checkpoints', `step-${String(this.step).padStart(6, '0')}.safetensors`);
    mkdirSync(join(this.runDir, 'checkpoints'), { recursive: true });
    const metadata = { ...this.policy.checkpointMetadata(), step: String(this.step), run: String(this.runId), scenario: this.cfg.scenario };
    saveCheckpoint(path, this.policy.params, { optimizer: this.optimizer, metadata });
    this.store.checkpoints.add({ runId: this.runId, step: this.step, path, metadata });
    const pruned = pruneCheckpoints(this.store, this.runId, this.cfg.storage);
    if (pruned.deleted.length + pruned.weightsOnly.length > 0) {
      this.store.log.append(this.runId, 'info', `checkpoints pruned: deleted steps [${pruned.deleted.join(', ')}], weights only [${pruned.weightsOnly.join(', ')}] (${(pruned.freedBytes / 1e6).toFixed(1)} MB freed)`);
    }
    return path;
  }

  private async trainStep(step: number): Promise<void> {
    const t0 = performance.now();
    const metrics: Record<string, number> = {};
    const replay = await this.applyHumanFeedback(metrics);

    const items = this.opts.tasks.next(this.cfg.rollout.promptsPerStep, step);
    const r = this.cfg.rollout;
    const rolled = await this.policy.rollout(items, this.rolloutOptions({ seed: mixSeeds(this.cfg.seed, step) }));
    const rolloutSeconds = (performance.now() - t0) / 1000;
    this.ctx.checkCancelled();

    const groups = await this.scoreAndStore(step, items, rolled);
    if (this.cfg.human.mode === 'sync') await this.waitForRankings(groups, metrics);
    this.logRewards(groups, metrics);

    const t1 = performance.now();
    const trained = [...groups.filter((g) => !g.zeroStd || g.firstImage?.advantages.some((a) => a !== 0)), ...replay];
    metrics['human/replayed_groups'] = replay.length;
    if (trained.length > 0) await this.update(trained, step, metrics);
    const updateSeconds = (performance.now() - t1) / 1000;

    if (this.cfg.eval.every > 0 && step % this.cfg.eval.every === 0) await this.evaluate(step, metrics);
    const stepSeconds = (performance.now() - t0) / 1000;
    const sampleCount = items.length * r.groupSize;
    Object.assign(metrics, {
      'time/step': stepSeconds, 'time/rollout': rolloutSeconds, 'time/update': updateSeconds, samples_per_s: sampleCount / stepSeconds,
    });
    this.store.metrics.log(this.runId, step, metrics);
    this.opts.onStep?.({
      runId: this.runId, step, totalSteps: this.cfg.steps, metrics,
      elapsedSeconds: (Date.now() - this.started) / 1000, limitSeconds: this.cfg.minutes === null ? null : this.cfg.minutes * 60,
    });
    this.ctx.progress({ done: step, total: this.cfg.steps, message: `step ${step}: reward ${metrics['reward/mean']!.toFixed(3)}` });
    for (const [id, g] of this.live) {
      if (step - g.step <= this.cfg.human.stalenessLimit) continue;
      this.live.delete(id);
      if (this.store.groups.get(id).rankingStatus === 'pending') this.store.groups.closeQueue(id, 'stale');
    }
  }

  private rolloutOptions(overrides: Partial<RolloutOptions> & { seed: number }): RolloutOptions {
    return rolloutOptionsOf(this.cfg, overrides);
  }

  /**
   * Rewards and advantages of each group, written to the store in one transaction with the samples,
   * trajectories, and (editing, reflection) the derived images and their edit or reflection records.
   */
  private async scoreAndStore(step: number, items: readonly TaskItem[], rolled: SampleResult[][]): Promise<LiveGroup[]> {
    const wantFeatures = this.usesPreferenceModel();
    const groups: LiveGroup[] = [];
    const ranked = Math.round(this.cfg.human.groupFraction * items.length);
    for (const [i, item] of items.entries()) {
      const samples = rolled[i]!;
      if (samples.length !== this.cfg.rollout.groupSize) throw new Error(`policy.rollout gave ${samples.length} samples for item ${i}, expected ${this.cfg.rollout.groupSize}`);
      const features = wantFeatures && samples[0]!.image ? await this.policy.features(samples.map((s) => s.image!)) : undefined;
      const rewardSamples = samples.map((s, k) => rewardSampleOf(s, features?.[k]));
      const rewards = computeRewards(rewardSamples, item.target, rewardWeights(this.cfg), this.rewardContext(), this.opts.components);
      const firstImage = this.firstImageAdvantages(samples, item);
      const [adv] = batchAdvantages([this.advantageRewards(rewards, firstImage)], this.advantageOptions()).groups;
      const sentToRanking = this.cfg.human.mode !== 'off' && i < ranked;
      const storage = latentStorageOf(this.cfg, { step, index: i, ranked: sentToRanking });
      const queue = sentToRanking ? queueChoice(this.cfg.human.queue, rewards.map(totalReward), this.preference && features ? features.map((f) => this.preference!.score(f)) : null, this.queueRng) : undefined;
      const inserted = this.store.db.transaction(() => {
        const prompt = this.store.prompts.ensure(this.runId, { text: item.text, task: item.task, spec: item.spec });
        const group = this.store.groups.insert({
          runId: this.runId, step, promptId: prompt.id,
          samples: samples.map((s, k) => memberInput(s, rewards[k]!, adv!.advantages[k]!, storage)),
          ranking: sentToRanking ? 'pending' : 'none',
          rankingsNeeded: this.cfg.human.rankingsPerGroup,
          ...(queue ? { queue } : {}),
          zeroStd: adv!.zeroStd,
        });
        samples.forEach((s, k) => recordCycle(this.store, group.sampleIds[k]!, item, s, storage));
        return group;
      })();
      if (features) inserted.sampleIds.forEach((id, k) => this.featureCache.set(id, features[k]!));
      // The Ranking screen's queue and the sync banner follow new groups live.
      if (sentToRanking) this.ctx.emit?.('group.created', this.store.groups.get(inserted.groupId));
      const group: LiveGroup = {
        groupId: inserted.groupId, step, item, samples, sampleIds: inserted.sampleIds, rewards, advantages: adv!.advantages, zeroStd: adv!.zeroStd, ...(firstImage ? { firstImage } : {}),
      };
      this.live.set(group.groupId, group);
      groups.push(group);
    }
    return groups;
  }

  /**
   * What `advantages` normalise: each member's total reward; with reflection's per-round advantages, the
   * part of it the rounds after the first image added. total = w·first + [critique and improvement terms
   * + w·(final - first)], w the shapeEval weight: the first image is credited with its own reward (see
   * firstImageAdvantages), the critiques and refinements with the rest, which a good first image does not
   * raise and a bad one does not lower.
   */
  private advantageRewards(rewards: readonly RewardComponent[][], firstImage: LiveGroup['firstImage']): number[] {
    const shapeEvalWeight = rewardWeights(this.cfg).shapeEval;
    return rewards.map((r, k) => totalReward(r) - (firstImage ? shapeEvalWeight * firstImage.rewards[k]! : 0));
  }

  /**
   * Reflection, per-round advantages: the run's shapeEval component on each member's first image, normalised
   * within the group like any reward (undefined in every other case).
   */
  private firstImageAdvantages(samples: readonly SampleResult[], item: TaskItem): LiveGroup['firstImage'] {
    if (this.cfg.scenario !== 'reflect' || this.cfg.reflect.advantage !== 'perRound') return undefined;
    const shapeEval = (this.opts.components ?? REWARD_COMPONENT_DEFS).find((c) => c.name === 'shapeEval');
    if (!shapeEval) throw new Error("reflect.advantage 'perRound' needs a 'shapeEval' reward component to score the first images");
    const rewards = samples.map((s, k) => {
      if (!s.image) throw new Error(`reflection sample ${k} has no first image`);
      return shapeEval.score({ image: s.image }, item.target, this.rewardContext()) ?? 0;
    });
    return { rewards, advantages: groupAdvantages(rewards, this.advantageOptions()).advantages };
  }

  private advantageOptions() {
    return { stdEps: this.cfg.loss.stdEps, clip: this.cfg.loss.advantageClip, scaleByStd: this.cfg.loss.scaleByStd };
  }

  private rewardContext(humanRanks?: ReadonlyMap<number, number>): RewardContext {
    return { ...(humanRanks ? { humanRanks } : {}), preference: this.preference };
  }

  /**
   * Sync mode: waits until each of this step's queued groups is ranked, or skipped by someone (a skip
   * releases the group: it trains on its automatic rewards), or the timeout; then applies the ranks.
   */
  private async waitForRankings(groups: LiveGroup[], metrics: Record<string, number>): Promise<void> {
    const queued = groups.filter((g) => this.store.groups.get(g.groupId).rankingStatus === 'pending');
    const deadline = Date.now() + this.cfg.human.syncTimeoutMinutes * 60_000;
    const waiting = () => queued.filter((g) => {
      if (this.store.groups.get(g.groupId).rankingStatus !== 'pending') return false;
      if (!this.store.rankings.forGroup(g.groupId).some((r) => r.skipped)) return true;
      this.store.groups.closeQueue(g.groupId, 'released');
      return false;
    });
    while (waiting().length > 0 && Date.now() < deadline) {
      this.ctx.checkCancelled();
      await new Promise((resolve) => setTimeout(resolve, this.opts.pollMs ?? 500));
    }
    const left = waiting();
    if (left.length > 0) {
      for (const g of left) this.store.groups.closeQueue(g.groupId, 'timeout');
      this.store.log.append(this.runId, 'warn', `ranking timed out: ${left.length} groups go on with automatic rewards`);
    }
    metrics['human/released_groups'] = queued.filter((g) => this.store.groups.get(g.groupId).queueClosed !== null).length;
    await this.applyHumanFeedback(metrics);
  }

  /**
   * Applies people's answers that arrived since the last look (rankings, critique marks, edit marks): new
   * reward components and advantages for their groups (stored), a refit of the preference model when
   * enough new pairs came. Returns the groups still fresh enough (staleness limit) to be trained again
   * with their new advantages.
   */
  private async applyHumanFeedback(metrics: Record<string, number>): Promise<LiveGroup[]> {
    const touched = new Set<number>();
    if (this.cfg.human.mode !== 'off') {
      const fresh = this.store.rankings.since(this.runId, this.lastRankingId);
      if (fresh.length > 0) {
        this.lastRankingId = fresh[fresh.length - 1]!.id;
        metrics['human/rankings'] = fresh.length;
        await this.maybeFitPreference(metrics);
        for (const r of fresh) touched.add(r.groupId);
      }
    }
    for (const kind of ['critique', 'edit'] as const) {
      if (this.cfg.rewards[kind === 'critique' ? 'critiqueMark' : 'editMark'] === 0) continue;
      const marked = (kind === 'critique' ? this.store.reflections : this.store.edits).markedSince(this.runId, this.marksSince[kind]);
      // The watermark is inclusive (marks in the same millisecond are not missed); re-applying a group changes nothing.
      this.marksSince[kind] = marked.latest;
      marked.groupIds.forEach((id) => touched.add(id));
    }
    const replay: LiveGroup[] = [];
    for (const groupId of touched) {
      const feedback = this.feedbackOf(groupId);
      const weights = rewardWeights(this.cfg);
      const live = this.live.get(groupId);
      if (!live) {
        // Too old to train on: the store still gets people's rewards for the screens and exports.
        const members = this.store.samples.members(groupId);
        this.store.groups.updateRewards(groupId, members.map((s) => ({ sampleId: s.id, rewards: withFeedback([], s.id, feedback, weights) })));
        continue;
      }
      const rewards = live.rewards.map((components, k) => withFeedback(components, live.sampleIds[k]!, feedback, weights));
      if (JSON.stringify(rewards) === JSON.stringify(live.rewards)) continue;
      live.rewards = rewards;
      const [adv] = batchAdvantages([this.advantageRewards(live.rewards, live.firstImage)], this.advantageOptions()).groups;
      live.advantages = adv!.advantages;
      live.zeroStd = adv!.zeroStd;
      this.store.groups.updateRewards(groupId, live.sampleIds.map((sampleId, k) => ({ sampleId, rewards: live.rewards[k]!, advantage: live.advantages[k]! })), live.zeroStd);
      if (live.step < this.step + 1 && !live.zeroStd) replay.push(live);
    }
    return replay;
  }

  /**
   * People's answers on a group: the mean rank rewards over its annotators once it has the rankings it needs
   * (human.rankingsPerGroup), and the means of its marks.
   */
  private feedbackOf(groupId: number): GroupFeedback {
    const ranked = this.store.groups.get(groupId).rankingStatus === 'ranked';
    return {
      humanRank: ranked ? humanRankRewards(this.store.rankings.forGroup(groupId)) : new Map(),
      critiqueMark: this.store.reflections.markMeans(groupId),
      editMark: this.store.edits.markMeans(groupId),
    };
  }

  /** The preference model is fitted when it is a reward, or when the queue policy orders groups by it. */
  private usesPreferenceModel(): boolean {
    return this.cfg.rewards.preference !== 0 || this.cfg.human.queue === 'uncertain' || this.cfg.human.queue === 'disagreement';
  }

  /** Refits the Bradley-Terry reward on every pair of the run's rankings once enough new pairs arrived. */
  private async maybeFitPreference(metrics: Record<string, number>): Promise<void> {
    if (!this.usesPreferenceModel()) return;
    const p = this.cfg.preference;
    const pairs: GroupedPair[] = this.store.rankings.since(this.runId, 0).flatMap((r) => pairsFromRanks(r.ranks).map((pair) => ({ ...pair, group: r.groupId })));
    if (pairs.length < p.minPairs || pairs.length - this.pairsAtLastFit < p.retrainEvery) return;
    const missing = [...new Set(pairs.flatMap((x) => [x.winner, x.loser]))].filter((id) => !this.featureCache.has(id));
    if (missing.length) {
      const images = missing.map((id) => decodePng(this.store.samples.imagePng(id) ?? failNoImage(id)));
      (await this.policy.features(images)).forEach((f, i) => this.featureCache.set(missing[i]!, f));
    }
    const fit = trainPreferenceModel(pairs, (id) => this.featureCache.get(id)!, {
      hidden: p.hidden, lr: p.lr, epochs: p.epochs, l2: p.l2, heldoutFraction: p.heldoutFraction, seed: this.cfg.seed,
    });
    this.preference = fit.model;
    this.pairsAtLastFit = pairs.length;
    mkdirSync(this.runDir, { recursive: true });
    const path = join(this.runDir, `preference-${pairs.length}.json`);
    writeFileSync(path, JSON.stringify(fit.model));
    this.store.preferences.add({ runId: this.runId, path, trainPairs: fit.trainPairs, heldoutPairs: fit.heldoutPairs, heldoutAccuracy: fit.heldoutAccuracy });
    metrics['preference/train_pairs'] = fit.trainPairs;
    if (fit.heldoutAccuracy !== null) metrics['preference/heldout_accuracy'] = fit.heldoutAccuracy;
  }

  private logRewards(groups: readonly LiveGroup[], metrics: Record<string, number>): void {
    const all = groups.flatMap((g) => g.rewards);
    const stats = (values: number[]) => {
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      return { mean, std: Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length) };
    };
    const total = stats(all.map(totalReward));
    metrics['reward/mean'] = total.mean;
    metrics['reward/std'] = total.std;
    for (const name of new Set(all.flat().map((c) => c.name))) {
      const s = stats(all.flatMap((cs) => cs.filter((c) => c.name === name).map((c) => c.value)));
      metrics[`reward/${name}/mean`] = s.mean;
      metrics[`reward/${name}/std`] = s.std;
    }
    metrics.frac_reward_zero_std = groups.filter((g) => g.zeroStd).length / groups.length;
    const firstImageRewards = groups.flatMap((g) => g.firstImage?.rewards ?? []);
    if (firstImageRewards.length) metrics['reward/first_image/mean'] = stats(firstImageRewards).mean;
    const lengths = groups.flatMap((g) => g.samples.flatMap((s) => [s.lm, ...(s.rounds ?? []).map((r) => r.lm)]).flatMap((lm) => (lm ? [lm.tokenIds.length] : [])));
    if (lengths.length) metrics['lm/length_mean'] = lengths.reduce((a, b) => a + b, 0) / lengths.length;
  }

  /** Epochs of: objective and gradients over the batch, global-norm clip, one AdamW step. */
  private async update(groups: readonly LiveGroup[], step: number, metrics: Record<string, number>): Promise<void> {
    const rng = new Rng(mixSeeds(this.cfg.seed, step, 0x5eed));
    const terms = objectiveTerms(this.cfg);
    const sums: Record<string, number> = {};
    const trainedGroups = new Set(this.policy.params.trainable().map((p) => p.group));
    metrics['human/reward_share'] = humanShare(groups.flatMap((g) => g.rewards));
    for (let epoch = 0; epoch < this.cfg.optim.epochsPerBatch; epoch++) {
      const batch: UpdateSample[] = groups.flatMap((g) => g.samples.map((sample, k) => ({
        item: g.item, sample, advantage: g.advantages[k]!, dmSteps: this.pickSteps(sample, rng),
        ...(g.firstImage ? { firstImageAdvantage: g.firstImage.advantages[k]! } : {}),
      })));
      const result = await this.policy.objective(batch, terms);
      const gradNorm = clipGradNorm(result.grads, this.cfg.optim.gradClip);
      if (!Number.isFinite(gradNorm)) {
        this.store.log.append(this.runId, 'warn', `step ${step}: non-finite gradient norm, update skipped`);
        continue;
      }
      const report = this.optimizer.step(result.grads);
      for (const group of trainedGroups) metrics[`lr/${group}`] = report.lr[group]!;
      for (const [name, value] of Object.entries({ ...result.metrics, loss: result.loss, grad_norm: gradNorm })) sums[name] = (sums[name] ?? 0) + value;
      this.ctx.checkCancelled();
    }
    for (const [name, value] of Object.entries(sums)) metrics[name] = value / this.cfg.optim.epochsPerBatch;
  }

  /** A random `timestepFraction` of the trainable SDE steps (the last one left out when configured). */
  private pickSteps(sample: SampleResult, rng: Rng): number[] {
    if (!sample.dm) return [];
    const S = sample.dm.logProbs.length;
    const trainable = Array.from({ length: this.cfg.rollout.dropLastStep && S > 1 ? S - 1 : S }, (_, k) => k);
    const keep = Math.max(1, Math.round(this.cfg.rollout.timestepFraction * trainable.length));
    for (let i = trainable.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [trainable[i], trainable[j]] = [trainable[j]!, trainable[i]!];
    }
    return trainable.slice(0, keep).sort((a, b) => a - b);
  }

  /**
   * Held-out evaluation. Editing: Euler ODE edits scored against their target scenes (accuracy,
   * compliance, preservation). Image scenarios: Euler ODE images scored by ShapeEval (accuracy and
   * fractional reward; reflection: the single-shot first image). Text scenarios: greedy answers scored by
   * the run's answer and format rewards.
   */
  private async evaluate(step: number, metrics: Record<string, number>): Promise<void> {
    const items = this.opts.tasks.heldout();
    if (items.length === 0) return;
    const seed = mixSeeds(this.cfg.seed, 0xe7a1);
    // Each held-out image with the scorer's verdict, recorded as an evaluation of the run (the Evaluation
    // screen lists it; the dashboard's step slider shows one prompt's image across the evaluations).
    let scored: { item: TaskItem; image: ImageRGB; verdict: { correct: boolean; reward: number; reason: string } }[] = [];
    if (items.every((it) => it.target.edit)) {
      const images = await this.policy.generate(items, this.cfg.eval.odeSteps, seed);
      const scores = items.map((it, i) => scoreEdit(images[i]!, it.target.edit!.source, it.target.edit!.edit));
      const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
      metrics['eval/accuracy'] = scores.filter((s) => s.correct).length / scores.length;
      metrics['eval/compliance'] = mean(scores.map((s) => s.objectTerm));
      metrics['eval/preservation'] = mean(scores.map((s) => s.similarity));
      scored = items.map((item, i) => ({ item, image: images[i]!, verdict: scores[i]! }));
    } else if (this.cfg.scenario === 'reflect' && this.policy.reflectGreedy) {
      const cycles = await this.policy.reflectGreedy(items, this.cfg.eval.odeSteps, this.cfg.reflect.rounds, seed);
      Object.assign(metrics, reflectionMetrics(items, cycles));
      scored = items.map((item, i) => {
        const image = cycles[i]!.images[cycles[i]!.images.length - 1]!;
        return { item, image, verdict: score(image, item.target.spec ?? failNoSpec(item)) };
      });
    } else if (items.every((it) => it.target.spec)) {
      const images = await this.policy.generate(items, this.cfg.eval.odeSteps, seed);
      const scores = items.map((it, i) => score(images[i]!, it.target.spec!));
      metrics['eval/accuracy'] = scores.filter((s) => s.correct).length / scores.length;
      metrics['eval/reward'] = scores.reduce((a, s) => a + s.reward, 0) / scores.length;
      scored = items.map((item, i) => ({ item, image: images[i]!, verdict: scores[i]! }));
    } else {
      const answers = await this.policy.rollout(items, this.rolloutOptions({ groupSize: 1, sameNoisePerGroup: false, temperature: 0, topP: 1, seed }));
      const weights = { answer: 1, format: this.cfg.rewards.format === 0 ? 0 : 1 };
      const rewards = items.map((it, i) => computeRewards(answers[i]!.map((s) => ({ text: s.text ?? '' })), it.target, weights, {}, this.opts.components)[0]!);
      for (const name of ['answer', 'format'] as const) {
        const values = rewards.flatMap((cs) => cs.filter((c) => c.name === name).map((c) => c.value));
        if (values.length) metrics[name === 'answer' ? 'eval/accuracy' : 'eval/format'] = values.reduce((a, b) => a + b, 0) / values.length;
      }
    }
    if (scored.length > 0) this.recordEvaluation(step, metrics, scored);
    this.store.log.append(this.runId, 'info', `step ${step}: eval accuracy ${metrics['eval/accuracy']?.toFixed(3)} on ${items.length} held-out prompts`);
  }

  /** The held-out images of one evaluation step, stored as an evaluation of this run (suite "held-out", summary per task). */
  private recordEvaluation(step: number, metrics: Record<string, number>, scored: { item: TaskItem; image: ImageRGB; verdict: { correct: boolean; reward: number; reason: string } }[]): void {
    const evaluation = this.store.evaluations.start({ runId: this.runId, suite: HELD_OUT_SUITE });
    this.store.evaluations.addResults(evaluation.id, scored.map(({ item, image, verdict }) => {
      const { width, height, data } = toUint8(image);
      return { task: item.task, prompt: item.text, imageIndex: 0, correct: verdict.correct, reward: verdict.reward, reason: verdict.reason, image: { width, height, rgb: data } };
    }));
    const tasks = [...new Set(scored.map((s) => s.item.task))].map((task) => {
      const of = scored.filter((s) => s.item.task === task);
      return { task, accuracy: of.filter((s) => s.verdict.correct).length / of.length, prompts: of.length };
    });
    const evalMetrics = Object.fromEntries(Object.entries(metrics).filter(([name]) => name.startsWith('eval/')));
    this.store.evaluations.complete(evaluation.id, { step, generator: 'model (during training)', tasks, overall: metrics['eval/accuracy'] ?? 0, metrics: evalMetrics });
  }
}

/**
 * The reflection evaluation's numbers over greedy critique -> refinement cycles of `items` on ODE images:
 * eval/accuracy: the final image is right; eval/first_accuracy: the single-shot first image is;
 * eval/critique_accuracy: verdicts that agree with the scorer; eval/corrected: wrong first images that end
 * right; eval/broken: right ones that end wrong.
 */
export function reflectionMetrics(items: readonly TaskItem[], cycles: readonly { images: ImageRGB[]; verdicts: Verdict[] }[]): Record<string, number> {
  let agreed = 0;
  let judged = 0;
  const first: boolean[] = [];
  const final: boolean[] = [];
  items.forEach((item, i) => {
    const spec = item.target.spec ?? failNoSpec(item);
    const { images, verdicts } = cycles[i]!;
    const correct = images.map((image) => score(image, spec).correct);
    verdicts.forEach((verdict, k) => {
      judged++;
      if ((verdict === 'correct') === correct[k]) agreed++;
    });
    first.push(correct[0]!);
    final.push(correct[correct.length - 1]!);
  });
  const fraction = (n: number, d: number) => (d === 0 ? 0 : n / d);
  const wrongFirst = first.filter((c) => !c).length;
  return {
    'eval/accuracy': fraction(final.filter(Boolean).length, items.length),
    'eval/first_accuracy': fraction(first.filter(Boolean).length, items.length),
    'eval/critique_accuracy': fraction(agreed, judged),
    'eval/corrected': fraction(first.filter((c, i) => !c && final[i]).length, wrongFirst),
    'eval/broken': fraction(first.filter((c, i) => c && !final[i]).length, items.length - wrongFirst),
  };
}

function failNoSpec(item: TaskItem): never {
  throw new Error(`reflection evaluation: item '${item.text}' has no prompt spec`);
}

function failNoImage(sampleId: number): never {
  throw new Error(`preference model: sample ${sampleId} has no stored image`);
}

