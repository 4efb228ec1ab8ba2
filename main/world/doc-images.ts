// Writes the example images of docs/shapeworld.md (deterministic: fixed seeds) and prints their captions.
// Usage: node --import tsx main/world/doc-images.ts [out-dir]   (default docs/img/shapeworld)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EDIT_KINDS, sampleEdit } from './edits.ts';
import { score } from './evaluate.ts';
import { addGaussianNoise, boxBlur, noiseImage, toFloat, type ImageRGB } from './image.ts';
import { encodePng } from './png.ts';
import { samplePrompt, sampleSceneForSpec } from './prompts.ts';
import { QUESTION_TYPES, sampleQuestionPair } from './questions.ts';
import { REFLECTION_ERRORS, sampleReflection } from './reflection.ts';
import { renderScene } from './render.ts';
import { Rng } from './rng.ts';
import { GENEVAL_TASKS } from './spec.ts';
import { sampleVaguePrompt } from './vague.ts';

const SCALE = 4;
const GAP = 2;

/** Images side by side with a white gap, [h, sum(w) + gaps, 3]. */
function row(images: ImageRGB[]): ImageRGB {
  const h = images[0]!.height;
  const w = images.reduce((s, im) => s + im.width, 0) + GAP * (images.length - 1);
  const data = new Float32Array(w * h * 3).fill(1);
  let x0 = 0;
  for (const im of images) {
    const src = toFloat(im).data;
    for (let y = 0; y < h; y++) data.set(src.subarray(y * im.width * 3, (y + 1) * im.width * 3), (y * w + x0) * 3);
    x0 += im.width + GAP;
  }
  return { width: w, height: h, data };
}

const outDir = process.argv[2] ?? 'docs/img/shapeworld';
mkdirSync(outDir, { recursive: true });
const lines: string[] = [];
const save = (name: string, image: ImageRGB, caption: string) => {
  writeFileSync(join(outDir, `${name}.png`), encodePng(image, SCALE));
  lines.push(`${name}.png | ${caption}`);
};

GENEVAL_TASKS.forEach((task, t) => {
  const rng = new Rng(1000 + t);
  for (let k = 0; k < 2; k++) {
    const p = samplePrompt(task, rng);
    const images = [0, 1, 2, 3].map(() => renderScene(sampleSceneForSpec(p.spec, rng)));
    save(`${task}_${k}`, row(images), `"${p.text}" (${images.map((im) => (score(im, p.spec).correct ? 'ok' : 'wrong')).join(', ')})`);
  }
});

{
  const rng = new Rng(2000);
  for (const form of ['object', 'colored_object', 'count', 'relation'] as const) {
    const v = sampleVaguePrompt(rng, form);
    const images = [0, 1, 2, 3].map(() => renderScene(sampleSceneForSpec(v.spec, rng)));
    save(`vague_${form}`, row(images), `"${v.text}" -> reasoning: "${v.reasoning}"`);
  }
}

{
  const rng = new Rng(3000);
  for (const kind of EDIT_KINDS) {
    const e = sampleEdit(rng, kind);
    save(`edit_${kind}`, row([renderScene(e.source), renderScene(e.target)]), `"${e.instruction}" (inverse: "${e.inverse}")`);
  }
}

{
  const rng = new Rng(4000);
  for (const type of QUESTION_TYPES) {
    const q = sampleQuestionPair(rng, type);
    save(`question_${type}`, renderScene(q.scene), `"${q.yes.text}" yes / "${q.no.text}" no`);
  }
}

{
  const rng = new Rng(5000);
  for (const error of REFLECTION_ERRORS) {
    const r = sampleReflection(rng, error);
    save(
      `reflection_${error}`,
      row([renderScene(r.wrongScene), renderScene(r.rightScene)]),
      `"${r.prompt}": "${r.critique}" fix: "${r.fix}"; scorer: ${score(renderScene(r.wrongScene), r.spec).reason}`,
    );
  }
}

{
  const rng = new Rng(6000);
  const p = samplePrompt('counting', rng);
  const clean = renderScene(sampleSceneForSpec(p.spec, rng));
  const degraded = addGaussianNoise(boxBlur(clean, 1), 0.1, rng);
  const noise = noiseImage(32, 32, rng);
  save(
    'robustness',
    row([clean, degraded, noise]),
    `"${p.text}": clean (${score(clean, p.spec).reason}), ` +
      `blur+noise (${score(degraded, p.spec).reason}), noise (${score(noise, p.spec).reason})`,
  );
  const big = renderScene(sampleSceneForSpec(p.spec, rng), { width: 64 });
  save('resolution_64', big, `"${p.text}" at 64x64 (${score(big, p.spec).reason})`);
}

process.stdout.write(lines.join('\n') + '\n');
