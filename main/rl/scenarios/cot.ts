// CoT text-to-image: a vague prompt -> the LM's reasoning -> an image conditioned on the prompt and the
// reasoning (LM term on the reasoning, DM term on the image, one pass), rewarded by ShapeEval against the
// prompt's constraints and the reasoning's format.
import { formats } from '../../models/formats.ts';
import { sampleVaguePrompt } from '../../world/vague.ts';
import { evaluateImages } from './evaluations.ts';
import { json } from './json.ts';
import { singleTurnScenario } from './single-turn.ts';

export const cot = singleTurnScenario({
  name: 'cot',
  writes: true,
  draws: true,
  taskKinds: 1,
  task: (rng) => {
    const vague = sampleVaguePrompt(rng);
    return { task: 'vague', text: vague.text, spec: json(vague.spec), target: { spec: vague.spec, format: 'reasoned' } };
  },
  prompt: (it) => formats.think(it.text),
  // Evaluation images follow the greedy reasoning, as the rollout's follow the sampled one.
  imagePrompts: async (model, items, seed) => {
    const prompts = items.map((it) => formats.think(it.text));
    const reasoning = await model.writeGreedy(
      prompts.map((text) => ({ text })),
      seed,
    );
    return prompts.map((p, i) => ({ text: `${p} ${reasoning[i]}`, querySet: 'generate' as const }));
  },
  evaluate: evaluateImages,
});
