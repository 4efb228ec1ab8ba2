// Text-to-image: a GenEval-task prompt -> an image (DM term), rewarded by ShapeEval's fractional reward.
import { formats } from '../../models/formats.ts';
import { samplePrompt } from '../../world/prompts.ts';
import { GENEVAL_TASKS } from '../../world/spec.ts';
import type { Rng } from '../../world/rng.ts';
import type { TaskItem } from '../policy.ts';
import { evaluateImages } from './evaluations.ts';
import { json } from './json.ts';
import { promptImages, singleTurnScenario } from './single-turn.ts';

/** The six GenEval tasks in turn (shared with reflection, which draws the same prompts). */
export function genevalTask(rng: Rng, index: number): TaskItem {
  const prompt = samplePrompt(GENEVAL_TASKS[index % GENEVAL_TASKS.length]!, rng);
  return { task: prompt.task, text: prompt.text, spec: json(prompt.spec), target: { spec: prompt.spec } };
}

const prompt = (it: TaskItem) => formats.generate(it.text);

export const t2i = singleTurnScenario({
  name: 't2i',
  writes: false,
  draws: true,
  taskKinds: GENEVAL_TASKS.length,
  task: genevalTask,
  prompt,
  imagePrompts: promptImages(prompt),
  evaluate: evaluateImages,
});
