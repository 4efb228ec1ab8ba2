import { Rng, seedFor } from './rng.ts';

/** How a parameter's values are drawn when the store is created (or `reinit` is called). */
export type Initializer =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'constant'; value: number }
  | { kind: 'normal'; std: number; mean?: number }
  | { kind: 'uniform'; low: number; high: number }
  /** Explicit values (e.g. from a pretrained model), copied in. */
  | { kind: 'values'; data: Float32Array }
  /**
   * Glorot/Xavier uniform, bound = gain * sqrt(6 / (fanIn + fanOut)). Weights here are laid out
   * [in, out] (y = x @ W, as ONNX MatMul wants), so fanIn = shape[0] and fanOut = shape[1]
   * (the transpose of PyTorch's nn.Linear layout). Extra leading dims multiply both fans.
   */
  | { kind: 'xavier'; gain?: number };

export interface ParamSpec {
  name: string;
  shape: readonly number[];
  /** Default: zeros. */
  init?: Initializer;
  /** Optimizer parameter group (own learning rate / weight decay). Default: 'default'. */
  group?: string;
  /** Frozen parameters are fed to the graph but never updated. Default: false. */
  frozen?: boolean;
}

/** One named parameter: a Float32Array view into the store's flat buffer. */
export interface Param {
  readonly name: string;
  readonly shape: readonly number[];
  /** Number of elements. */
  readonly size: number;
  /** Element offset of `data` inside `ParamStore.flat`. */
  readonly offset: number;
  readonly data: Float32Array;
  readonly group: string;
  readonly init: Initializer;
  frozen: boolean;
}

export const DEFAULT_GROUP = 'default';

/**
 * Named float32 parameters as views into one flat buffer, so optimizers and checkpoints can walk
 * every value in one loop and the views can be handed to onnxruntime as zero-copy graph inputs.
 */
export class ParamStore {
  /** All parameter values, concatenated in declaration order. */
  readonly flat: Float32Array;
  private readonly byName = new Map<string, Param>();
  private readonly ordered: Param[] = [];

  constructor(specs: readonly ParamSpec[], options: { seed?: number } = {}) {
    let total = 0;
    const seen = new Set<string>();
    const sizes = specs.map((spec) => {
      if (seen.has(spec.name)) throw new Error(`ParamStore: duplicate parameter name '${spec.name}'`);
      seen.add(spec.name);
      const size = elementCount(spec.shape, `parameter '${spec.name}'`);
      total += size;
      return size;
    });
    this.flat = new Float32Array(total);
    let offset = 0;
    specs.forEach((spec, i) => {
      const size = sizes[i]!;
      const param: Param = {
        name: spec.name,
        shape: Object.freeze([...spec.shape]),
        size,
        offset,
        data: this.flat.subarray(offset, offset + size),
        group: spec.group ?? DEFAULT_GROUP,
        init: spec.init ?? { kind: 'zeros' },
        frozen: spec.frozen ?? false,
      };
      this.byName.set(spec.name, param);
      this.ordered.push(param);
      offset += size;
    });
    this.reinit(options.seed ?? 0);
  }

  /** Total number of scalar values. */
  get size(): number {
    return this.flat.length;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): Param {
    const param = this.byName.get(name);
    if (!param) throw new Error(`ParamStore: no parameter named '${name}'`);
    return param;
  }

  /** Every parameter, in declaration order. */
  list(): readonly Param[] {
    return this.ordered;
  }

  /** Parameters the optimizer updates. */
  trainable(): Param[] {
    return this.ordered.filter((p) => !p.frozen);
  }

  /** Distinct group names, in first-seen order. */
  groups(): string[] {
    return [...new Set(this.ordered.map((p) => p.group))];
  }

  /**
   * Freezes (or unfreezes) the parameters selected by exact name, RegExp on the name, or predicate.
   * Returns how many parameters were selected; selecting none is an error (a typo would otherwise
   * silently train everything).
   */
  setFrozen(select: string | RegExp | ((param: Param) => boolean), frozen = true): number {
    const matches = this.ordered.filter((p) =>
      typeof select === 'string' ? p.name === select : select instanceof RegExp ? select.test(p.name) : select(p),
    );
    if (matches.length === 0) throw new Error(`ParamStore.setFrozen: no parameter matches ${String(select)}`);
    for (const p of matches) p.frozen = frozen;
    return matches.length;
  }

  /** Feeds for `EngineSession.run`: every parameter by name (zero-copy views). */
  feeds(): Record<string, Param> {
    return Object.fromEntries(this.ordered.map((p) => [p.name, p]));
  }

  /** Redraws every parameter from its initializer. Each parameter's stream depends only on (seed, name). */
  reinit(seed: number): void {
    for (const param of this.ordered) initialize(param, new Rng(seedFor(seed, param.name)));
  }
}

/** Product of dims; throws naming `what` for a non-integer or negative dim. */
export function elementCount(shape: readonly number[], what: string): number {
  let count = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) throw new Error(`${what}: invalid shape [${shape.join(', ')}]`);
    count *= dim;
  }
  return count;
}

function initialize(param: Param, rng: Rng): void {
  const { init, data, shape } = param;
  switch (init.kind) {
    case 'zeros':
      data.fill(0);
      return;
    case 'ones':
      data.fill(1);
      return;
    case 'constant':
      data.fill(init.value);
      return;
    case 'normal':
      rng.fillNormal(data, init.std, init.mean ?? 0);
      return;
    case 'uniform':
      rng.fillUniform(data, init.low, init.high);
      return;
    case 'values':
      if (init.data.length !== data.length) {
        throw new Error(`ParamStore: '${param.name}' has ${data.length} values, its initial values have ${init.data.length}`);
      }
      data.set(init.data);
      return;
    case 'xavier': {
      if (shape.length < 2) throw new Error(`ParamStore: xavier init needs a >= 2-D shape, '${param.name}' is [${shape.join(', ')}]`);
      const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
      const fanIn = shape[shape.length - 2]! * receptive;
      const fanOut = shape[shape.length - 1]! * receptive;
      const bound = (init.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
      rng.fillUniform(data, -bound, bound);
      return;
    }
  }
}
