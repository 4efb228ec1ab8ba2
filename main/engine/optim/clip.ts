/**
 * Global L2 norm of all gradients together (accumulated in float64).
 */
export function globalGradNorm(grads: Iterable<Float32Array>): number {
  let sumSquares = 0;
  for (const grad of grads) {
    for (let i = 0; i < grad.length; i++) sumSquares += grad[i]! * grad[i]!;
  }
  return Math.sqrt(sumSquares);
}

/**
 * Scales all gradients in place so their global L2 norm is at most `maxNorm` (as PyTorch's
 * clip_grad_norm_: factor maxNorm / (norm + 1e-6), applied only when norm > maxNorm).
 * Returns the norm before clipping; a non-finite norm is returned untouched so the caller can skip the step.
 */
export function clipGradNorm(grads: Record<string, Float32Array> | readonly Float32Array[], maxNorm: number): number {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  const arrays = Array.isArray(grads) ? (grads as readonly Float32Array[]) : Object.values(grads);
  const norm = globalGradNorm(arrays);
  if (Number.isFinite(norm) && norm > maxNorm) {
    const scale = maxNorm / (norm + 1e-6);
    for (const grad of arrays) {
      for (let i = 0; i < grad.length; i++) grad[i]! *= scale;
    }
  }
  return norm;
}
