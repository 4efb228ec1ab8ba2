// ShapeWorld prompts for each GRPO scenario, deterministic in (seed, step), and the held-out evaluation set.
//   t2i   GenEval-task prompts (the six tasks in turn)       -> ShapeEval's fractional reward
//   cot   vague prompts (reasoning, then an image)           -> ShapeEval against the constraint set + format
//   text  vague prompts answered in text (a concrete rewrite) -> the rewrite satisfies the constraints + format
//   vqa   a rendered scene and a yes/no question              -> answer correctness + format
import type { JsonValue, Scenario } from '../../contract/domain.ts';
import { groundTruth } from '../world/evaluate.ts';
import { parsePrompt, samplePrompt, sampleSceneForSpec } from '../world/prompts.ts';
import { sampleQuestionPair } from '../world/questions.ts';
import { renderScene } from '../world/render.ts';
import { mixSeeds, Rng } from '../world/rng.ts';
import { GENEVAL_TASKS, type PromptSpec } from '../world/spec.ts';
import { sampleVaguePrompt } from '../world/vague.ts';
import type { TaskItem, TaskSource } from './policy.ts';

/** Whether a concrete rewrite (a prompt of the grammar) denotes scenes that satisfy `spec`. */
export function rewriteSatisfies(rewrite: string, spec: PromptSpec, seed = 0): boolean {
  let concrete: PromptSpec;
  try {
    concrete = parsePrompt(rewrite);
  } catch {
    return false;
  }
  // A scene drawn for the rewrite must meet the vague prompt's constraints.
  return groundTruth(sampleSceneForSpec(concrete, new Rng(seed)), spec).correct;
}

const json = (value: unknown) => JSON.parse(JSON.stringify(value)) as JsonValue;

function item(scenario: Scenario, rng: Rng, index: number): TaskItem {
  switch (scenario) {
    case 't2i': {
      const prompt = samplePrompt(GENEVAL_TASKS[index % GENEVAL_TASKS.length]!, rng);
      return { task: prompt.task, text: prompt.text, spec: json(prompt.spec), target: { spec: prompt.spec } };
    }
    case 'cot': {
      const vague = sampleVaguePrompt(rng);
      return { task: 'vague', text: vague.text, spec: json(vague.spec), target: { spec: vague.spec, format: 'reasoned' } };
    }
    case 'text': {
      const vague = sampleVaguePrompt(rng);
      return {
        task: 'vague_text', text: vague.text, spec: json({ constraints: vague.spec, reference: vague.rewrite }),
        target: { format: 'reasoned', answerCheck: (answer) => rewriteSatisfies(answer, vague.spec) },
      };
    }
    case 'vqa': {
      const pair = sampleQuestionPair(rng);
      const question = index % 2 === 0 ? pair.yes : pair.no;
      return {
        task: `question_${pair.type}`, text: question.text, spec: json({ scene: pair.scene, answer: question.answer }),
        target: { answer: question.answer, format: 'answer' }, image: renderScene(pair.scene),
      };
    }
    case 'edit':
    case 'reflect':
      throw new Error(`scenario '${scenario}' has no task source yet (issue 7)`);
  }
}

/** Prompts for a scenario: step s draws from its own seeded stream; the held-out set from another. */
export function shapeWorldTasks(scenario: Scenario, options: { seed?: number; heldoutPerTask?: number } = {}): TaskSource {
  const seed = options.seed ?? 0;
  const heldoutCount = (options.heldoutPerTask ?? 8) * (scenario === 't2i' ? GENEVAL_TASKS.length : 1);
  item(scenario, new Rng(seed), 0); // fail now, not at the first step, for a scenario without prompts
  const heldout = Array.from({ length: heldoutCount }, (_, i) => item(scenario, new Rng(mixSeeds(seed, 0x4e1d, i)), i));
  return {
    next: (count, step) => Array.from({ length: count }, (_, i) => item(scenario, new Rng(mixSeeds(seed, step, i)), step * count + i)),
    heldout: () => heldout,
  };
}
