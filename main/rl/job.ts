// A GRPO run put together from plain, serialisable parameters: the store in the data dir, the config
// (scenario preset, stored run, overrides), the starting weights, the unified-model policy and the
// ShapeWorld prompts. The CLI (`unirl train`) and the compute worker's job both call `trainJob`.
import { existsSync } from 'node:fs';
import type { Run, Scenario } from '../../contract/domain.ts';
import { resolveDataDir } from '../../db/datadir.ts';
import { openStore } from '../../db/store.ts';
import type { JobContext } from '../compute/job-context.ts';
import { getPreset } from '../models/config.ts';
import { shapeWorldTokenizer } from '../models/data.ts';
import { DEFAULT_CHECKPOINT } from '../models/generator.ts';
import { defaultCheckpointPath } from '../models/pretrain.ts';
import { UnifiedModel } from '../models/unified.ts';
import type { Criterion } from '../world/criteria.ts';
import { startScriptedAnnotator } from './annotator.ts';
import { NANO_OVERRIDES, parseTrainConfig, resolveTrainConfig, type TrainConfig } from './config.ts';
import { describeOwner, liveOwner, runDirOf } from './owner.ts';
import { shapeWorldTasks } from './tasks.ts';
import { train, type StepSummary, type TrainResult } from './trainer.ts';
import { UnifiedPolicy } from './unified.ts';

export interface TrainJobParams {
  /** The data dir (database, checkpoints); resolved like --data-dir. */
  dataDir?: string;
  scenario: Scenario;
  /** Overrides over the scenario preset, or over the stored config when resuming (JSON, validated). */
  config?: unknown;
  /** Apply the nano sizes (NANO_OVERRIDES) before `config`. */
  nano?: boolean;
  /** Continue this run (from its latest checkpoint). */
  runId?: number;
  runName?: string;
  /** Start from these weights (else the data dir's pretrained weights, else the shipped base). */
  checkpoint?: string;
  /** Rank the queued groups with a scripted annotator by this hidden criterion (needs human mode sync or async). */
  scriptedAnnotator?: Criterion;
}

export interface TrainJobHooks {
  onStep?: (summary: StepSummary) => void;
  /** A line for the user (where the weights came from, the data dir). */
  log?: (line: string) => void;
  cancelledStatus?: () => 'stopped' | 'paused';
  /** A status the run was given (by this job or the trainer). */
  onStatus?: (run: Run) => void;
}

/** The weights GRPO starts from (also the frozen reference). */
export function startingModel(
  config: TrainConfig,
  dataDir: string,
  explicit?: string,
): { model: UnifiedModel; source: string; path?: string; metadata: Record<string, string> } {
  const runtime = { threads: config.runtime.threads, provider: config.runtime.provider };
  const candidates = [
    explicit,
    config.model.checkpoint ?? undefined,
    defaultCheckpointPath(dataDir, config.model.preset),
    config.model.preset === 'base' ? DEFAULT_CHECKPOINT : undefined,
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (explicit && found !== explicit) throw new Error(`checkpoint ${explicit}: no such file`);
  if (found) return { ...UnifiedModel.load(found, runtime), source: found, path: found };
  if (config.model.preset === 'nano') {
    return {
      model: UnifiedModel.create(getPreset('nano'), shapeWorldTokenizer(), { ...runtime, seed: config.seed }),
      source: 'random nano weights (nothing pretrained)',
      metadata: {},
    };
  }
  throw new Error(
    `no weights for preset '${config.model.preset}': looked at ${candidates.join(', ')} ` +
      `(run "unirl pretrain --preset ${config.model.preset}" or pass a checkpoint)`,
  );
}

export async function trainJob(params: TrainJobParams, ctx: JobContext, hooks: TrainJobHooks = {}): Promise<TrainResult> {
  const { dir: dataDir, dbPath } = resolveDataDir({ cliDir: params.dataDir });
  const store = openStore(dbPath);
  try {
    const stored = params.runId !== undefined ? store.runs.get(params.runId) : undefined;
    if (stored && stored.scenario !== params.scenario)
      throw new Error(`run ${stored.id} is a ${stored.scenario} run, not ${params.scenario}`);
    if (stored?.status === 'running') {
      const owner = liveOwner(runDirOf(dataDir, stored.id));
      if (owner) throw new Error(describeOwner(stored.id, owner));
      // Its trainer died mid-run (killed, out of memory): the run goes on from its latest checkpoint.
      const interrupted = store.runs.setStatus(stored.id, 'interrupted');
      hooks.onStatus?.(interrupted);
      hooks.log?.(`run ${stored.id} was left running by a trainer that is gone; resuming it`);
    }
    const config = stored
      ? resolveTrainConfig(params.scenario, parseTrainConfig(stored.config), params.config)
      : resolveTrainConfig(params.scenario, params.nano ? NANO_OVERRIDES : undefined, params.config);
    if (stored?.status === 'completed' && config.steps <= stored.step && config.minutes === null) {
      throw new Error(
        `run ${stored.id} completed its ${stored.step} steps: give more (--steps N with N > ${stored.step}, or --minutes M) to continue it`,
      );
    }
    if (params.scriptedAnnotator && config.human.mode === 'off') throw new Error('a scripted annotator needs human mode sync or async');
    const { model, source, path, metadata } = startingModel(config, dataDir, params.checkpoint);
    // A new run records the weights it starts from (reproducible, and the UI reads its tokenizer there).
    const runConfig = stored || !path ? config : { ...config, model: { ...config.model, checkpoint: path } };
    hooks.log?.(`data dir ${dataDir}`);
    hooks.log?.(
      `${params.scenario}: ` +
        `${stored ? `resuming run ${stored.id} from its latest checkpoint (KL reference: ${source})` : `starting from ${source}`}; ` +
        `${config.minutes !== null ? `${config.minutes} min or ` : ''}${config.steps} steps, G=${config.rollout.groupSize}, ` +
        `${config.rollout.promptsPerStep} prompts/step, human ${config.human.mode}`,
    );
    const stopAnnotator = params.scriptedAnnotator ? startScriptedAnnotator(store, params.scriptedAnnotator) : undefined;
    try {
      return await train(
        {
          config: runConfig,
          store,
          dataDir,
          policy: new UnifiedPolicy(model, params.scenario, metadata, config.runtime.samplesPerPass),
          tasks: shapeWorldTasks(params.scenario, { seed: config.seed, heldoutPerTask: config.eval.promptsPerTask }),
          ...(stored ? { runId: stored.id } : params.runName ? { runName: params.runName } : {}),
          ...(hooks.onStep ? { onStep: hooks.onStep } : {}),
          ...(hooks.cancelledStatus ? { cancelledStatus: hooks.cancelledStatus } : {}),
          ...(hooks.onStatus ? { onStatus: hooks.onStatus } : {}),
        },
        ctx,
      );
    } finally {
      stopAnnotator?.();
      await model.dispose();
    }
  } finally {
    store.close();
  }
}
