// Meta-queries and the connector (MetaQuery / UniRL-Zero): learnable query embeddings appended after the
// prompt (one set for generation, one for editing); the LM's last hidden states at those positions go
// through a bidirectional transformer (RMSNorm, SwiGLU) and a linear map into the DM's condition width.
// Parameters live under `queries/` and `connector/`.
import type { GraphBuilder, Tensor } from '../engine/graph/builder.ts';
import { INIT_STD, POSITION_STD, encoderStack, linear, rmsNorm } from './blocks.ts';
import type { ConnectorConfig } from './config.ts';

/** Which query set a row uses. */
export const QUERY_SETS = ['generate', 'edit'] as const;
export type QuerySet = (typeof QUERY_SETS)[number];

/**
 * The query embeddings of each row: `editFlag` [B] float (0 = generation set, 1 = editing set).
 * Returns [B, Q, D]. Mixing by the flag keeps both sets in one graph with a gradient to each.
 */
export function metaQueries(g: GraphBuilder, editFlag: Tensor, o: { queries: number; width: number }): Tensor {
  return g.scope('queries', () => {
    const generate = g.param('generate', [o.queries, o.width], { kind: 'normal', std: INIT_STD });
    const edit = g.param('edit', [o.queries, o.width], { kind: 'normal', std: INIT_STD });
    const flag = g.unsqueeze(editFlag, [1, 2]); // [B, 1, 1]
    return g.add(g.mul(g.sub(1, flag), generate), g.mul(flag, edit));
  });
}

/** LM hidden states at the query positions [B, Q, lmWidth] → the DM's condition [B, Q, condWidth]. */
export function connect(
  g: GraphBuilder,
  c: ConnectorConfig,
  queryHidden: Tensor,
  o: { queries: number; lmWidth: number; condWidth: number },
): Tensor {
  return g.scope('connector', () => {
    const positions = g.param('positions', [o.queries, c.width], { kind: 'normal', std: POSITION_STD });
    const x = g.add(linear(g, queryHidden, o.lmWidth, c.width, 'in'), positions);
    const h = rmsNorm(g, encoderStack(g, x, c), c.width, 'final_norm');
    return linear(g, h, c.width, o.condWidth, 'out');
  });
}
