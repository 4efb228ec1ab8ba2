import { existsSync } from 'node:fs';
import type { ParamStore } from '../runtime/params.ts';
import type { AdamW, AdamWState } from '../optim/adamw.ts';
import { readSafetensors, writeSafetensors, type SafetensorsContents } from './safetensors.ts';

/**
 * A checkpoint is `<name>.safetensors` (every parameter as F32, plus string metadata) and, when an
 * optimizer is saved, a companion `<name>.optim.safetensors` (`exp_avg/<param>`, `exp_avg_sq/<param>`,
 * metadata `step`). Both are written atomically; the optimizer file first, and the parameter file
 * records the optimizer step so a load detects a pair torn by a crash between the two renames.
 */

/** Metadata key in the parameter file holding the optimizer step saved alongside it. */
const OPTIMIZER_STEP_KEY = 'optimizer_step';

export interface SaveCheckpointOptions {
  /** Free-form string metadata (model preset, step, run id...). */
  metadata?: Record<string, string>;
  /** Also save this optimizer's state in the companion file. */
  optimizer?: AdamW;
}

export interface LoadCheckpointOptions {
  /** Also restore this optimizer's state from the companion file (which must exist). */
  optimizer?: AdamW;
  /** Accept tensors in the file that the store does not have (e.g. load the LM half of a unified model). Default false. */
  ignoreExtra?: boolean;
}

/** `run.safetensors` → `run.optim.safetensors`. */
export function optimizerPath(path: string): string {
  return path.endsWith('.safetensors') ? `${path.slice(0, -'.safetensors'.length)}.optim.safetensors` : `${path}.optim.safetensors`;
}

export function saveCheckpoint(path: string, store: ParamStore, options: SaveCheckpointOptions = {}): void {
  const metadata = { ...options.metadata };
  if (OPTIMIZER_STEP_KEY in metadata) throw new Error(`saveCheckpoint: metadata key '${OPTIMIZER_STEP_KEY}' is reserved`);
  if (options.optimizer) {
    const state = options.optimizer.state();
    const moments = store
      .list()
      .flatMap((p) => [
        [`exp_avg/${p.name}`, { shape: p.shape, data: state.exp_avg[p.name]! }] as const,
        [`exp_avg_sq/${p.name}`, { shape: p.shape, data: state.exp_avg_sq[p.name]! }] as const,
      ]);
    writeSafetensors(optimizerPath(path), moments, { step: String(state.step) });
    metadata[OPTIMIZER_STEP_KEY] = String(state.step);
  }
  writeSafetensors(
    path,
    store.list().map((p) => [p.name, { dtype: 'F32', shape: p.shape, data: p.data }] as const),
    metadata,
  );
}

/**
 * Loads parameters (and optionally optimizer state) into `store`. Everything is validated before
 * anything is copied, so a bad checkpoint leaves the store and optimizer untouched. Returns the
 * parameter file's metadata.
 */
export function loadCheckpoint(path: string, store: ParamStore, options: LoadCheckpointOptions = {}): { metadata: Record<string, string> } {
  const file = readSafetensors(path);
  const values = expectStoreTensors(file, store, path, '', options.ignoreExtra ?? false);

  let optimizerState: AdamWState | undefined;
  if (options.optimizer) {
    const savedStep = file.metadata[OPTIMIZER_STEP_KEY];
    if (savedStep === undefined) throw new Error(`${path}: checkpoint was saved without optimizer state`);
    const companion = optimizerPath(path);
    if (!existsSync(companion)) throw new Error(`${companion}: optimizer state file is missing`);
    const optimFile = readSafetensors(companion);
    if (optimFile.metadata.step !== savedStep) {
      throw new Error(
        `${companion}: optimizer step ${optimFile.metadata.step} does not match step ${savedStep} recorded in ${path} (torn save?)`,
      );
    }
    const step = Number(savedStep);
    if (!Number.isSafeInteger(step) || step < 0) throw new Error(`${companion}: invalid step '${savedStep}'`);
    optimizerState = {
      step,
      exp_avg: expectStoreTensors(optimFile, store, companion, 'exp_avg/', true),
      exp_avg_sq: expectStoreTensors(optimFile, store, companion, 'exp_avg_sq/', true),
    };
    const isMomentOfStore = (name: string): boolean => /^exp_avg(_sq)?\//.test(name) && store.has(name.slice(name.indexOf('/') + 1));
    const unknown = [...optimFile.tensors.keys()].find((name) => !isMomentOfStore(name));
    if (unknown !== undefined && !options.ignoreExtra)
      throw new Error(`${companion}: unexpected tensor '${unknown}' (not a moment of any parameter)`);
  }

  for (const p of store.list()) p.data.set(values[p.name]!);
  if (optimizerState) options.optimizer!.loadState(optimizerState);
  return { metadata: file.metadata };
}

/** Checks that `file` has `<prefix><param>` as F32 of the parameter's shape for every parameter; returns them by parameter name. */
function expectStoreTensors(
  file: SafetensorsContents,
  store: ParamStore,
  source: string,
  prefix: string,
  ignoreExtra: boolean,
): Record<string, Float32Array> {
  const found: Record<string, Float32Array> = {};
  for (const p of store.list()) {
    const name = prefix + p.name;
    const tensor = file.tensors.get(name);
    if (!tensor) throw new Error(`${source}: missing tensor '${name}'`);
    if (tensor.dtype !== 'F32') throw new Error(`${source}: tensor '${name}' is ${tensor.dtype}, expected F32`);
    if (tensor.shape.length !== p.shape.length || tensor.shape.some((d, i) => d !== p.shape[i])) {
      throw new Error(`${source}: tensor '${name}' has shape [${tensor.shape.join(', ')}], expected [${p.shape.join(', ')}]`);
    }
    found[p.name] = tensor.data as Float32Array;
  }
  if (!ignoreExtra) {
    const extra = [...file.tensors.keys()].find((name) => !store.has(name));
    if (extra !== undefined) throw new Error(`${source}: unexpected tensor '${extra}' (no such parameter; pass ignoreExtra to allow)`);
  }
  return found;
}
