// The Generator interface every evaluated system implements (text-to-image, editing, question answering,
// critique, text rewrites of vague prompts, reflection cycles), a registry by name, and the two reference generators:
// `oracle` (renders the ground truth: must score ~1) and `noise` (random images and words: must score ~0 on images).
import { noiseImage, type ImageRGB } from './image.ts';
import { NUMBER_WORDS, parsePrompt, sampleSceneForSpec } from './prompts.ts';
import { CORRECT_CRITIQUE, type CritiqueVerdict } from './reflection.ts';
import { renderScene } from './render.ts';
import { Rng, mixSeeds, seedFromText } from './rng.ts';
import { COLORS, SHAPES, type Scene } from './scene.ts';
import type { PromptSpec } from './spec.ts';

export interface TextToImageRequest {
  prompt: string;
  seed: number;
  width: number;
  height: number;
  /** Ground truth, for reference generators only: a model must not read it. */
  truth?: PromptSpec;
}

export interface EditRequest {
  source: ImageRGB;
  instruction: string;
  seed: number;
  /** Ground truth, for reference generators only. */
  truth?: Scene;
}

export interface QuestionRequest {
  image: ImageRGB;
  question: string;
  /** Ground truth, for reference generators only. */
  truth?: string;
}

export interface CritiqueRequest {
  image: ImageRGB;
  /** The prompt the image was meant to show. */
  prompt: string;
  /** Ground truth, for reference generators only. */
  truth?: string;
}

export interface RewriteRequest {
  /** The vague prompt to reason about and rewrite concretely. */
  prompt: string;
  /** Ground truth (a reference rewrite), for reference generators only. */
  truth?: string;
}

/** One reflection cycle to run: draw the prompt (the first image is the single-shot image of `seed`), then up
 *  to `rounds` rounds of critique -> refinement. */
export interface ReflectRequest {
  prompt: string;
  seed: number;
  width: number;
  height: number;
  /** Most critique rounds (K). */
  rounds: number;
  /** Ground truth, for reference generators only. */
  truth?: PromptSpec;
}

/** One critique round: the critique of the current image and what it concluded. */
export interface ReflectRound {
  /** The critique as written (for the model: the whole completion, critique and corrected instruction). */
  critique: string;
  /** 'wrong': the image was refined (the next image follows); 'correct': the cycle ended here. */
  verdict: CritiqueVerdict;
  /** The corrected instruction the refinement followed ('wrong' only). */
  fix?: string;
}

/** A reflection cycle as the generator ran it, unscored: `rounds[k]` judged `images[k]`; a 'wrong' verdict
 *  is followed by its refinement `images[k + 1]`, a 'correct' one ends the cycle (so images.length = 1 + the
 *  number of 'wrong' verdicts, and only the last round may say 'correct'). */
export interface ReflectResult {
  images: ImageRGB[];
  rounds: ReflectRound[];
}

/** Any system ShapeEval can judge. Each capability is optional; suites skip tasks a generator lacks.
 *  Calls are batched: the i-th output answers the i-th request. */
export interface Generator {
  readonly name: string;
  /** Largest batch the generator wants per call (default 64). */
  readonly maxBatch?: number;
  textToImage?(requests: TextToImageRequest[]): Promise<ImageRGB[]>;
  edit?(requests: EditRequest[]): Promise<ImageRGB[]>;
  answer?(requests: QuestionRequest[]): Promise<string[]>;
  critique?(requests: CritiqueRequest[]): Promise<string[]>;
  /** The whole text answer to a vague prompt: reasoning (optional) and the concrete rewrite, in the LM's
   *  format (`... </think> <answer> REWRITE </answer>`) or bare; the scorer reads the answer as the RL
   *  `text` reward does (vague.ts extractAnswer). */
  rewrite?(requests: RewriteRequest[]): Promise<string[]>;
  /** Reflection cycles (the `refine` suite): images and critiques only; ShapeEval scores every image itself. */
  reflect?(requests: ReflectRequest[]): Promise<ReflectResult[]>;
  dispose?(): Promise<void>;
}

export type GeneratorFactory = (options: Record<string, unknown>) => Generator | Promise<Generator>;

const registry = new Map<string, { description: string; factory: GeneratorFactory }>();

/** Makes a generator available by name (the model issue registers its model here). */
export function registerGenerator(name: string, description: string, factory: GeneratorFactory): void {
  if (!/^[a-z][a-z0-9_-]*$/.test(name)) throw new Error(`registerGenerator: bad name "${name}" (lower case, digits, - and _)`);
  registry.set(name, { description, factory });
}

export function listGenerators(): { name: string; description: string }[] {
  return [...registry].map(([name, { description }]) => ({ name, description }));
}

export async function createGenerator(name: string, options: Record<string, unknown> = {}): Promise<Generator> {
  const entry = registry.get(name);
  if (!entry) throw new Error(`unknown generator "${name}"; generators: ${[...registry.keys()].join(', ')}`);
  return entry.factory(options);
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`oracle: the request carries no ground truth (${what})`);
  return value;
}

export const oracleGenerator: Generator = {
  name: 'oracle',
  async textToImage(requests) {
    // Concrete prompts parse; vague ones need the ground-truth spec.
    return requests.map((r) => renderScene(sampleSceneForSpec(r.truth ?? parsePrompt(r.prompt), new Rng(r.seed)), r));
  },
  async edit(requests) {
    return requests.map((r) => renderScene(need(r.truth, 'target scene'), { width: r.source.width, height: r.source.height }));
  },
  async answer(requests) {
    return requests.map((r) => need(r.truth, 'answer'));
  },
  async critique(requests) {
    return requests.map((r) => need(r.truth, 'critique'));
  },
  async rewrite(requests) {
    return requests.map((r) => need(r.truth, 'reference rewrite'));
  },
  async reflect(requests) {
    // Its first image is right: one critique says so and ends the cycle.
    const images = await oracleGenerator.textToImage!(requests);
    return images.map((image) => ({ images: [image], rounds: [{ critique: CORRECT_CRITIQUE, verdict: 'correct' as const }] }));
  },
};

const NOISE_WORDS = ['yes', 'no', ...NUMBER_WORDS, ...COLORS, ...SHAPES, 'the', 'is', 'image', 'left', 'right', 'above', 'below'];

export const noiseGenerator: Generator = {
  name: 'noise',
  async textToImage(requests) {
    return requests.map((r) => noiseImage(r.width, r.height, new Rng(r.seed)));
  },
  async edit(requests) {
    return requests.map((r) => noiseImage(r.source.width, r.source.height, new Rng(r.seed)));
  },
  async answer(requests) {
    // Chance level: a random word of the answer vocabulary (about 1 in 2 on a yes/no question it happens to answer).
    return requests.map((r) => new Rng(seedFromText(r.question)).pick(NOISE_WORDS));
  },
  async critique(requests) {
    return requests.map((r) => {
      const rng = new Rng(seedFromText(r.prompt));
      return Array.from({ length: 8 }, () => rng.pick(NOISE_WORDS)).join(' ');
    });
  },
  async rewrite(requests) {
    return requests.map((r) => {
      const rng = new Rng(seedFromText(r.prompt));
      return Array.from({ length: 6 }, () => rng.pick(NOISE_WORDS)).join(' ');
    });
  },
  async reflect(requests) {
    // Random critiques with coin-flip verdicts; a 'wrong' one "refines" to a fresh noise image.
    return requests.map((r) => {
      const rng = new Rng(mixSeeds(r.seed, 0xc417));
      const result: ReflectResult = { images: [noiseImage(r.width, r.height, new Rng(r.seed))], rounds: [] };
      for (let round = 1; round <= r.rounds; round++) {
        const critique = Array.from({ length: 8 }, () => rng.pick(NOISE_WORDS)).join(' ');
        if (rng.next() < 0.5) {
          result.rounds.push({ critique, verdict: 'correct' });
          break;
        }
        result.rounds.push({ critique, verdict: 'wrong', fix: critique });
        result.images.push(noiseImage(r.width, r.height, new Rng(mixSeeds(r.seed, round))));
      }
      return result;
    });
  },
};

registerGenerator('oracle', 'renders the ground truth (upper bound: must score ~1.0)', () => oracleGenerator);
registerGenerator('noise', 'uniform random images and random answer words (lower bound)', () => noiseGenerator);
