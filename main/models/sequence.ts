// Host-side packing of LM inputs. Every row is laid out as
//   slots [0, P)        image tokens (masked out when the row has no image)
//   slots [P, P+L)      text tokens, left-aligned, right-padded with <pad>
//   slots [P+L, P+L+Q)  meta-queries (when requested)
// Positions count only real tokens, so a row's padding is invisible: the same text gives the same
// hidden states whatever the batch's L. The attention bias is causal over slots and masks padding.
import { layoutOf, type ModelConfig } from './config.ts';
import type { QuerySet } from './connector.ts';
import { imagesToPatches } from './patches.ts';
import type { Tokenizer } from './tokenizer.ts';

/** Added to masked attention scores. */
export const MASKED = -1e9;

export interface SequenceItem {
  /** [S, S, 3] in [0, 1]: shown to the LM as image tokens. */
  image?: Float32Array;
  /** Token ids of the text. */
  text: readonly number[];
  /** Append this meta-query set after the text (image generation and editing). */
  querySet?: QuerySet;
}

export interface PackedSequences {
  batch: number;
  /** L: text slots (the longest text, at least `minTextLength`). */
  textLength: number;
  /** T = P + L (+ Q when `withQueries`). */
  length: number;
  withQueries: boolean;
  /** [B, P, vision patch dim] in [-1, 1]; zeros for rows without an image. */
  visionPatches: Float32Array;
  /** [B, L] */
  textIds: BigInt64Array;
  /** [B, T] */
  positions: BigInt64Array;
  /** [B, 1, T, T] additive attention bias. */
  bias: Float32Array;
  /** [B] 1 for the edit query set, 0 for generation. */
  editFlag: Float32Array;
  /** Real text length of each row. */
  textLengths: number[];
  /** Whether each row has an image. */
  hasImage: boolean[];
}

export function packSequences(
  config: ModelConfig,
  tokenizer: Tokenizer,
  items: readonly SequenceItem[],
  o: { withQueries: boolean; minTextLength?: number },
): PackedSequences {
  if (items.length === 0) throw new Error('packSequences: no items');
  const { imageTokens: P, visionPatchDim, sequence: maxSequence } = layoutOf(config);
  const Q = o.withQueries ? config.queries : 0;
  const L = Math.max(o.minTextLength ?? 1, ...items.map((it) => it.text.length));
  if (L > config.textLength) throw new Error(`packSequences: a text has ${L} tokens, the model takes at most ${config.textLength}`);
  const T = P + L + Q;
  const B = items.length;
  const pixels = config.imageSize * config.imageSize * 3;
  const images = new Float32Array(B * pixels);
  const textIds = new BigInt64Array(B * L).fill(BigInt(tokenizer.specials['<pad>']));
  const positions = new BigInt64Array(B * T);
  const bias = new Float32Array(B * T * T).fill(MASKED);
  const editFlag = new Float32Array(B);
  items.forEach((item, b) => {
    if (item.image) {
      if (item.image.length !== pixels)
        throw new Error(`packSequences: item ${b} image has ${item.image.length} values, expected ${pixels}`);
      images.set(item.image, b * pixels);
    }
    item.text.forEach((id, l) => {
      if (!Number.isInteger(id) || id < 0 || id >= tokenizer.vocabSize)
        throw new Error(`packSequences: item ${b} token ${l} is ${id}, outside the vocabulary`);
      textIds[b * L + l] = BigInt(id);
    });
    if (o.withQueries && !item.querySet) throw new Error(`packSequences: item ${b} has no querySet but queries were requested`);
    editFlag[b] = item.querySet === 'edit' ? 1 : 0;
    const valid = rowValidity(P, L, Q, !!item.image, item.text.length);
    let position = 0;
    for (let s = 0; s < T; s++) {
      if (!valid[s]) continue;
      positions[b * T + s] = BigInt(position++);
    }
    for (let i = 0; i < T; i++) {
      const row = (b * T + i) * T;
      for (let j = 0; j <= i; j++) if (valid[j] || j === i) bias[row + j] = 0;
    }
  });
  if (maxSequence < P + L + Q) throw new Error('packSequences: layout exceeds the position table');
  const visionPatches = imagesToPatches(images, B, config.imageSize, config.vision.patch);
  // Rows without an image get zero patches (imagesToPatches maps 0 to -1).
  items.forEach((item, b) => {
    if (!item.image) visionPatches.fill(0, b * P * visionPatchDim, (b + 1) * P * visionPatchDim);
  });
  return {
    batch: B,
    textLength: L,
    length: T,
    withQueries: o.withQueries,
    visionPatches,
    textIds,
    positions,
    bias,
    editFlag,
    textLengths: items.map((it) => it.text.length),
    hasImage: items.map((it) => !!it.image),
  };
}

/** Which slots of a row hold real content. */
function rowValidity(P: number, L: number, Q: number, hasImage: boolean, textLength: number): boolean[] {
  const valid: boolean[] = [];
  for (let s = 0; s < P; s++) valid.push(hasImage);
  for (let l = 0; l < L; l++) valid.push(l < textLength);
  for (let q = 0; q < Q; q++) valid.push(true);
  return valid;
}

/**
 * Next-token targets for the text slots: `targets` [B, L, V] holds weight·one-hot(text[l+1]) at text
 * slot l for every scored token l+1 >= lossFrom[b]; the weights sum to 1 over the batch (mean NLL).
 */
export function nextTokenTargets(
  packed: PackedSequences,
  texts: readonly (readonly number[])[],
  lossFrom: readonly number[],
  vocabSize: number,
): { targets: Float32Array; count: number } {
  const L = packed.textLength;
  const targets = new Float32Array(packed.batch * L * vocabSize);
  let count = 0;
  texts.forEach((text, b) => {
    for (let l = Math.max(1, lossFrom[b]!); l < text.length; l++) count++;
  });
  if (count === 0) throw new Error('nextTokenTargets: no token is scored');
  texts.forEach((text, b) => {
    for (let l = Math.max(1, lossFrom[b]!); l < text.length; l++) targets[(b * L + l - 1) * vocabSize + text[l]!] = 1 / count;
  });
  return { targets, count };
}
