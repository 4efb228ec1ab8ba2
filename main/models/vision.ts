// The vision encoder: image patches → a few bidirectional transformer blocks → image tokens in the LM's
// width. Patches come from the host (patches.ts: [B, P, p·p·3] in [-1, 1]). Parameters live under `vision/`.
import type { GraphBuilder, Tensor } from '../engine/graph/builder.ts';
import { POSITION_STD, encoderStack, linear, rmsNorm } from './blocks.ts';
import type { VisionConfig } from './config.ts';

/** [B, P, p·p·3] patches → [B, P, lmWidth] image tokens. */
export function visionEncode(g: GraphBuilder, c: VisionConfig, patches: Tensor, o: { tokens: number; lmWidth: number }): Tensor {
  return g.scope('vision', () => {
    const patchDim = c.patch * c.patch * 3;
    const positions = g.param('positions', [o.tokens, c.width], { kind: 'normal', std: POSITION_STD });
    const x = g.add(linear(g, patches, patchDim, c.width, 'patch_embed', { bias: true }), positions);
    const h = rmsNorm(g, encoderStack(g, x, c), c.width, 'final_norm');
    return linear(g, h, c.width, o.lmWidth, 'to_lm');
  });
}
