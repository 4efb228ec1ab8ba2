import * as ort from 'onnxruntime-node';
import type { AdamW, StepReport } from '../optim/adamw.ts';
import { clipGradNorm, globalGradNorm } from '../optim/clip.ts';
import type { ParamStore } from './params.ts';
import type { EngineSession, Feed } from './session.ts';

export interface TrainingSessionOptions {
  /** Scalar loss output of the graph. Default 'loss'. */
  lossName?: string;
  /** Gradient outputs are named `<gradPrefix><param>` (autodiff's convention). Default 'grad/'. */
  gradPrefix?: string;
  /** Clip the global gradient norm of the trainable parameters to this value. Default: no clipping. */
  maxGradNorm?: number;
}

export interface TrainStepResult extends StepReport {
  loss: number;
  /** Global L2 norm of the trainable parameters' gradients before clipping. */
  gradNorm: number;
}

/**
 * One training step = one `session.run` of a forward+backward graph (loss + `grad/<param>` outputs)
 * followed by AdamW in TypeScript. Parameters are fed zero-copy from the store, and ORT writes the
 * gradients straight into a persistent flat buffer (pre-allocated outputs), so a step allocates nothing
 * per parameter.
 */
export class TrainingSession {
  /** Gradients of the last step, same layout as `store.flat` (zeros for frozen parameters). */
  readonly gradFlat: Float32Array;
  private readonly session: EngineSession;
  private readonly store: ParamStore;
  private readonly optimizer: AdamW;
  private readonly lossName: string;
  private readonly gradPrefix: string;
  private readonly maxGradNorm: number | undefined;

  constructor(session: EngineSession, store: ParamStore, optimizer: AdamW, options: TrainingSessionOptions = {}) {
    this.session = session;
    this.store = store;
    this.optimizer = optimizer;
    this.lossName = options.lossName ?? 'loss';
    this.gradPrefix = options.gradPrefix ?? 'grad/';
    this.maxGradNorm = options.maxGradNorm;
    if (!session.outputNames.includes(this.lossName)) {
      throw new Error(`TrainingSession: graph has no loss output '${this.lossName}' (outputs: ${session.outputNames.join(', ')})`);
    }
    this.gradFlat = new Float32Array(store.size);
  }

  /** The gradient view of one parameter (valid after `step` or `computeGradients`). */
  gradOf(name: string): Float32Array {
    const p = this.store.get(name);
    return this.gradFlat.subarray(p.offset, p.offset + p.size);
  }

  /**
   * Runs forward + backward on `batch` (the non-parameter inputs) and leaves the trainable parameters'
   * gradients in `gradFlat`; returns the loss. Parameters are not changed.
   */
  async computeGradients(batch: Record<string, Feed>, shapes: Record<string, readonly number[]> = {}): Promise<number> {
    const fetch: Record<string, ort.Tensor | null> = { [this.lossName]: null };
    for (const p of this.store.trainable()) {
      const output = this.gradPrefix + p.name;
      if (!this.session.outputNames.includes(output))
        throw new Error(`TrainingSession: graph has no gradient output '${output}' for trainable parameter '${p.name}'`);
      fetch[output] = new ort.Tensor('float32', this.gradOf(p.name), p.shape as number[]);
    }
    const outputs = await this.session.run({ ...this.store.feeds(), ...batch }, shapes, fetch);
    return Number(outputs[this.lossName]!.data[0]);
  }

  /** Runs forward + backward on `batch` (the non-parameter inputs), then updates the trainable parameters. */
  async step(batch: Record<string, Feed>, shapes: Record<string, readonly number[]> = {}): Promise<TrainStepResult> {
    const loss = await this.computeGradients(batch, shapes);
    const grads = Object.fromEntries(this.store.trainable().map((p) => [p.name, this.gradOf(p.name)]));
    const gradViews = Object.values(grads);
    const gradNorm = this.maxGradNorm === undefined ? globalGradNorm(gradViews) : clipGradNorm(gradViews, this.maxGradNorm);
    // A NaN/Inf gradient would poison every parameter and both moments: refuse the update instead.
    if (!Number.isFinite(gradNorm)) {
      throw new Error(
        `TrainingSession: non-finite gradient norm (${gradNorm}) at step ${this.optimizer.steps + 1}, loss ${loss}; parameters not updated`,
      );
    }
    const report = this.optimizer.step(grads);
    return { ...report, loss, gradNorm };
  }
}
