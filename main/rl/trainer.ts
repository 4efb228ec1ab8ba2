// A GRPO run: the loop around the algorithm (grpo.ts) that makes it a run — a run row, resuming from the
// latest checkpoint, checkpoints by policy, cancellation and pausing, one trainer per run (owner.ts) — with
// the recorder (the store), people's feedback (human-feedback.ts) and the held-out evaluation
// (evaluator.ts) around each step. Model-agnostic: it drives a `Policy` and a `TaskSource` (policy.ts).
// Runs in the compute worker; everything goes to SQLite.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonObject, Run, RunStatus } from '../../contract/domain.ts';
import type { Store } from '../../db/store.ts';
import { JobCancelled, type JobContext } from '../compute/job-context.ts';
import { loadCheckpoint, saveCheckpoint } from '../engine/checkpoint/checkpoint.ts';
import { AdamW } from '../engine/optim/adamw.ts';
import { constantLr, warmupCosineLr } from '../engine/optim/schedule.ts';
import { pruneCheckpoints } from './checkpoint-policy.ts';
import { MODEL_PARTS, PARAM_GROUP_OF_PART, type ModelPart, type TrainConfig } from './config.ts';
import { evaluateHeldOut } from './evaluator.ts';
import { grpoStep, isTrained, type ScoredGroup } from './grpo.ts';
import { HumanFeedback } from './human-feedback.ts';
import { claimRun, runDirOf } from './owner.ts';
import type { Policy, TaskSource } from './policy.ts';
import { latentStorageOf } from './records.ts';
import { recordGroup } from './recorder.ts';
import type { RewardComponentDef } from './rewards.ts';
import { scenarioModule } from './scenarios/index.ts';
import type { ScenarioModule } from './scenarios/scenario.ts';

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

/** Trains until the step or time limit, or until cancelled; checkpoints every N steps and at the end. */
export async function train(opts: TrainOptions, ctx: JobContext): Promise<TrainResult> {
  return new Trainer(opts, ctx).run();
}

class Trainer {
  private readonly cfg: TrainConfig;
  private readonly store: Store;
  private readonly policy: Policy;
  private readonly scenario: ScenarioModule;
  private readonly optimizer: AdamW;
  private readonly runId: number;
  private readonly runDir: string;
  private readonly human: HumanFeedback;
  private step = 0;
  private readonly started = Date.now();

  constructor(
    private readonly opts: TrainOptions,
    private readonly ctx: JobContext,
  ) {
    this.cfg = opts.config;
    this.store = opts.store;
    this.policy = opts.policy;
    this.scenario = scenarioModule(this.cfg.scenario);
    // Validate the parts against the model before a run is created for them.
    this.optimizer = this.makeOptimizer();
    const run =
      opts.runId !== undefined
        ? opts.store.runs.get(opts.runId)
        : opts.store.runs.create({
            name: opts.runName ?? `${this.cfg.scenario} ${new Date().toISOString()}`,
            scenario: this.cfg.scenario,
            config: this.cfg as unknown as JsonObject,
          });
    this.runId = run.id;
    this.runDir = runDirOf(opts.dataDir, run.id);
    this.human = new HumanFeedback(this.cfg, this.store, this.runId, this.runDir, this.policy, ctx, opts.pollMs);
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
      schedule:
        optim.warmupSteps > 0 && steps > optim.warmupSteps
          ? warmupCosineLr({ warmupSteps: optim.warmupSteps, totalSteps: steps, minFactor: 1 })
          : constantLr(),
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

  /**
   * Step after step until the step or time limit, or a cancellation. A cancellation (stop or pause) lands
   * at the next check: between steps, after the rollout, after an optimizer step, or while sync mode waits
   * for rankings; the step it interrupts is not recorded as done, and a resumed run draws it again.
   */
  private async trainUntilStopped(): Promise<TrainResult> {
    this.store.log.append(this.runId, 'info', `training ${this.cfg.scenario} from step ${this.step}`, {
      steps: this.cfg.steps,
      minutes: this.cfg.minutes,
    });
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
    await this.human.apply({}, this.step + 1);
    const checkpoint = this.step > 0 ? this.checkpoint() : null;
    this.setStatus(stoppedBy === 'cancelled' ? (this.opts.cancelledStatus?.() ?? 'stopped') : 'completed');
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
      this.store.log.append(this.runId, 'info', `resumed at step ${this.step + 1} from ${from}${lost}`, {
        discardedGroups: discarded.groups,
        discardedMetrics: discarded.metrics,
      });
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
      this.store.log.append(
        this.runId,
        'info',
        `checkpoints pruned: deleted steps [${pruned.deleted.join(', ')}], ` +
          `weights only [${pruned.weightsOnly.join(', ')}] (${(pruned.freedBytes / 1e6).toFixed(1)} MB freed)`,
      );
    }
    return path;
  }

  /** People's answers since the last step, one GRPO step (its groups stored as they are scored), the held-out evaluation, the metrics. */
  private async trainStep(step: number): Promise<void> {
    const t0 = performance.now();
    const feedbackMetrics: Record<string, number> = {};
    const replay = await this.human.apply(feedbackMetrics, step);
    const items = this.opts.tasks.next(this.cfg.rollout.promptsPerStep, step);
    const { groups, metrics } = await grpoStep(
      {
        cfg: this.cfg,
        policy: this.policy,
        scenario: this.scenario,
        optimizer: this.optimizer,
        wantsFeatures: this.human.usesPreferenceModel,
        checkCancelled: () => this.ctx.checkCancelled(),
        ...(this.opts.components ? { components: this.opts.components } : {}),
      },
      step,
      items,
      {
        rewardContext: () => this.human.rewardContext(),
        scored: async (scored, stepMetrics) => {
          scored.forEach((group, i) => this.record(group, i, scored.length));
          if (this.cfg.human.mode === 'sync') await this.human.waitForRankings(scored, stepMetrics, step);
          return replay;
        },
      },
    );
    Object.assign(metrics, feedbackMetrics, { 'human/replayed_groups': replay.length });
    const trained: ScoredGroup[] = [...groups.filter(isTrained), ...replay];
    if (trained.length > 0) metrics['human/reward_share'] = this.human.share(trained);
    if (metrics['update/skipped']) this.store.log.append(this.runId, 'warn', `step ${step}: non-finite gradient norm, update skipped`);

    if (this.cfg.eval.every > 0 && step % this.cfg.eval.every === 0) {
      const env = {
        cfg: this.cfg,
        policy: this.policy,
        scenario: this.scenario,
        tasks: this.opts.tasks,
        store: this.store,
        runId: this.runId,
      };
      Object.assign(
        metrics,
        await evaluateHeldOut({ ...env, ...(this.opts.components ? { components: this.opts.components } : {}) }, step),
      );
    }
    const stepSeconds = (performance.now() - t0) / 1000;
    Object.assign(metrics, { 'time/step': stepSeconds, samples_per_s: (items.length * this.cfg.rollout.groupSize) / stepSeconds });
    this.store.metrics.log(this.runId, step, metrics);
    this.opts.onStep?.({
      runId: this.runId,
      step,
      totalSteps: this.cfg.steps,
      metrics,
      elapsedSeconds: (Date.now() - this.started) / 1000,
      limitSeconds: this.cfg.minutes === null ? null : this.cfg.minutes * 60,
    });
    this.ctx.progress({ done: step, total: this.cfg.steps, message: `step ${step}: reward ${metrics['reward/mean']!.toFixed(3)}` });
    this.human.expire(step);
  }

  /** Stores a scored group by the storage policy, sent to the ranking queue or not. */
  private record(group: ScoredGroup, index: number, groups: number): void {
    const routing = this.human.route(group, index, groups);
    const storage = latentStorageOf(this.cfg, { step: group.step, index, ranked: routing.ranked });
    recordGroup(this.store, this.runId, this.scenario, group, routing, storage);
    this.human.stored(group, routing);
  }
}
