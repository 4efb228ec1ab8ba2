// The `model` generator: the unified model behind ShapeEval's Generator interface, so
// `unirl eval --generator model [--checkpoint PATH]` scores the shipped weights or any checkpoint.
// Images: Euler ODE (40 steps by default); text: greedy decoding (or sampled at `temperature`). Vague prompts are reasoned about as the RL
// `text`/`cot` scenarios prompt them (formats.think): `rewrite` returns that completion, and `textToImage`
// with `reasoning` draws from it. `reflect` runs the RL `reflect` scenario's cycle greedily: the prompt drawn
// (formats.generate), then per round a critique (formats.critique, read by readCritique) and, when it says
// wrong, a refinement: an edit of the judged image with the corrected instruction (edit queries, the image as
// reference), seeded by the request's seed and round as the rollout's turns are.
import { registerGenerator, type Generator } from '../world/generators.ts';
import { toFloat, type ImageRGB } from '../world/image.ts';
import { mixSeeds } from '../world/rng.ts';
import { assertProviderName, type ProviderName } from '../engine/runtime/providers.ts';
import { Rng } from '../engine/runtime/rng.ts';
import { layoutOf } from './config.ts';
import { formats, parseCompletion } from './formats.ts';
import { reflectCycles } from './reflect.ts';
import { sampleImages, sampleText, type ImagePrompt } from './sample.ts';
import { UnifiedModel } from './unified.ts';
import { appPath } from '../paths.ts';

/** The shipped base weights. */
export const DEFAULT_CHECKPOINT = appPath('assets', 'models', 'base', 'model.safetensors');

export interface ModelGeneratorOptions {
  checkpoint?: string;
  /** ODE steps per image (default 40). */
  steps?: number;
  /** Time shift of the ODE step grid (default: the checkpoint's `time_shift` metadata, else 1 = uniform). */
  shift?: number;
  /** Classifier-free guidance scale (default: the checkpoint's `cfg_scale` metadata, else 1 = off). */
  cfgScale?: number;
  /** Let the LM reason (<think> ... <answer> rewrite) before drawing (the vague-prompt suite "with reasoning"). */
  reasoning?: boolean;
  /** LM decoding temperature for answers, critiques and rewrites (default 0 = greedy). Sampling at the
   *  rollout temperature (1) measures what RL trains: a greedy score can hide an unsure policy. */
  temperature?: number;
  threads?: number;
  /** Execution provider of the sessions (Settings' provider for the app's evaluations); default cpu. */
  provider?: ProviderName;
}

export async function createModelGenerator(options: ModelGeneratorOptions = {}): Promise<Generator & { model: UnifiedModel }> {
  const { model, metadata } = UnifiedModel.load(options.checkpoint ?? DEFAULT_CHECKPOINT, {
    threads: options.threads ?? 2,
    ...(options.provider ? { provider: options.provider } : {}),
  });
  const steps = options.steps ?? 40;
  // A checkpoint may recommend how to sample it (the shipped base does); an explicit option wins, else 1.
  const recommended = (option: number | undefined, key: string, what: string): number => {
    const value = option ?? (metadata[key] !== undefined ? Number(metadata[key]) : 1);
    if (!(value > 0)) throw new Error(`model generator: ${what} must be > 0, got ${value}`);
    return value;
  };
  const cfgScale = recommended(options.cfgScale, 'cfg_scale', 'cfg scale');
  const shift = recommended(options.shift, 'time_shift', 'time shift');
  const size = model.config.imageSize;
  const { ditTokens, ditPatchDim } = layoutOf(model.config);

  const draw = async (prompts: ImagePrompt[], seeds: number[]): Promise<ImageRGB[]> => {
    // Each request's own seed fixes its noise, so results do not depend on batching.
    const per = ditTokens * ditPatchDim;
    const noise = new Float32Array(prompts.length * per);
    seeds.forEach((seed, b) => {
      const rng = new Rng(seed);
      for (let i = 0; i < per; i++) noise[b * per + i] = rng.normal();
    });
    const { images } = await sampleImages(model, prompts, { sampler: 'ode', steps, shift, seed: seeds[0] ?? 0, noise, cfgScale });
    const pixels = size * size * 3;
    return prompts.map((_, b) => ({ width: size, height: size, data: images.slice(b * pixels, (b + 1) * pixels) }));
  };
  const checkSize = (w: number, h: number) => {
    if (w !== size || h !== size) throw new Error(`model generator: the model draws ${size}x${size} images, the suite asks for ${w}x${h}`);
  };
  const asFloat = (image: ImageRGB) => {
    checkSize(image.width, image.height);
    return toFloat(image).data;
  };
  const temperature = options.temperature ?? 0;
  if (!(temperature >= 0)) throw new Error(`model generator: temperature must be >= 0, got ${temperature}`);
  // A fixed seed per call keeps sampled answers reproducible for a given suite and batch size.
  const decode = async (prompts: { text: string; image?: Float32Array }[], maxTokens: number) =>
    (await sampleText(model, prompts, { maxTokens, temperature, seed: 0 })).texts;
  /** The reasoning completion of each vague prompt (`... </think> <answer> REWRITE </answer>`), cut at <eos>. */
  const reason = async (prompts: string[]) =>
    (
      await decode(
        prompts.map((p) => ({ text: formats.think(p) })),
        model.config.textLength,
      )
    ).map((c) => c.replace(/<eos>.*$/, '').trim());

  return {
    name: 'model',
    maxBatch: 64,
    model,
    async textToImage(requests) {
      requests.forEach((r) => checkSize(r.width, r.height));
      let texts = requests.map((r) => formats.generate(r.prompt));
      if (options.reasoning) {
        const completions = await reason(requests.map((r) => r.prompt));
        texts = requests.map((r, i) => `${formats.think(r.prompt)} ${completions[i]!}`);
      }
      return draw(
        texts.map((text) => ({ text, querySet: 'generate' })),
        requests.map((r) => r.seed),
      );
    },
    async edit(requests) {
      return draw(
        requests.map((r) => ({ text: formats.edit(r.instruction), querySet: 'edit', source: asFloat(r.source) })),
        requests.map((r) => r.seed),
      );
    },
    async answer(requests) {
      const texts = await decode(
        requests.map((r) => ({ text: formats.question(r.question), image: asFloat(r.image) })),
        8,
      );
      return texts.map((t) =>
        t
          .split('</answer>')[0]!
          .replace(/<[^>]+>/g, ' ')
          .trim(),
      );
    },
    async critique(requests) {
      const texts = await decode(
        requests.map((r) => ({ text: formats.critique(r.prompt), image: asFloat(r.image) })),
        64,
      );
      return texts.map((t) => parseCompletion(t).thinking ?? t.replace(/<[^>]+>/g, ' ').trim());
    },
    async rewrite(requests) {
      return reason(requests.map((r) => r.prompt));
    },
    async reflect(requests) {
      requests.forEach((r) => checkSize(r.width, r.height));
      // The first image is the single-shot image of the request's seed; refinement k uses turn k of that seed.
      return reflectCycles(requests, {
        draw: (prompts, round, which) =>
          draw(
            prompts,
            which.map((i) => (round === 0 ? requests[i]!.seed : mixSeeds(requests[i]!.seed, round))),
          ),
        decode: (prompts) => decode(prompts, model.config.textLength),
      });
    },
    async dispose() {
      await model.dispose();
    },
  };
}

function optionNumber(options: Record<string, unknown>, key: string): number | undefined {
  const v = options[key];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`model generator: option ${key} must be a number, got ${String(v)}`);
  return n;
}

registerGenerator('model', 'the unified model (shipped base weights, or --checkpoint PATH); 40-step ODE', (options) => {
  const o: ModelGeneratorOptions = {};
  if (typeof options.checkpoint === 'string') o.checkpoint = options.checkpoint;
  const steps = optionNumber(options, 'steps');
  if (steps !== undefined) o.steps = steps;
  const cfgScale = optionNumber(options, 'cfgScale') ?? optionNumber(options, 'cfg');
  if (cfgScale !== undefined) o.cfgScale = cfgScale;
  const shift = optionNumber(options, 'shift');
  if (shift !== undefined) o.shift = shift;
  if (options.reasoning === true || options.reasoning === 'true') o.reasoning = true;
  const temperature = optionNumber(options, 'temperature');
  if (temperature !== undefined) o.temperature = temperature;
  const threads = optionNumber(options, 'threads');
  if (threads !== undefined) o.threads = threads;
  if (typeof options.provider === 'string') {
    assertProviderName(options.provider);
    o.provider = options.provider;
  }
  return createModelGenerator(o);
});
