// Text reasoning: a vague prompt answered in text with a concrete rewrite (LM term), rewarded when the
// rewrite satisfies the prompt's constraints and for the reasoning's format. Three prompts in four are of the
// harder forms (vague.ts HARD_VAGUE_FORMS): pretraining already solves the four basic ones (sampled accuracy
// 0.99-1.0, so their groups have no reward spread). The basic fourth is rehearsal: trained on the hard forms
// alone, 1,200 steps lost 5 points of them (single-object riddles answered with two objects).
import { formats } from '../../models/formats.ts';
import { rewriteSatisfies, sampleHardVaguePrompt, sampleVaguePrompt } from '../../world/vague.ts';
import { evaluateAnswers } from './evaluations.ts';
import { json } from './json.ts';
import { singleTurnScenario } from './single-turn.ts';

export const text = singleTurnScenario({
  name: 'text',
  writes: true,
  draws: false,
  taskKinds: 1,
  task: (rng) => {
    const vague = rng.next() < 0.25 ? sampleVaguePrompt(rng) : sampleHardVaguePrompt(rng);
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
