import type { Param, ParamStore } from '../runtime/params.ts';
import { constantLr, type LrSchedule } from './schedule.ts';

/** Per-group overrides of the base hyperparameters. */
export interface GroupOptions {
  lr?: number;
  weightDecay?: number;
}

export interface AdamWOptions {
  /** Base learning rate (before the schedule multiplier). */
  lr: number;
  /** Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay coefficient. Default 0.01 (as PyTorch). */
  weightDecay?: number;
  /** Overrides keyed by `ParamSpec.group`; groups not listed use the base values. */
  groups?: Record<string, GroupOptions>;
  /** Multiplier of every group's lr per step. Default constant. */
  schedule?: LrSchedule;
}

/** Gradients keyed by parameter name (each the parameter's size). */
export type Grads = Record<string, Float32Array>;

/** Serialisable optimizer state: moments are keyed by parameter name. */
export interface AdamWState {
  /** Steps taken so far. */
  step: number;
  exp_avg: Record<string, Float32Array>;
  exp_avg_sq: Record<string, Float32Array>;
}

export interface StepReport {
  /** The 1-based step just taken. */
  step: number;
  /** Learning rate each group used for this step. */
  lr: Record<string, number>;
}

/**
 * AdamW (Loshchilov & Hutter) exactly as torch.optim.AdamW (non-amsgrad):
 *   p ← p · (1 − lr·wd)                      decoupled weight decay
 *   m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²
 *   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
 * Moments live in flat buffers with the store's layout; frozen parameters are skipped.
 */
export class AdamW {
  private readonly store: ParamStore;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly schedule: LrSchedule;
  private readonly groupHyper = new Map<string, { lr: number; weightDecay: number }>();
  /** First and second moments, same layout as store.flat. */
  private readonly expAvg: Float32Array;
  private readonly expAvgSq: Float32Array;
  private stepCount = 0;

  constructor(store: ParamStore, options: AdamWOptions) {
    const { lr, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0.01, groups = {}, schedule = constantLr() } = options;
    const [beta1, beta2] = betas;
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
      throw new Error(`AdamW: betas must be in [0, 1), got [${betas.join(', ')}]`);
    if (!(eps > 0)) throw new Error(`AdamW: eps must be > 0, got ${eps}`);
    const storeGroups = new Set(store.groups());
    for (const name of Object.keys(groups)) {
      if (!storeGroups.has(name))
        throw new Error(`AdamW: group '${name}' has no parameters (store groups: ${[...storeGroups].join(', ')})`);
    }
    for (const name of storeGroups) {
      const hyper = { lr: groups[name]?.lr ?? lr, weightDecay: groups[name]?.weightDecay ?? weightDecay };
      if (!(hyper.lr >= 0)) throw new Error(`AdamW: learning rate of group '${name}' must be >= 0, got ${hyper.lr}`);
      if (!(hyper.weightDecay >= 0)) throw new Error(`AdamW: weight decay of group '${name}' must be >= 0, got ${hyper.weightDecay}`);
      this.groupHyper.set(name, hyper);
    }
    this.store = store;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.schedule = schedule;
    this.expAvg = new Float32Array(store.size);
    this.expAvgSq = new Float32Array(store.size);
  }

  /** Steps taken so far. */
  get steps(): number {
    return this.stepCount;
  }

  /** Learning rate `group` will use on the next step. */
  nextLr(group: string): number {
    const hyper = this.groupHyper.get(group);
    if (!hyper) throw new Error(`AdamW: unknown group '${group}'`);
    return hyper.lr * this.schedule(this.stepCount + 1);
  }

  /**
   * One update of every trainable parameter. Every trainable parameter needs a gradient of its own
   * size in `grads` (a missing one is an error: it usually means the grad graph and the store disagree).
   */
  step(grads: Grads): StepReport {
    const trainable = this.store.trainable();
    for (const param of trainable) checkGrad(param, grads[param.name]);
    const step = this.stepCount + 1;
    const lrByGroup: Record<string, number> = {};
    for (const group of this.groupHyper.keys()) lrByGroup[group] = this.nextLr(group);
    const biasCorrection1 = 1 - this.beta1 ** step;
    const sqrtBiasCorrection2 = Math.sqrt(1 - this.beta2 ** step);
    for (const param of trainable) {
      const lr = lrByGroup[param.group]!;
      const decay = 1 - lr * this.groupHyper.get(param.group)!.weightDecay;
      this.updateParam(param, grads[param.name]!, lr / biasCorrection1, decay, sqrtBiasCorrection2);
    }
    this.stepCount = step;
    return { step, lr: lrByGroup };
  }

  private updateParam(param: Param, grad: Float32Array, stepSize: number, decay: number, sqrtBiasCorrection2: number): void {
    const { data, offset, size } = param;
    const m = this.expAvg.subarray(offset, offset + size);
    const v = this.expAvgSq.subarray(offset, offset + size);
    const { beta1, beta2, eps } = this;
    const oneMinusBeta1 = 1 - beta1;
    const oneMinusBeta2 = 1 - beta2;
    for (let i = 0; i < size; i++) {
      const g = grad[i]!;
      const mi = beta1 * m[i]! + oneMinusBeta1 * g;
      const vi = beta2 * v[i]! + oneMinusBeta2 * g * g;
      m[i] = mi;
      v[i] = vi;
      data[i] = data[i]! * decay - (stepSize * mi) / (Math.sqrt(vi) / sqrtBiasCorrection2 + eps);
    }
  }

  /** Copy of the state, moments keyed by parameter name. */
  state(): AdamWState {
    const exp_avg: Record<string, Float32Array> = {};
    const exp_avg_sq: Record<string, Float32Array> = {};
    for (const p of this.store.list()) {
      exp_avg[p.name] = this.expAvg.slice(p.offset, p.offset + p.size);
      exp_avg_sq[p.name] = this.expAvgSq.slice(p.offset, p.offset + p.size);
    }
    return { step: this.stepCount, exp_avg, exp_avg_sq };
  }

  /** Restores a state produced by `state()`; every parameter's moments must be present with the right size. */
  loadState(state: AdamWState): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new Error(`AdamW.loadState: invalid step ${state.step}`);
    for (const p of this.store.list()) {
      for (const [kind, moments, target] of [
        ['exp_avg', state.exp_avg, this.expAvg],
        ['exp_avg_sq', state.exp_avg_sq, this.expAvgSq],
      ] as const) {
        const values = moments[p.name];
        if (!values) throw new Error(`AdamW.loadState: missing ${kind} for parameter '${p.name}'`);
        if (values.length !== p.size) {
          throw new Error(`AdamW.loadState: ${kind} of '${p.name}' has ${values.length} values, parameter has ${p.size}`);
        }
        target.set(values, p.offset);
      }
    }
    this.stepCount = state.step;
  }
}

function checkGrad(param: Param, grad: Float32Array | undefined): void {
  if (!grad) throw new Error(`AdamW: no gradient for trainable parameter '${param.name}'`);
  if (grad.length !== param.size) {
    throw new Error(`AdamW: gradient of '${param.name}' has ${grad.length} values, parameter has ${param.size}`);
  }
}
