// A sample's denoising filmstrip drawn again on demand (issue 21): most samples keep only the seeds of their
// draws (config.storage), so their latents are re-drawn from the run's checkpoint nearest to the weights that
// drew them, with the same prompt, reasoning tokens, seeds and SDE schedule. With the exact weights (a
// checkpoint of the step before the sample's) the trajectory is the stored one up to float rounding
// (redraw.test.ts states the tolerance); from another checkpoint it shows how that model draws the same noise.
import type { RedrawView } from '../../contract/api.ts';
import type { DrawSeeds, Tensor } from '../../contract/domain.ts';
import { patchDims } from '../../contract/tensors.ts';
import { resolveDataDir } from '../../db/datadir.ts';
import { openStore } from '../../db/store.ts';
import type { Store } from '../../db/store.ts';
import { concatFloat32 } from '../engine/runtime/arrays.ts';
import { UnifiedModel } from '../models/unified.ts';
import { parseTrainConfig, resolveTrainConfig, type TrainConfig } from './config.ts';
import { startingModel } from './job.ts';
import { UnifiedPolicy } from './unified.ts';
import { rolloutOptionsOf } from './scenarios/scenario.ts';
import { mixSeeds } from '../world/rng.ts';

/** Labels of DM trajectories drawn from the prompt alone (t2i and CoT images, a reflection's first image). */
const FROM_PROMPT = new Set(['dm', 'generate']);

/** What the compute job returns: the API's RedrawView with the latents as a typed tensor. */
export type RedrawResult = Omit<RedrawView, 'trajectories'> & { trajectories: { trajectoryId: number; label: string; latents: Tensor }[] };

export async function redrawSample(params: { dataDir?: string; sampleId: number }): Promise<RedrawResult> {
  const { dir: dataDir, dbPath } = resolveDataDir({ cliDir: params.dataDir });
  const store = openStore(dbPath);
  try {
    return await redrawFrom(store, dataDir, params.sampleId);
  } finally {
    store.close();
  }
}

export async function redrawFrom(store: Store, dataDir: string, sampleId: number): Promise<RedrawResult> {
  const sample = store.samples.get(sampleId);
  const group = store.groups.get(sample.groupId);
  const run = store.runs.get(group.runId);
  const config = resolveTrainConfig(run.scenario, parseTrainConfig(run.config));
  const trajectories = store.samples.trajectories(sampleId);
  const reasoning =
    run.scenario === 'cot' ? trajectories.find((t) => t.kind === 'lm' && t.label === 'lm')?.tensors.tokenIds?.data : undefined;
  const skipped: RedrawResult['skipped'] = [];
  const drawable: { trajectoryId: number; label: string; seeds: DrawSeeds }[] = [];
  for (const t of trajectories.filter((t) => t.kind === 'dm')) {
    const reason = !t.seeds
      ? 'stored before seeds were kept'
      : !FROM_PROMPT.has(t.label)
        ? 'drawn from a source image: re-drawing covers images drawn from the prompt'
        : null;
    if (reason) skipped.push({ trajectoryId: t.id, label: t.label, reason });
    else drawable.push({ trajectoryId: t.id, label: t.label, seeds: t.seeds! });
  }
  const drawnWithStep = Math.max(0, group.step - 1);
  const result: RedrawResult = { sampleId, drawnWithStep, checkpointStep: drawnWithStep, trajectories: [], skipped };
  if (drawable.length === 0) return result;

  const { model, metadata, checkpointStep } = nearestWeights(store, config, dataDir, run.id, drawnWithStep);
  result.checkpointStep = checkpointStep;
  try {
    const policy = new UnifiedPolicy(model, run.scenario, metadata);
    // The step's own rollout options: the same SDE schedule and, with a window, the same window.
    const options = rolloutOptionsOf(config, { seed: mixSeeds(config.seed, group.step) });
    for (const d of drawable) {
      const { dm } = await policy.drawAgain(
        { prompt: group.prompt, ...(reasoning ? { reasoning: Array.from(reasoning, Number) } : {}) },
        d.seeds,
        options,
      );
      const latents: Tensor = { dtype: 'float32', shape: [dm.latents.length, ...patchDims(dm.grid)], data: concatFloat32(dm.latents) };
      result.trajectories.push({ trajectoryId: d.trajectoryId, label: d.label, latents });
    }
    return result;
  } finally {
    await model.dispose();
  }
}

/** The run's checkpoint nearest to `step` (the earlier on a tie), or the weights the run started from (step 0). */
function nearestWeights(
  store: Store,
  config: TrainConfig,
  dataDir: string,
  runId: number,
  step: number,
): { model: UnifiedModel; metadata: Record<string, string>; checkpointStep: number } {
  const runtime = { threads: config.runtime.threads, provider: config.runtime.provider };
  const candidates = [
    { step: 0, path: null as string | null },
    ...store.checkpoints.list(runId).map((c) => ({ step: c.step, path: c.path as string | null })),
  ];
  const nearest = candidates.reduce((best, c) => (Math.abs(c.step - step) < Math.abs(best.step - step) ? c : best));
  if (nearest.path === null) {
    const start = startingModel(config, dataDir);
    return { model: start.model, metadata: start.metadata, checkpointStep: 0 };
  }
  return { ...UnifiedModel.load(nearest.path, runtime), checkpointStep: nearest.step };
}
