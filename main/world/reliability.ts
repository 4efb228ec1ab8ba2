// Measures how often ShapeEval's verdict on a rendered image agrees with the ground truth (the spec checked
// on the scene's true objects). Used by the tests and by bench/world.ts for the numbers in the docs.
import { groundTruth, score } from './evaluate.ts';
import { addGaussianNoise, boxBlur, type ImageRGB } from './image.ts';
import { samplePrompt, sampleSceneForSpec } from './prompts.ts';
import { REFLECTION_ERRORS, sampleReflection } from './reflection.ts';
import { renderScene } from './render.ts';
import { Rng } from './rng.ts';
import { sampleScene, type Scene } from './scene.ts';
import { GENEVAL_TASKS, type PromptSpec } from './spec.ts';

export type Degradation = 'clean' | 'noise_blur';

export interface ReliabilityResult {
  trials: number;
  agreement: number;
  /** Share of trials whose ground truth was "correct" (the mix is about a third). */
  positives: number;
  /** A few disagreements, for debugging. */
  disagreements: { prompt: string; truth: boolean; reason: string }[];
}

/**
 * Trials cycle through three kinds of (prompt, scene): the oracle scene of a random task prompt (true),
 * a scene wrong in a known way (reflection data: false), and a random scene of 1-4 objects (usually false).
 * `noise_blur` applies a 3x3 box blur, then Gaussian noise of std 0.1, to the render.
 */
export function measureReliability(trials: number, seed: number, degradation: Degradation, size = 32): ReliabilityResult {
  const rng = new Rng(seed);
  let agree = 0,
    positives = 0;
  const disagreements: ReliabilityResult['disagreements'] = [];
  for (let i = 0; i < trials; i++) {
    let prompt: string, spec: PromptSpec, scene: Scene;
    if (i % 3 === 0) {
      const p = samplePrompt(GENEVAL_TASKS[i % GENEVAL_TASKS.length]!, rng);
      ({ text: prompt, spec } = p);
      scene = sampleSceneForSpec(spec, rng);
    } else if (i % 3 === 1) {
      const r = sampleReflection(rng, REFLECTION_ERRORS[i % REFLECTION_ERRORS.length]!);
      ({ prompt, spec } = r);
      scene = r.wrongScene;
    } else {
      const p = samplePrompt(rng.pick(GENEVAL_TASKS), rng);
      ({ text: prompt, spec } = p);
      scene = sampleScene(rng);
    }
    const truth = groundTruth(scene, spec).correct;
    let image: ImageRGB = renderScene(scene, { width: size });
    if (degradation === 'noise_blur') image = addGaussianNoise(boxBlur(image, 1), 0.1, rng);
    const verdict = score(image, spec);
    if (truth) positives++;
    if (verdict.correct === truth) agree++;
    else if (disagreements.length < 10) disagreements.push({ prompt, truth, reason: verdict.reason });
  }
  return { trials, agreement: agree / trials, positives: positives / trials, disagreements };
}
