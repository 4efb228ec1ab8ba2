// The DM expert: a diffusion transformer on pixel patches (DiT with adaLN-Zero), cross-attending to the
// connector's condition tokens. Predicts the rectified-flow velocity v = eps - x0 (flow.ts).
// Editing: the source image enters through an extra zero-initialised patch embedding, so a model trained
// for text-to-image starts out ignoring it. Parameters live under `dit/`.
// Shapes: B batch, N patch tokens, pd = patch²·3, D width, Q condition tokens, Dc condition width.
import type { GraphBuilder, Tensor } from '../engine/graph/builder.ts';
import { POSITION_STD, crossAttention, linear, plainLayerNorm, residualScale, selfAttention, swiglu } from './blocks.ts';
import type { DitConfig } from './config.ts';

export interface DitInputs {
  /** [B, N, pd] noised latents x_t (patches in [-1, 1] scale). */
  x: Tensor;
  /** [B] float times in [0, 1]. */
  t: Tensor;
  /** [B, Q, Dc] condition tokens from the connector. */
  cond: Tensor;
  /** [B, N, pd] reference (source) image patches for editing; zeros for text-to-image. */
  ref: Tensor;
}

/** Sinusoidal features of t·1000 (DiT's convention). [B] → [B, F] */
export function timestepFeatures(g: GraphBuilder, t: Tensor, features: number): Tensor {
  const half = features / 2;
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
  const args = g.mul(g.unsqueeze(g.mul(t, 1000), [1]), g.constant(freqs, 'float32', [1, half])); // [B, half]
  return g.concat([g.op('Cos', [args])[0]!, g.op('Sin', [args])[0]!], 1);
}

/** x·(1 + scale) + shift with per-row scale/shift [B, 1, D]. */
function modulate(g: GraphBuilder, x: Tensor, shift: Tensor, scale: Tensor): Tensor {
  return g.add(g.mul(x, g.add(scale, 1)), shift);
}

/** Velocity prediction. Returns [B, N, pd]. */
export function ditVelocity(g: GraphBuilder, c: DitConfig, inputs: DitInputs, o: { tokens: number }): Tensor {
  return g.scope('dit', () => {
    const D = c.width;
    const patchDim = c.patch * c.patch * 3;
    const positions = g.param('positions', [o.tokens, D], { kind: 'normal', std: POSITION_STD });
    let x = linear(g, inputs.x, patchDim, D, 'patch_embed', { bias: true });
    x = g.add(g.add(x, linear(g, inputs.ref, patchDim, D, 'ref_embed', { std: 0 })), positions);

    // Global conditioning vector [B, D]: timestep MLP + pooled condition.
    const time = g.scope('time', () => {
      const h = linear(g, timestepFeatures(g, inputs.t, c.timeFeatures), c.timeFeatures, D, 'fc1', { bias: true });
      return linear(g, g.silu(h), D, D, 'fc2', { bias: true });
    });
    const pooled = linear(g, g.reduceMean(inputs.cond, [1], false), c.condWidth, D, 'pooled_cond', { bias: true });
    const global = g.silu(g.add(time, pooled)); // [B, D]

    const outScale = residualScale(c.layers);
    for (let i = 0; i < c.layers; i++) {
      x = g.scope(`block${i}`, () => {
        const mod = g.unsqueeze(linear(g, global, D, 6 * D, 'adaln', { bias: true, std: 0 }), [1]); // [B, 1, 6D]
        const [shift1, scale1, gate1, shift2, scale2, gate2] = g.split(mod, 6, -1);
        const attnIn = modulate(g, plainLayerNorm(g, x, D), shift1!, scale1!);
        let h = g.add(x, g.mul(gate1!, selfAttention(g, attnIn, { width: D, heads: c.heads, name: 'attn', outScale }).out));
        h = g.add(
          h,
          crossAttention(g, plainLayerNorm(g, h, D), inputs.cond, { width: D, contextWidth: c.condWidth, heads: c.heads, name: 'cross' }),
        );
        const mlpIn = modulate(g, plainLayerNorm(g, h, D), shift2!, scale2!);
        return g.add(h, g.mul(gate2!, swiglu(g, mlpIn, D, c.mlpHidden, 'mlp', outScale)));
      });
    }
    return g.scope('final', () => {
      const mod = g.unsqueeze(linear(g, global, D, 2 * D, 'adaln', { bias: true, std: 0 }), [1]);
      const [shift, scale] = g.split(mod, 2, -1);
      return linear(g, modulate(g, plainLayerNorm(g, x, D), shift!, scale!), D, patchDim, 'out', { bias: true, std: 0 });
    });
  });
}
