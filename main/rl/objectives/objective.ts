// What an RL objective is to the update: it packs its rows into feeds, builds its term on the model's graph
// and names the values a forward pass under the frozen reference weights must supply (its KL anchor). The
// update (rl/unified.ts) runs the model, hands each objective what it needs and adds the terms; a new
// objective is a new module beside these (issue 18), not a branch in the update.
import type { Tensor, GraphBuilder } from '../../engine/graph/builder.ts';
import type { Feed } from '../../engine/runtime/session.ts';
import type { DmLoss } from '../config.ts';
import type { TermGraph } from '../losses.ts';
import type { DmTrajectory, LmRecord } from '../policy.ts';

/** A term built on the model's graph, before the loss is asked for. */
export interface BuiltTerm<Hyper> {
  /**
   * Policy values other passes supply as constants: the same forward pass under the frozen reference
   * weights (fed back as `<name>_ref`, the KL anchor) and, where `old` is set, under the weights that drew
   * the rollout, i.e. before this update (`<name>_old`, DiffusionNFT's sampling policy).
   */
  forward: Record<string, Tensor>;
  old?: boolean;
  /** The term's loss and metrics, with the rollout records and the passes' values as inputs. */
  term(hyper: Hyper): TermGraph;
}

/** Feeds of one objective over its rows: `inputs` feed the model's forward pass, `terms` the loss. */
export interface TermFeeds {
  inputs: Record<string, Feed>;
  terms: Record<string, Feed>;
  /** Rows (completions or DM rows) in this pass: a pass's term is weighed by its share of the batch. */
  count: number;
}

/** One LM completion of an update: the tokens after `promptLength` ids of packed sequence `seq`. */
export interface CompletionRow {
  seq: number;
  promptLength: number;
  record: LmRecord;
  advantage: number;
}

/** One DM row of an update: step `k` of a trajectory conditioned on packed sequence `seq`. */
export interface DmRow {
  seq: number;
  /** The DiT reference patches [N·P] the trajectory was drawn with. */
  source: Float32Array;
  trajectory: DmTrajectory;
  k: number;
  advantage: number;
}

/** The DiT of the policy as a graph function: velocity [R, N, P] at points x [R, N, P] and times t [R] (cond and ref are the rows'). */
export type VelocityGraph = (x: Tensor, t: Tensor) => Tensor;

export interface DmObjective {
  readonly name: string;
  /** Feeds of the rows; the DiT's per-row condition and reference are fed by the update. */
  feeds(rows: readonly DmRow[], rowShape: readonly number[], hyper: DmLoss): TermFeeds;
  build(g: GraphBuilder, velocity: VelocityGraph, rowShape: readonly (string | number)[]): BuiltTerm<DmLoss>;
}

/** The feed names a term reads a forward value back under: from the reference pass, from the old-weights pass. */
export const referenceFeed = (output: string) => `${output}_ref`;
export const oldFeed = (output: string) => `${output}_old`;
