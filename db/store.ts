// The Store: one connection and the typed repositories over it.
import type { Database } from 'better-sqlite3';
import { openDatabase } from './open.ts';
import { CheckpointsRepo } from './repos/checkpoints.ts';
import type { RepoContext } from './repos/context.ts';
import { EditsRepo } from './repos/edits.ts';
import { EvaluationsRepo } from './repos/evaluations.ts';
import { EventsRepo } from './repos/events.ts';
import { GroupsRepo } from './repos/groups.ts';
import { MetricsRepo } from './repos/metrics.ts';
import { PreferencesRepo } from './repos/preferences.ts';
import { PromptsRepo } from './repos/prompts.ts';
import { RankingsRepo } from './repos/rankings.ts';
import { ReflectionsRepo } from './repos/reflections.ts';
import { RunsRepo } from './repos/runs.ts';
import { SamplesRepo } from './repos/samples.ts';

export interface StoreOptions {
  /** Clock in ms since the epoch (tests pin it). */
  now?: () => number;
}

export class Store {
  readonly runs: RunsRepo;
  readonly checkpoints: CheckpointsRepo;
  readonly prompts: PromptsRepo;
  readonly groups: GroupsRepo;
  readonly samples: SamplesRepo;
  readonly rankings: RankingsRepo;
  readonly metrics: MetricsRepo;
  readonly log: EventsRepo;
  readonly reflections: ReflectionsRepo;
  readonly edits: EditsRepo;
  readonly preferences: PreferencesRepo;
  readonly evaluations: EvaluationsRepo;

  constructor(
    readonly db: Database,
    options: StoreOptions = {},
  ) {
    const ctx: RepoContext = { db, now: options.now ?? Date.now };
    this.runs = new RunsRepo(ctx);
    this.checkpoints = new CheckpointsRepo(ctx);
    this.prompts = new PromptsRepo(ctx);
    this.samples = new SamplesRepo(ctx);
    this.rankings = new RankingsRepo(ctx);
    this.groups = new GroupsRepo(ctx, this.samples, this.rankings);
    this.metrics = new MetricsRepo(ctx);
    this.log = new EventsRepo(ctx);
    this.reflections = new ReflectionsRepo(ctx);
    this.edits = new EditsRepo(ctx);
    this.preferences = new PreferencesRepo(ctx);
    this.evaluations = new EvaluationsRepo(ctx);
  }

  /** Runs `fn` in one transaction (repository calls inside nest as savepoints); rolls back if it throws. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Refreshes the planner's statistics where they are stale (cheap), then closes. */
  close(): void {
    if (!this.db.open) return;
    this.db.pragma('optimize');
    this.db.close();
  }
}

/** Opens (creating and migrating) the store at `path`, or an in-memory one for ':memory:'. */
export function openStore(path: string, options: StoreOptions = {}): Store {
  return new Store(openDatabase(path), options);
}
