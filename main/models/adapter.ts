// The seams of the unified model: the seven pieces every graph the app builds (sampling, KV-cache decoding,
// pretraining and GRPO losses) is composed from. The built-in model implements them with its own layers
// (builtinParts); a model brought from elsewhere implements them with ONNX files, one per piece, inlined
// into the same graphs (imported.ts). GRAPH_FILES is that contract: which file, which input and output
// names, which shapes; docs/model.md shows it as a table and the validator checks a user's files against it.
import type { GraphBuilder, Tensor } from '../engine/graph/builder.ts';
import { layoutOf, type ModelConfig } from './config.ts';
import { connect, metaQueries } from './connector.ts';
import { ditVelocity, type DitInputs } from './dit.ts';
import { lmForward, lmLogits, lmStep, type KvCache, type LmInputs, type LmShape } from './lm.ts';
import { visionEncode } from './vision.ts';

export interface StepInputs {
  /** [B, 1] int64 */
  tokenIds: Tensor;
  /** [B, 1] int64 */
  positions: Tensor;
  /** [B, 1, 1, S+1] additive bias over the past and the new token. */
  bias: Tensor;
  /** Keys and values of the S past slots, per layer [B, H, S, dh]. */
  past: KvCache;
}

/** The pieces of a unified model; each adds its nodes (and parameters) to the graph `g`. */
export interface ModelParts {
  /** Vision patches [B, P, p²·3] → image tokens [B, P, D]. */
  vision(g: GraphBuilder, patches: Tensor): Tensor;
  /** edit_flag [B] (0 generation, 1 editing) → meta-query embeddings [B, Q, D]. */
  queries(g: GraphBuilder, editFlag: Tensor): Tensor;
  /** The LM over [image | text | queries]: final hidden states [B, T, D] and each layer's keys and values. */
  lm(g: GraphBuilder, inputs: LmInputs): { hidden: Tensor; cache: KvCache };
  /** One KV-cache decoding step: next-token logits [B, V] and the cache grown by one slot. */
  lmStep(g: GraphBuilder, inputs: StepInputs): { logits: Tensor; cache: KvCache };
  /** Hidden states [B, L, D] → next-token logits [B, L, V]. */
  lmHead(g: GraphBuilder, hidden: Tensor): Tensor;
  /** LM hidden states at the query slots [B, Q, D] → the DM condition [B, Q, Dc]. */
  connector(g: GraphBuilder, queryHidden: Tensor): Tensor;
  /** The DiT: velocity v [B, N, p²·3] of x_t at times t, given the condition and the reference image. */
  velocity(g: GraphBuilder, inputs: DitInputs): Tensor;
}

/** The app's own model, built from its config. */
export function builtinParts(config: ModelConfig, shape: LmShape): ModelParts {
  const { imageTokens, ditTokens } = layoutOf(config);
  const D = config.lm.width;
  return {
    vision: (g, patches) => visionEncode(g, config.vision, patches, { tokens: imageTokens, lmWidth: D }),
    queries: (g, editFlag) => metaQueries(g, editFlag, { queries: config.queries, width: D }),
    lm: (g, inputs) => lmForward(g, shape, inputs),
    lmStep: (g, inputs) => lmStep(g, shape, inputs),
    lmHead: (g, hidden) => lmLogits(g, shape, hidden),
    connector: (g, queryHidden) =>
      connect(g, config.connector, queryHidden, { queries: config.queries, lmWidth: D, condWidth: config.dit.condWidth }),
    velocity: (g, inputs) => ditVelocity(g, config.dit, inputs, { tokens: ditTokens }),
  };
}

// ----- the file contract of a model brought from elsewhere ------------------------------------------------

/** A dimension in the contract: a size from the manifest, a constant, or a name for a size that varies between calls. */
export type ContractDim = { fixed: keyof ContractSizes } | { exactly: number } | { varies: string };

/** The sizes a manifest fixes (names as in docs/model.md). */
export interface ContractSizes {
  P: number; // image tokens
  Dv: number; // values per vision patch
  D: number; // LM width
  Q: number; // meta-queries
  Dc: number; // condition width
  N: number; // DiT tokens
  Dp: number; // values per DiT patch
  V: number; // vocabulary
  H: number; // LM heads
  dh: number; // LM head width
}

export interface ContractValue {
  name: string;
  dtype: 'float32' | 'int64';
  dims: ContractDim[];
  /** What it holds (shown in docs and in the validator's messages). */
  about: string;
}

export interface GraphFile {
  file: string;
  /** The ModelParts piece it implements, and the parameter prefix (optimizer group) of its initializers. */
  part: 'vision' | 'queries' | 'lm' | 'connector' | 'dit';
  about: string;
  inputs: ContractValue[];
  outputs: ContractValue[];
  /** Per LM layer i: inputs/outputs named `<name><i>` (past_k0, present_v1, …). */
  perLayer?: { inputs: ContractValue[]; outputs: ContractValue[] };
}

const f = (k: keyof ContractSizes): ContractDim => ({ fixed: k });
const any = (name: string): ContractDim => ({ varies: name });
const B = any('batch');
const one: ContractDim = { exactly: 1 };

export const GRAPH_FILES: readonly GraphFile[] = [
  {
    file: 'vision.onnx',
    part: 'vision',
    about: 'vision encoder: image patches to image tokens in the LM width',
    inputs: [{ name: 'vision_patches', dtype: 'float32', dims: [B, f('P'), f('Dv')], about: 'p×p×3 patches in [-1, 1], row-major' }],
    outputs: [{ name: 'image_tokens', dtype: 'float32', dims: [B, f('P'), f('D')], about: 'image tokens' }],
  },
  {
    file: 'queries.onnx',
    part: 'queries',
    about: 'the meta-queries of each row (generation or editing set)',
    inputs: [{ name: 'edit_flag', dtype: 'float32', dims: [B], about: '0 = generation queries, 1 = editing queries' }],
    outputs: [{ name: 'queries', dtype: 'float32', dims: [B, f('Q'), f('D')], about: 'query embeddings' }],
  },
  {
    file: 'lm.onnx',
    part: 'lm',
    about: 'LM over the whole sequence: image tokens, text, queries (prefill, losses, condition)',
    inputs: [
      { name: 'image_tokens', dtype: 'float32', dims: [B, f('P'), f('D')], about: 'from vision.onnx' },
      { name: 'text_ids', dtype: 'int64', dims: [B, any('L')], about: 'token ids, right-padded' },
      { name: 'queries', dtype: 'float32', dims: [B, any('Q or 0'), f('D')], about: 'from queries.onnx; zero slots for text-only passes' },
      { name: 'positions', dtype: 'int64', dims: [B, any('T')], about: 'position ids (T = P + L + Q), counting real tokens only' },
      {
        name: 'bias',
        dtype: 'float32',
        dims: [B, one, any('T'), any('T')],
        about: 'additive attention bias: causal + padding (0 or -1e9)',
      },
    ],
    outputs: [{ name: 'hidden', dtype: 'float32', dims: [B, any('T'), f('D')], about: 'final hidden states' }],
    perLayer: {
      inputs: [],
      outputs: [
        { name: 'present_k', dtype: 'float32', dims: [B, f('H'), any('T'), f('dh')], about: 'keys of the layer' },
        { name: 'present_v', dtype: 'float32', dims: [B, f('H'), any('T'), f('dh')], about: 'values of the layer' },
      ],
    },
  },
  {
    file: 'lm_step.onnx',
    part: 'lm',
    about: 'one KV-cache decoding step (same parameters as lm.onnx, by name)',
    inputs: [
      { name: 'token_ids', dtype: 'int64', dims: [B, one], about: 'the newest token' },
      { name: 'positions', dtype: 'int64', dims: [B, one], about: 'its position id' },
      { name: 'bias', dtype: 'float32', dims: [B, one, one, any('S+1')], about: 'bias over the S past slots and itself' },
    ],
    outputs: [{ name: 'logits', dtype: 'float32', dims: [B, f('V')], about: 'next-token logits' }],
    perLayer: {
      inputs: [
        { name: 'past_k', dtype: 'float32', dims: [B, f('H'), any('S'), f('dh')], about: 'cached keys' },
        { name: 'past_v', dtype: 'float32', dims: [B, f('H'), any('S'), f('dh')], about: 'cached values' },
      ],
      outputs: [
        { name: 'present_k', dtype: 'float32', dims: [B, f('H'), any('S+1'), f('dh')], about: 'keys with the new slot' },
        { name: 'present_v', dtype: 'float32', dims: [B, f('H'), any('S+1'), f('dh')], about: 'values with the new slot' },
      ],
    },
  },
  {
    file: 'lm_head.onnx',
    part: 'lm',
    about: 'hidden states to next-token logits (same head as lm_step.onnx, by name)',
    inputs: [{ name: 'hidden', dtype: 'float32', dims: [B, any('L'), f('D')], about: 'hidden states' }],
    outputs: [{ name: 'logits', dtype: 'float32', dims: [B, any('L'), f('V')], about: 'logits' }],
  },
  {
    file: 'connector.onnx',
    part: 'connector',
    about: 'LM hidden states at the query slots to the DM condition',
    inputs: [{ name: 'query_hidden', dtype: 'float32', dims: [B, f('Q'), f('D')], about: 'hidden states of the query slots' }],
    outputs: [{ name: 'cond', dtype: 'float32', dims: [B, f('Q'), f('Dc')], about: 'condition tokens' }],
  },
  {
    file: 'dit.onnx',
    part: 'dit',
    about: 'the DM: rectified-flow velocity v = eps - x0',
    inputs: [
      { name: 'x', dtype: 'float32', dims: [B, f('N'), f('Dp')], about: 'noised image patches x_t' },
      { name: 't', dtype: 'float32', dims: [B], about: 'times in [0, 1] (1 = noise)' },
      { name: 'cond', dtype: 'float32', dims: [B, f('Q'), f('Dc')], about: 'from connector.onnx' },
      { name: 'ref', dtype: 'float32', dims: [B, f('N'), f('Dp')], about: 'source image patches (editing), zeros otherwise' },
    ],
    outputs: [{ name: 'v', dtype: 'float32', dims: [B, f('N'), f('Dp')], about: 'velocity' }],
  },
];

/** A contract shape as text: [batch, P, D], or with the sizes: [batch, P=16, D=32]. */
export function describeDims(dims: readonly ContractDim[], sizes?: ContractSizes): string {
  const dim = (d: ContractDim) =>
    'fixed' in d ? (sizes ? `${d.fixed}=${sizes[d.fixed]}` : d.fixed) : 'exactly' in d ? String(d.exactly) : d.varies;
  return `[${dims.map(dim).join(', ')}]`;
}

/** The contract as the markdown table in docs/model.md (a test keeps the two the same). */
export function adapterTable(): string {
  const values = (list: readonly ContractValue[], perLayer: readonly ContractValue[] = []) =>
    [...list, ...perLayer.map((v) => ({ ...v, name: `${v.name}{i}` }))]
      .map((v) => `\`${v.name}\` ${v.dtype === 'int64' ? 'int64 ' : ''}${describeDims(v.dims)}`)
      .join(', ');
  const rows = GRAPH_FILES.map(
    (f) =>
      `| \`${f.file}\` | \`${f.part}/\` | ${f.about} | ` +
      `${values(f.inputs, f.perLayer?.inputs)} | ${values(f.outputs, f.perLayer?.outputs)} |`,
  );
  return ['| file | parameters | what | inputs | outputs |', '|---|---|---|---|---|', ...rows].join('\n');
}
