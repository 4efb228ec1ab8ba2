// Text reasoning: a vague prompt answered in text with a concrete rewrite (LM term), rewarded when the
// rewrite satisfies the prompt's constraints and for the reasoning's format.
import { formats } from '../../models/formats.ts';
import { rewriteSatisfies, sampleVaguePrompt } from '../../world/vague.ts';
import { evaluateAnswers } from './evaluations.ts';
import { json } from './json.ts';
import { singleTurnScenario } from './single-turn.ts';

export const text = singleTurnScenario({
  name: 'text',
  writes: true,
  draws: false,
  taskKinds: 1,
  task: (rng) => {
    const vague = sampleVaguePrompt(rng);
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
