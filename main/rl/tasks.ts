// ShapeWorld prompts for each GRPO scenario, deterministic in (seed, step), and the held-out evaluation set.
//   t2i   GenEval-task prompts (the six tasks in turn)       -> ShapeEval's fractional reward
//   cot   vague prompts (reasoning, then an image)           -> ShapeEval against the constraint set + format
//   text  vague prompts answered in text (a concrete rewrite) -> the rewrite satisfies the constraints + format
//   vqa   a rendered scene and a yes/no question              -> answer correctness + format
//   edit  a rendered source scene and an edit instruction (the five kinds in turn), with its exact
//         target scene and inverse instruction                -> compliance, preservation, cycle consistency
//   reflect GenEval-task prompts (the six tasks in turn)      -> final ShapeEval, improvement, critique correctness
import type { JsonValue, Scenario } from '../../contract/domain.ts';
import { EDIT_KINDS, sampleEdit } from '../world/edits.ts';
import { samplePrompt } from '../world/prompts.ts';
import { sampleQuestionPair } from '../world/questions.ts';
import { renderScene } from '../world/render.ts';
import { mixSeeds, Rng } from '../world/rng.ts';
import { GENEVAL_TASKS } from '../world/spec.ts';
import { rewriteSatisfies, sampleVaguePrompt } from '../world/vague.ts';
import type { TaskItem, TaskSource } from './policy.ts';

const json = (value: unknown) => JSON.parse(JSON.stringify(value)) as JsonValue;

function item(scenario: Scenario, rng: Rng, index: number): TaskItem {
  switch (scenario) {
    case 't2i':
    case 'reflect': {
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
    case 'edit': {
      const edit = sampleEdit(rng, EDIT_KINDS[index % EDIT_KINDS.length]!);
      const source = renderScene(edit.source);
      return {
        task: `edit_${edit.kind}`, text: edit.instruction,
        spec: json({ kind: edit.kind, instruction: edit.instruction, inverse: edit.inverse, source: edit.source, target: edit.target }),
        target: { edit: { edit, source } }, image: source,
      };
    }
  }
}

/** Prompts for a scenario: step s draws from its own seeded stream; the held-out set from another. */
export function shapeWorldTasks(scenario: Scenario, options: { seed?: number; heldoutPerTask?: number } = {}): TaskSource {
  const seed = options.seed ?? 0;
  const tasksPerScenario = scenario === 't2i' || scenario === 'reflect' ? GENEVAL_TASKS.length : scenario === 'edit' ? EDIT_KINDS.length : 1;
  const heldoutCount = (options.heldoutPerTask ?? 8) * tasksPerScenario;
  item(scenario, new Rng(seed), 0); // fail now, not at the first step, for a scenario without prompts
  const heldout = Array.from({ length: heldoutCount }, (_, i) => item(scenario, new Rng(mixSeeds(seed, 0x4e1d, i)), i));
  return {
    next: (count, step) => Array.from({ length: count }, (_, i) => item(scenario, new Rng(mixSeeds(seed, step, i)), step * count + i)),
    heldout: () => heldout,
  };
}
