// The LM's token objective (REFERENCE §1): per generated token, PPO-clip on the ratio of its log-prob under
// the policy to the rollout's, with the sample's advantage, plus beta times the k3 estimate of the KL to the
// frozen reference; masked mean per completion, mean over completions (losses.ts lmGrpoTerm), and the
// entropy of the next-token distributions as a metric.
import type { GraphBuilder, Tensor } from '../../engine/graph/builder.ts';
import type { LmLoss } from '../config.ts';
import { lmTermGraph } from '../losses.ts';
import { referenceFeed, type BuiltTerm, type CompletionRow, type TermFeeds } from './objective.ts';

/**
 * Where completions sit in the packed sequences: X slots per row (the L text slots without queries, all T
 * slots with them), text starting at slot `offset` (after the image tokens when there are queries).
 */
export interface CompletionLayout {
  slots: number;
  offset: number;
  vocabSize: number;
}

/** The sampling temperature of the batch's completions (their log-probs are under it). */
function samplingTemperature(rows: readonly CompletionRow[]): number {
  const temperatures = new Set(rows.map((r) => r.record.temperature));
  if (temperatures.size !== 1) throw new Error(`LM objective: the batch mixes sampling temperatures (${[...temperatures].join(', ')})`);
  const [temperature] = temperatures;
  // Greedy decoding (0) recorded log-probs of the untempered distribution.
  return temperature! > 0 ? temperature! : 1;
}

export const lmToken = {
  name: 'lmToken',

  /** One-hot targets [C, X, V], the rollout's log-probs and the token mask [C, X], the advantage [C]; lm_seq picks each row's sequence. */
  feeds(rows: readonly CompletionRow[], { slots: X, offset, vocabSize: V }: CompletionLayout): TermFeeds {
    const C = rows.length;
    const targets = new Float32Array(C * X * V);
    const old = new Float32Array(C * X);
    const mask = new Float32Array(C * X);
    rows.forEach((c, i) => {
      c.record.tokenIds.forEach((token, j) => {
        const slot = i * X + offset + c.promptLength - 1 + j; // the slot whose output predicts token j
        targets[slot * V + token] = 1;
        old[slot] = c.record.logProbs[j]!;
        mask[slot] = 1;
      });
    });
    return {
      inputs: {
        lm_seq: { data: BigInt64Array.from(rows, (c) => BigInt(c.seq)), shape: [C] },
        targets: { data: targets, shape: [C, X, V] },
        inv_temperature: { data: new Float32Array([1 / samplingTemperature(rows)]), shape: [1] },
      },
      terms: {
        lm_old: { data: old, shape: [C, X] },
        lm_mask: { data: mask, shape: [C, X] },
        lm_adv: { data: Float32Array.from(rows, (c) => c.advantage), shape: [C] },
      },
      count: C,
    };
  },

  /** `hidden` [S, X, D] of the packed sequences; `head` maps hidden states to logits [.., V]. */
  build(g: GraphBuilder, hidden: Tensor, head: (h: Tensor) => Tensor, slots: string, vocabSize: number): BuiltTerm<LmLoss> {
    const completionHidden = g.gather(hidden, g.input('lm_seq', 'int64', ['completions']), 0); // [C, X, D]
    const logits = g.mul(head(completionHidden), g.input('inv_temperature', 'float32', [1])); // [C, X, V]
    const targets = g.input('targets', 'float32', ['completions', slots, vocabSize]);
    const logProbs = g.reduceSum(g.mul(g.logSoftmax(logits, -1), targets), [-1], false); // [C, X]
    const perToken = (name: string) => g.input(name, 'float32', ['completions', slots]);
    return {
      forward: { lm_logp: logProbs },
      term: (hyper) =>
        lmTermGraph(
          g,
          {
            logProbs,
            oldLogProbs: perToken('lm_old'),
            refLogProbs: perToken(referenceFeed('lm_logp')),
            mask: perToken('lm_mask'),
            advantages: g.input('lm_adv', 'float32', ['completions']),
          },
          hyper,
          logits,
        ),
    };
  },
};
