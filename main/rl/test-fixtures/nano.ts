// A nano unified model for the GRPO tests.
import { getPreset } from '../../models/config.ts';
import { shapeWorldTokenizer } from '../../models/data.ts';
import { UnifiedModel } from '../../models/unified.ts';
import { Rng } from '../../world/rng.ts';

export const nanoTokenizer = shapeWorldTokenizer();

/**
 * A nano model with every parameter nudged off its initialisation: the zero-initialised parts (adaLN-zero,
 * the reference patch embedding) would otherwise make the DiT ignore its condition and reference, and the
 * on-policy checks could not tell a turn conditioned on the wrong image or text from the right one.
 */
export function nanoModel(seed: number): UnifiedModel {
  const model = UnifiedModel.create(getPreset('nano'), nanoTokenizer, { seed, threads: 1 });
  const rng = new Rng(seed);
  const flat = model.store.flat;
  for (let i = 0; i < flat.length; i++) flat[i] = flat[i]! + 0.05 * rng.normal();
  return model;
}
