// People in the loop of a run: which groups go to the ranking queue and in which order, the groups kept
// in memory while their rankings may still arrive (async mode) or are waited for (sync mode), people's
// rankings and marks turned into rewards and advantages (stored, and fresh groups trained again), and the
// learned Bradley-Terry preference reward refitted as pairs come in.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../../db/store.ts';
import type { JobContext } from '../compute/job-context.ts';
import { decodePng } from '../world/png.ts';
import { mixSeeds, Rng } from '../world/rng.ts';
import { rewardWeights, type TrainConfig } from './config.ts';
import { humanShare, queueChoice, withFeedback, type GroupFeedback } from './feedback.ts';
import { assignAdvantages, type ScoredGroup } from './grpo.ts';
import type { Policy } from './policy.ts';
import { type PreferenceModel, trainPreferenceModel, type GroupedPair } from './preference.ts';
import { humanRankRewards, pairsFromRanks } from './ranking.ts';
import { recordRewards, type Routing } from './recorder.ts';
import type { RewardContext } from './rewards.ts';
import { totalReward } from './rewards.ts';

export class HumanFeedback {
  /** Stored groups kept in memory while their rankings may still arrive (training needs their rollouts). */
  private readonly live = new Map<number, ScoredGroup>();
  private readonly featureCache = new Map<number, Float32Array>();
  private preference: PreferenceModel | null = null;
  private pairsAtLastFit = 0;
  private lastRankingId = 0;
  /** Watermarks (ms) of the critique and edit marks already applied. */
  private marksSince = { critique: 0, edit: 0 };
  private readonly queueRng: Rng;

  constructor(
    private readonly cfg: TrainConfig,
    private readonly store: Store,
    private readonly runId: number,
    private readonly runDir: string,
    private readonly policy: Policy,
    private readonly ctx: JobContext,
    private readonly pollMs = 500,
  ) {
    this.queueRng = new Rng(mixSeeds(cfg.seed, runId, 0x9e11e));
  }

  /** The preference model is fitted when it is a reward, or when the queue policy orders groups by it. */
  get usesPreferenceModel(): boolean {
    return this.cfg.rewards.preference !== 0 || this.cfg.human.queue === 'uncertain' || this.cfg.human.queue === 'disagreement';
  }

  rewardContext(): RewardContext {
    return { preference: this.preference };
  }

  /** The first groupFraction of a step's groups go to the ranking queue, scored by the queue policy. */
  route(group: ScoredGroup, index: number, groups: number): Routing {
    const { human } = this.cfg;
    const ranked = human.mode !== 'off' && index < Math.round(human.groupFraction * groups);
    const preference = this.preference && group.features ? group.features.map((f) => this.preference!.score(f)) : null;
    return {
      ranked,
      rankingsNeeded: human.rankingsPerGroup,
      ...(ranked ? { queue: queueChoice(human.queue, group.rewards.map(totalReward), preference, this.queueRng) } : {}),
    };
  }

  /** A stored group: kept while people may answer on it; the Ranking screen's queue follows new ones live. */
  stored(group: ScoredGroup, routing: Routing): void {
    const ids = group.sampleIds!;
    if (group.features) ids.forEach((id, k) => this.featureCache.set(id, group.features![k]!));
    this.live.set(group.groupId!, group);
    if (routing.ranked) this.ctx.emit?.('group.created', this.store.groups.get(group.groupId!));
  }

  /**
   * Sync mode: waits until each of these groups is ranked, or skipped by someone (a skip releases the group:
   * it trains on its automatic rewards), or the timeout; then applies the answers.
   */
  async waitForRankings(groups: readonly ScoredGroup[], metrics: Record<string, number>, step: number): Promise<void> {
    const queued = groups.filter((g) => this.store.groups.get(g.groupId!).rankingStatus === 'pending');
    const deadline = Date.now() + this.cfg.human.syncTimeoutMinutes * 60_000;
    const waiting = () =>
      queued.filter((g) => {
        if (this.store.groups.get(g.groupId!).rankingStatus !== 'pending') return false;
        if (!this.store.rankings.forGroup(g.groupId!).some((r) => r.skipped)) return true;
        this.store.groups.closeQueue(g.groupId!, 'released');
        return false;
      });
    while (waiting().length > 0 && Date.now() < deadline) {
      this.ctx.checkCancelled();
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
    }
    const left = waiting();
    if (left.length > 0) {
      for (const g of left) this.store.groups.closeQueue(g.groupId!, 'timeout');
      this.store.log.append(this.runId, 'warn', `ranking timed out: ${left.length} groups go on with automatic rewards`);
    }
    metrics['human/released_groups'] = queued.filter((g) => this.store.groups.get(g.groupId!).queueClosed !== null).length;
    await this.apply(metrics, step);
  }

  /**
   * Applies people's answers that arrived since the last look (rankings, critique marks, edit marks): new
   * reward components and advantages for their groups (stored), a refit of the preference model when
   * enough new pairs came. Returns the groups of earlier steps still fresh enough (staleness limit) to be
   * trained again at `step` with their new advantages.
   */
  async apply(metrics: Record<string, number>, step: number): Promise<ScoredGroup[]> {
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
    const weights = rewardWeights(this.cfg);
    const replay: ScoredGroup[] = [];
    for (const groupId of touched) {
      const feedback = this.feedbackOf(groupId);
      const live = this.live.get(groupId);
      if (!live) {
        // Too old to train on: the store still gets people's rewards for the screens and exports.
        const members = this.store.samples.members(groupId);
        this.store.groups.updateRewards(
          groupId,
          members.map((s) => ({ sampleId: s.id, rewards: withFeedback([], s.id, feedback, weights) })),
        );
        continue;
      }
      const rewards = live.rewards.map((components, k) => withFeedback(components, live.sampleIds![k]!, feedback, weights));
      if (JSON.stringify(rewards) === JSON.stringify(live.rewards)) continue;
      live.rewards = rewards;
      assignAdvantages([live], this.cfg);
      recordRewards(this.store, live);
      if (live.step < step && !live.zeroStd) replay.push(live);
    }
    return replay;
  }

  /** The human rewards' share of what an update trains on. */
  share(groups: readonly ScoredGroup[]): number {
    return humanShare(groups.flatMap((g) => g.rewards));
  }

  /** Groups older than the staleness limit leave memory (and the queue, if still pending). */
  expire(step: number): void {
    for (const [id, g] of this.live) {
      if (step - g.step <= this.cfg.human.stalenessLimit) continue;
      this.live.delete(id);
      if (this.store.groups.get(id).rankingStatus === 'pending') this.store.groups.closeQueue(id, 'stale');
    }
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

  /** Refits the Bradley-Terry reward on every pair of the run's rankings once enough new pairs arrived. */
  private async maybeFitPreference(metrics: Record<string, number>): Promise<void> {
    if (!this.usesPreferenceModel) return;
    const p = this.cfg.preference;
    const pairs: GroupedPair[] = this.store.rankings
      .since(this.runId, 0)
      .flatMap((r) => pairsFromRanks(r.ranks).map((pair) => ({ ...pair, group: r.groupId })));
    if (pairs.length < p.minPairs || pairs.length - this.pairsAtLastFit < p.retrainEvery) return;
    const missing = [...new Set(pairs.flatMap((x) => [x.winner, x.loser]))].filter((id) => !this.featureCache.has(id));
    if (missing.length) {
      const images = missing.map((id) => decodePng(this.store.samples.imagePng(id) ?? failNoImage(id)));
      (await this.policy.features(images)).forEach((f, i) => this.featureCache.set(missing[i]!, f));
    }
    const fit = trainPreferenceModel(pairs, (id) => this.featureCache.get(id)!, {
      hidden: p.hidden,
      lr: p.lr,
      epochs: p.epochs,
      l2: p.l2,
      heldoutFraction: p.heldoutFraction,
      seed: this.cfg.seed,
    });
    this.preference = fit.model;
    this.pairsAtLastFit = pairs.length;
    mkdirSync(this.runDir, { recursive: true });
    const path = join(this.runDir, `preference-${pairs.length}.json`);
    writeFileSync(path, JSON.stringify(fit.model));
    this.store.preferences.add({
      runId: this.runId,
      path,
      trainPairs: fit.trainPairs,
      heldoutPairs: fit.heldoutPairs,
      heldoutAccuracy: fit.heldoutAccuracy,
    });
    metrics['preference/train_pairs'] = fit.trainPairs;
    if (fit.heldoutAccuracy !== null) metrics['preference/heldout_accuracy'] = fit.heldoutAccuracy;
  }
}

function failNoImage(sampleId: number): never {
  throw new Error(`preference model: sample ${sampleId} has no stored image`);
}
