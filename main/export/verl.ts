// The hand-off to a cluster (docs/scale-out.md): a run's prompts as a verl RL dataset, plus the Python
// reward function verl loads (custom_reward_function.path) that asks this app's reward service to score
// the images the cluster draws.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExportedFile } from '../../contract/api.ts';
import type { Run } from '../../contract/domain.ts';
import type { Store } from '../../db/index.ts';
import { appPath } from '../paths.ts';
import type { TableSchema } from './parquet.ts';

export const VERL_DATA_SOURCE = 'unirl/shapeworld';
export const VERL_REWARD_FILE = 'unirl_reward.py';
/** Shipped with the app (assets/ is packaged; a path beside this module would not survive bundling). */
const REWARD_SOURCE = appPath('assets', 'verl', 'unirl_reward.py');

/** The columns verl's RLHFDataset reads (prompt = chat messages; reward_model.ground_truth reaches compute_score). */
export const VERL_SCHEMA: TableSchema = {
  data_source: 'string',
  prompt: { list: { struct: { role: 'string', content: 'string' } } },
  ability: 'string',
  reward_model: { struct: { style: 'string', ground_truth: 'string' } },
  extra_info: { struct: { split: 'string', index: 'int32', run_id: 'int32', prompt_id: 'int32', task: 'string', prompt: 'string' } },
};

/** Scenarios whose prompts ask for an image drawn from text alone, which the reward service can score. */
const IMAGE_SCENARIOS = new Set(['t2i', 'cot', 'reflect']);

/** One verl row per prompt of the run; ground_truth is the ShapeEval spec as JSON (what the scorer checks). */
export function verlRows(store: Store, run: Run): Record<string, unknown>[] {
  if (!IMAGE_SCENARIOS.has(run.scenario)) {
    throw new Error(
      `run ${run.id} (scenario ${run.scenario}): ` +
        `the verl export is for runs that draw images from prompts alone (${[...IMAGE_SCENARIOS].join(', ')})`,
    );
  }
  return store.prompts.forRun(run.id).map((prompt, index) => ({
    data_source: VERL_DATA_SOURCE,
    prompt: [{ role: 'user', content: prompt.text }],
    ability: 'text-to-image',
    reward_model: { style: 'rule', ground_truth: prompt.spec === null ? '' : JSON.stringify(prompt.spec) },
    extra_info: { split: 'train', index, run_id: run.id, prompt_id: prompt.id, task: prompt.task, prompt: prompt.text },
  }));
}

/** Copies the reward function beside the dataset and describes it for the manifest. */
export function writeVerlReward(outDir: string): ExportedFile {
  copyFileSync(REWARD_SOURCE, join(outDir, VERL_REWARD_FILE));
  return {
    path: VERL_REWARD_FILE,
    format: 'verl',
    rows: 0,
    fileFormat: 'python',
    description:
      "verl custom reward function: POSTs each image with its prompt and ground truth to the app's reward service " +
      '($UNIRL_REWARD_URL, token in $UNIRL_REWARD_TOKEN)',
    schema: {
      compute_score:
        '(data_source, solution_str, ground_truth, extra_info=None) -> {score: float, shapeeval, preference, human_rank}; ' +
        'solution_str = an image path, a data: URI or base64 PNG/JPEG bytes',
      compute_score_batch: '(data_sources, solution_strs, ground_truths, extra_infos) -> list of the same (one HTTP request)',
    },
  };
}
