// Text reasoning: a vague prompt answered in text with a concrete rewrite (LM term), rewarded when the
// rewrite satisfies the prompt's constraints and for the reasoning's format. The prompts are the harder forms
// (vague.ts HARD_VAGUE_FORMS): pretraining already solves the four basic ones (sampled accuracy 0.99, so 97% of
// groups had no reward spread), and the `rewrite` suite checks that training on these does not lose them.
import { formats } from '../../models/formats.ts';
import { rewriteSatisfies, sampleHardVaguePrompt } from '../../world/vague.ts';
import { evaluateAnswers } from './evaluations.ts';
import { json } from './json.ts';
import { singleTurnScenario } from './single-turn.ts';

export const text = singleTurnScenario({
  name: 'text',
  writes: true,
  draws: false,
  taskKinds: 1,
  task: (rng) => {
    const vague = sampleHardVaguePrompt(rng);
    return {
      task: 'vague_text',
      text: vague.text,
      spec: json({ constraints: vague.spec, reference: vague.rewrite }),
      target: { format: 'reasoned', answerCheck: (answer) => rewriteSatisfies(answer, vague.spec) },
    };
  },
  prompt: (it) => formats.think(it.text),
  evaluate: evaluateAnswers,
});
