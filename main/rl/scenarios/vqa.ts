// Multimodal reasoning: a rendered scene and a yes/no question about it -> the LM's answer (LM term),
// rewarded for its correctness and format. Questions alternate between a 'yes' and a 'no' case.
import { formats } from '../../models/formats.ts';
import { sampleQuestionPair } from '../../world/questions.ts';
import { renderScene } from '../../world/render.ts';
import { evaluateAnswers } from './evaluations.ts';
import { json } from './json.ts';
import { singleTurnScenario } from './single-turn.ts';

export const vqa = singleTurnScenario({
  name: 'vqa',
  writes: true,
  draws: false,
  taskKinds: 1,
  task: (rng, index) => {
    const pair = sampleQuestionPair(rng);
    const question = index % 2 === 0 ? pair.yes : pair.no;
    return {
      task: `question_${pair.type}`,
      text: question.text,
      spec: json({ scene: pair.scene, answer: question.answer }),
      target: { answer: question.answer, format: 'answer' },
      image: renderScene(pair.scene),
    };
  },
  prompt: (it) => formats.question(it.text),
  evaluate: evaluateAnswers,
});
