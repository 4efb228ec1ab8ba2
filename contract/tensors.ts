// The one description of stored trajectory tensors: each name's dtype and named dims, and how DM latents lay
// out an image. The trainer writes by it (main/rl/records.ts), the store checks every write against it
// (db/repos/samples.ts), and the viewer reads by it (renderer/src/lib/trajectory-view.ts). No Node imports.
import type { TensorDType, TrajectoryKind } from './domain.ts';

/**
 * Named dims. `token`: generated LM tokens (T). `step`: SDE steps (S). `frame`: SDE states, noise first
 * (S+1). `patch`: an image's patches (N = (size/p)²), row-major over the patch grid. `patchValue`: the
 * values of one patch (p·p·3): pixels row-major inside the patch, RGB last, in the model's [-1, 1].
 */
export type DimName = 'token' | 'step' | 'frame' | 'patch' | 'patchValue';

export interface TensorSpec {
  dtype: TensorDType;
  dims: readonly DimName[];
}

export const TRAJECTORY_TENSORS = {
  lm: {
    tokenIds: { dtype: 'int32', dims: ['token'] },
    logProbs: { dtype: 'float32', dims: ['token'] },
  },
  dm: {
    /** The SDE states x_0 (noise) ... x_S (the image), each an image in patch layout. */
    latents: { dtype: 'float32', dims: ['frame', 'patch', 'patchValue'] },
    /** The mean of each step's Gaussian (x_{k+1} ~ N(mean_k, std_k²)). */
    means: { dtype: 'float32', dims: ['step', 'patch', 'patchValue'] },
    /** Log-prob of x_{k+1} under step k (averaged over elements). */
    logProbs: { dtype: 'float32', dims: ['step'] },
    /** Times from 1 (noise) to 0 (image). */
    times: { dtype: 'float32', dims: ['frame'] },
    /** Step indices (0 ... S-1). */
    steps: { dtype: 'int32', dims: ['step'] },
  },
} as const satisfies Record<TrajectoryKind, Record<string, TensorSpec>>;

/** The dtype and shape of a tensor, enough to check it (data is checked by the store). */
export interface TensorHeader {
  dtype: string;
  shape: readonly number[];
}

/** An image in patch layout: side `size` pixels, square patches of side `patch`. */
export interface PatchGrid {
  size: number;
  patch: number;
}

/** [N, p·p·3] -> the image's size and patch, or null when the two dims are no square grid of RGB patches. */
export function patchGridOf(patches: number, patchValues: number): PatchGrid | null {
  const patch = Math.round(Math.sqrt(patchValues / 3));
  const side = Math.round(Math.sqrt(patches));
  if (patch < 1 || patch * patch * 3 !== patchValues || side < 1 || side * side !== patches) return null;
  return { size: side * patch, patch };
}

/** [N, p·p·3] of an image of side `size` in patches of side `patch`. */
export function patchDims(grid: PatchGrid): [number, number] {
  if (grid.size % grid.patch !== 0) throw new Error(`image size ${grid.size} is not divisible by patch ${grid.patch}`);
  return [(grid.size / grid.patch) ** 2, grid.patch * grid.patch * 3];
}

/**
 * Problems of a trajectory's tensors against TRAJECTORY_TENSORS, each naming the tensor: unknown names, a
 * wrong dtype or rank, dims of one name that disagree (frame = step + 1), patch dims that are no image.
 * Empty when all is well.
 */
export function trajectoryTensorProblems(kind: TrajectoryKind, tensors: Readonly<Record<string, TensorHeader>>): string[] {
  const specs: Readonly<Record<string, TensorSpec>> = TRAJECTORY_TENSORS[kind];
  const problems: string[] = [];
  const sizes = new Map<DimName, { size: number; from: string }>();
  for (const [name, tensor] of Object.entries(tensors)) {
    const spec = specs[name];
    if (!spec) {
      problems.push(`${name}: not a ${kind} tensor (known: ${Object.keys(specs).join(', ')})`);
      continue;
    }
    if (tensor.dtype !== spec.dtype) problems.push(`${name}: dtype ${tensor.dtype}, expected ${spec.dtype}`);
    if (tensor.shape.length !== spec.dims.length) {
      problems.push(`${name}: shape [${tensor.shape.join(', ')}] is not [${spec.dims.join(', ')}]`);
      continue;
    }
    spec.dims.forEach((dim, i) => {
      // frame and step name the same axis of SDE time, one apart.
      const [key, size] = dim === 'frame' ? ['step' as const, tensor.shape[i]! - 1] : [dim, tensor.shape[i]!];
      const seen = sizes.get(key);
      if (!seen) sizes.set(key, { size, from: name });
      else if (seen.size !== size) problems.push(`${name}: ${dim} ${tensor.shape[i]} disagrees with ${seen.from}`);
    });
  }
  const patches = sizes.get('patch');
  const values = sizes.get('patchValue');
  if (patches && values && !patchGridOf(patches.size, values.size)) {
    problems.push(`${patches.from}: [${patches.size}, ${values.size}] is no square image of RGB patches [(size/p)², p·p·3]`);
  }
  return problems;
}

/** Throws one Error listing every problem (see trajectoryTensorProblems). */
export function checkTrajectoryTensors(kind: TrajectoryKind, tensors: Readonly<Record<string, TensorHeader>>): void {
  const problems = trajectoryTensorProblems(kind, tensors);
  if (problems.length) throw new Error(`${kind} trajectory: ${problems.join('; ')}`);
}

/**
 * Frame `f` of latents [frame, patch, patchValue] as an RGB image, row-major, values as stored ([-1, 1]).
 * `data` is the latents' flat data.
 */
export function frameImage(data: ArrayLike<number>, shape: readonly number[], f: number): { size: number; rgb: Float32Array } {
  const [, patches, values] = shape;
  const grid = patchGridOf(patches ?? 0, values ?? 0);
  if (shape.length !== 3 || !grid) throw new Error(`latents of shape [${shape.join(', ')}] are not frames [frame, patch, patchValue]`);
  const { size, patch } = grid;
  const side = size / patch;
  const rgb = new Float32Array(size * size * 3);
  let i = f * patches! * values!;
  for (let gy = 0; gy < side; gy++) {
    for (let gx = 0; gx < side; gx++) {
      for (let py = 0; py < patch; py++) {
        const row = ((gy * patch + py) * size + gx * patch) * 3;
        for (let k = 0; k < patch * 3; k++) rgb[row + k] = data[i++]!;
      }
    }
  }
  return { size, rgb };
}
