// Model sizes. One config describes the whole unified model; `nano` trains in seconds (tests) and
// `base` is the shipped default. Every field says what it sizes; shapes in the other files refer to
// these names (D = lm.width, P = imageTokens, L = textLength, Q = queries, N = dit tokens, ...).

export interface LmConfig {
  /** D: residual width of the LM (also the width of image tokens and meta-queries). */
  width: number;
  /** Decoder blocks. */
  layers: number;
  /** Attention heads; width must be divisible by heads. */
  heads: number;
  /** Hidden width of each SwiGLU MLP. */
  mlpHidden: number;
}

export interface VisionConfig {
  /** Side of a square image patch in pixels; the image side must be divisible by it. */
  patch: number;
  /** Width inside the encoder (projected to lm.width at the end). */
  width: number;
  /** Bidirectional transformer blocks. */
  layers: number;
  heads: number;
  mlpHidden: number;
}

export interface ConnectorConfig {
  /** Width inside the connector. */
  width: number;
  /** Bidirectional transformer blocks over the meta-query hidden states. */
  layers: number;
  heads: number;
  mlpHidden: number;
}

export interface DitConfig {
  /** Side of a square pixel patch; one patch = one DiT token. */
  patch: number;
  /** Residual width of the DiT. */
  width: number;
  layers: number;
  heads: number;
  mlpHidden: number;
  /** Width of the condition tokens the connector produces (cross-attention keys/values). */
  condWidth: number;
  /** Sinusoidal timestep features before the timestep MLP. */
  timeFeatures: number;
}

export interface ModelConfig {
  /** Preset name, recorded in checkpoints. */
  name: string;
  /** Square RGB image side in pixels (ShapeWorld renders 32x32). */
  imageSize: number;
  /** L: text slots in the LM's layout (prompt + reasoning + answer, padded). */
  textLength: number;
  /** Q: meta-query tokens per set (one set for generation, one for editing). */
  queries: number;
  lm: LmConfig;
  vision: VisionConfig;
  connector: ConnectorConfig;
  dit: DitConfig;
}

export const PRESETS: Readonly<Record<string, ModelConfig>> = {
  nano: {
    name: 'nano',
    imageSize: 32,
    textLength: 96,
    queries: 4,
    lm: { width: 32, layers: 1, heads: 2, mlpHidden: 64 },
    vision: { patch: 8, width: 32, layers: 1, heads: 2, mlpHidden: 64 },
    connector: { width: 32, layers: 1, heads: 2, mlpHidden: 64 },
    dit: { patch: 8, width: 32, layers: 1, heads: 2, mlpHidden: 64, condWidth: 32, timeFeatures: 32 },
  },
  base: {
    name: 'base',
    imageSize: 32,
    textLength: 96,
    queries: 8,
    lm: { width: 128, layers: 4, heads: 4, mlpHidden: 352 },
    vision: { patch: 8, width: 128, layers: 2, heads: 4, mlpHidden: 352 },
    connector: { width: 128, layers: 2, heads: 4, mlpHidden: 352 },
    dit: { patch: 4, width: 160, layers: 5, heads: 5, mlpHidden: 432, condWidth: 160, timeFeatures: 128 },
  },
};

export function presetNames(): string[] {
  return Object.keys(PRESETS);
}

/** The preset called `name`; throws listing the presets when there is none. */
export function getPreset(name: string): ModelConfig {
  const preset = PRESETS[name];
  if (!preset) throw new Error(`unknown model preset '${name}' (presets: ${presetNames().join(', ')})`);
  return validateConfig(preset);
}

/** Derived sizes used across the parts. */
export function layoutOf(config: ModelConfig): {
  /** P: image tokens the vision encoder gives the LM. */
  imageTokens: number;
  /** T = P + L + Q: the LM's sequence length. */
  sequence: number;
  /** N: DiT tokens (patches). */
  ditTokens: number;
  /** Values per DiT patch (patch² · 3). */
  ditPatchDim: number;
  /** Values per vision patch. */
  visionPatchDim: number;
} {
  const imageTokens = (config.imageSize / config.vision.patch) ** 2;
  return {
    imageTokens,
    sequence: imageTokens + config.textLength + config.queries,
    ditTokens: (config.imageSize / config.dit.patch) ** 2,
    ditPatchDim: config.dit.patch ** 2 * 3,
    visionPatchDim: config.vision.patch ** 2 * 3,
  };
}

/** Checks divisibility and positivity; throws naming the bad field. */
export function validateConfig(config: ModelConfig): ModelConfig {
  const positive = (value: number, field: string): void => {
    if (!Number.isInteger(value) || value <= 0)
      throw new Error(`model config ${config.name}: ${field} must be a positive integer, got ${value}`);
  };
  positive(config.imageSize, 'imageSize');
  positive(config.textLength, 'textLength');
  positive(config.queries, 'queries');
  for (const part of ['lm', 'vision', 'connector', 'dit'] as const) {
    const c = config[part];
    positive(c.width, `${part}.width`);
    positive(c.layers, `${part}.layers`);
    positive(c.heads, `${part}.heads`);
    positive(c.mlpHidden, `${part}.mlpHidden`);
    if (c.width % c.heads !== 0)
      throw new Error(`model config ${config.name}: ${part}.width ${c.width} is not divisible by ${part}.heads ${c.heads}`);
  }
  for (const part of ['vision', 'dit'] as const) {
    if (config.imageSize % config[part].patch !== 0) {
      throw new Error(`model config ${config.name}: imageSize ${config.imageSize} is not divisible by ${part}.patch ${config[part].patch}`);
    }
  }
  if (config.dit.timeFeatures % 2 !== 0) throw new Error(`model config ${config.name}: dit.timeFeatures must be even`);
  return config;
}
