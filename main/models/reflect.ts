// The greedy reflection cycle, shared by ShapeEval's `model` generator (the `refine` suite) and the RL
// trainer's held-out evaluation of the reflect scenario: prompt -> first image -> the LM critiques the
// latest image -> if it finds an error, the DM edits that image with the corrected instruction -> ...
// up to `rounds` critiques. The callers choose how images are drawn (their seeds) and how text is decoded.
import type { ReflectResult } from '../world/generators.ts';
import { toFloat, type ImageRGB } from '../world/image.ts';
import { formats, readCritique } from './formats.ts';
import type { ImagePrompt } from './sample.ts';

export interface ReflectHooks {
  /** Images for `prompts`; `round` 0 is the first image, k the k-th refinement; `which` are the cycles drawn. */
  draw(prompts: ImagePrompt[], round: number, which: readonly number[]): Promise<ImageRGB[]>;
  /** The LM's completions (critiques) for the prompts with their images. */
  decode(prompts: { text: string; image: Float32Array }[]): Promise<string[]>;
}

/** One cycle per request: every image, and the critique of each judged image (a 'wrong' one is followed by its refinement). */
export async function reflectCycles(
  requests: readonly { prompt: string; rounds: number }[],
  hooks: ReflectHooks,
): Promise<ReflectResult[]> {
  const first = await hooks.draw(
    requests.map((r) => ({ text: formats.generate(r.prompt), querySet: 'generate' })),
    0,
    requests.map((_, i) => i),
  );
  const out: ReflectResult[] = first.map((image) => ({ images: [image], rounds: [] }));
  const latest = (i: number) => out[i]!.images[out[i]!.images.length - 1]!;
  let active = requests.map((_, i) => i);
  for (let round = 1; active.length > 0; round++) {
    active = active.filter((i) => round <= requests[i]!.rounds);
    if (active.length === 0) break;
    const completions = await hooks.decode(
      active.map((i) => ({ text: formats.critique(requests[i]!.prompt), image: toFloat(latest(i)).data })),
    );
    const refine: { i: number; fix: string }[] = [];
    active.forEach((i, j) => {
      const read = readCritique(completions[j]!);
      out[i]!.rounds.push({
        critique: completions[j]!.replace(/<eos>.*$/, '').trim(),
        verdict: read.verdict,
        ...(read.verdict === 'wrong' ? { fix: read.fix } : {}),
      });
      if (read.verdict === 'wrong') refine.push({ i, fix: read.fix });
    });
    if (refine.length === 0) break;
    const refined = await hooks.draw(
      refine.map(({ i, fix }) => ({ text: formats.edit(fix), querySet: 'edit', source: toFloat(latest(i)).data })),
      round,
      refine.map(({ i }) => i),
    );
    refine.forEach(({ i }, j) => out[i]!.images.push(refined[j]!));
    active = refine.map(({ i }) => i);
  }
  return out;
}
