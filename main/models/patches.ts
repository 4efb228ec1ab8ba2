// Host-side conversions between images and patch tokens. Images are [B, H, W, 3] floats in [0, 1]
// (ShapeWorld's renderer layout); the networks see patches [B, N, p·p·3] scaled to [-1, 1].

/** [B, S, S, 3] in [0,1] → [B, (S/p)², p·p·3] in [-1,1] (row-major patches, pixels row-major inside). */
export function imagesToPatches(images: Float32Array, batch: number, size: number, patch: number): Float32Array {
  checkLayout(images.length, batch, size, patch, 'imagesToPatches');
  const grid = size / patch;
  const patchDim = patch * patch * 3;
  const out = new Float32Array(images.length);
  for (let b = 0; b < batch; b++) {
    const imageBase = b * size * size * 3;
    for (let gy = 0; gy < grid; gy++) {
      for (let gx = 0; gx < grid; gx++) {
        let o = (b * grid * grid + gy * grid + gx) * patchDim;
        for (let py = 0; py < patch; py++) {
          const row = imageBase + ((gy * patch + py) * size + gx * patch) * 3;
          for (let k = 0; k < patch * 3; k++) out[o++] = images[row + k]! * 2 - 1;
        }
      }
    }
  }
  return out;
}

/** Inverse of imagesToPatches, clamped to [0, 1]. */
export function patchesToImages(patches: Float32Array, batch: number, size: number, patch: number): Float32Array {
  checkLayout(patches.length, batch, size, patch, 'patchesToImages');
  const grid = size / patch;
  const patchDim = patch * patch * 3;
  const out = new Float32Array(patches.length);
  for (let b = 0; b < batch; b++) {
    const imageBase = b * size * size * 3;
    for (let gy = 0; gy < grid; gy++) {
      for (let gx = 0; gx < grid; gx++) {
        let i = (b * grid * grid + gy * grid + gx) * patchDim;
        for (let py = 0; py < patch; py++) {
          const row = imageBase + ((gy * patch + py) * size + gx * patch) * 3;
          for (let k = 0; k < patch * 3; k++) {
            const v = (patches[i++]! + 1) / 2;
            out[row + k] = v < 0 ? 0 : v > 1 ? 1 : v;
          }
        }
      }
    }
  }
  return out;
}

function checkLayout(length: number, batch: number, size: number, patch: number, what: string): void {
  if (size % patch !== 0) throw new Error(`${what}: image size ${size} is not divisible by patch ${patch}`);
  if (length !== batch * size * size * 3)
    throw new Error(`${what}: got ${length} values, expected ${batch}x${size}x${size}x3 = ${batch * size * size * 3}`);
}
