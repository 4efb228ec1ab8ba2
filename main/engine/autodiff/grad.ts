// Reverse-mode autodiff on ONNX graphs: takes any ModelProto whose ops have rules (rules.ts) and returns a
// model that computes the original outputs plus `grad/<name>` for each requested input or initializer.
//
// Memory choice: the backward graph reuses forward values (activations) directly — it keeps them rather
// than recomputing them. Forward and backward run as one ORT session, so ORT's allocation planner frees
// each activation after its last backward use. This costs activation memory proportional to depth, which
// is small for the engine's models (width 128-256, 4-8 layers, 64-128 tokens), and saves the recompute
// time a checkpointing scheme would spend — train-step speed is what the benchmark measures. Where memory
// matters more (bigger models on a GPU), `recompute` names segments (e.g. transformer blocks) whose forward
// is recomputed inside their gradient scope instead (gradient checkpointing).
import { GraphBuilder, type Tensor } from '../graph/builder.ts';
import type { ModelProto, NodeProto } from '../onnx/proto.ts';
import { isFloat } from '../onnx/tensor.ts';
import { RULES, sumToShape, type GradContext, type RuleEntry } from './rules.ts';

export interface GradOptions {
  /** Name of the scalar value to differentiate (a graph output or any intermediate value). */
  loss: string;
  /** Graph inputs or initializers to differentiate with respect to; each gets an output `grad/<name>`. */
  wrt: readonly string[];
  /** Values through which no gradient flows (treated as constants). */
  stopGradient?: readonly string[];
  /** Rules to use in place of (or in addition to) the built-in table. */
  rules?: Readonly<Record<string, RuleEntry>>;
  /**
   * Gradient checkpointing: the segment a forward node belongs to (undefined: none). The backward pass of
   * a segment reads a recomputation of its forward (emitted from the segment's inputs inside its gradient
   * scope), not the forward's activations, so those are freed after the forward; the cost is one more
   * forward of the segment. `blockSegments` gives one segment per top-level scope matching a pattern.
   */
  recompute?: (node: NodeProto) => string | undefined;
}

/** Segments for `recompute`: nodes whose name starts with a scope matching `pattern` (e.g. /^block\d+\//), one per scope. */
export function blockSegments(pattern: RegExp): (node: NodeProto) => string | undefined {
  return (node) => pattern.exec(node.name)?.[0];
}

export const gradName = (name: string) => `grad/${name}`;

export function grad(model: ModelProto, opts: GradOptions): ModelProto {
  const g = GraphBuilder.fromModel(model);
  const rules = { ...RULES, ...opts.rules };
  if (!g.has(opts.loss)) throw new Error(`grad: loss '${opts.loss}' is not a value in graph '${g.name}'`);
  const loss = g.get(opts.loss);
  if (!isFloat(loss.dtype)) throw new Error(`grad: loss '${opts.loss}' is ${loss.dtype}, not a float`);
  if (loss.shape?.some((d) => d !== 1)) {
    throw new Error(`grad: loss '${opts.loss}' must be a scalar (shape [${loss.shape.join(', ')}])`);
  }
  for (const w of opts.wrt) {
    if (!g.has(w) || g.producer(w)) throw new Error(`grad: wrt '${w}' is not a graph input or initializer`);
    if (!isFloat(g.get(w).dtype)) throw new Error(`grad: wrt '${w}' is ${g.get(w).dtype}; only float values have gradients`);
  }
  const stop = new Set(opts.stopGradient ?? []);
  for (const s of stop) if (!g.has(s)) throw new Error(`grad: stopGradient '${s}' is not a value in the graph`);

  const forward = [...g.nodeList];
  const active = activeNodes(forward, opts, stop, rules, (name) => isFloat(g.get(name).dtype));

  const contributions = new Map<string, Tensor[]>();
  const contribute = (name: string, t: Tensor) => {
    const list = contributions.get(name);
    if (list) list.push(t);
    else contributions.set(name, [t]);
  };
  // Fan-in: a value used by several nodes gets the sum of their gradients (one Sum node).
  const gradientOf = (name: string): Tensor | undefined => {
    const list = contributions.get(name);
    if (!list || list.length === 1) return list?.[0];
    const total = g.scope(`${name}_Grad`, () => g.sum(list));
    contributions.set(name, [total]);
    return total;
  };

  // Checkpointed segments: original value name → its recomputation, and the recomputed copy of each node.
  const recomputed = new Map<string, Map<string, Tensor>>();
  const copyOf = new Map<NodeProto, NodeProto>();
  const recomputeSegment = (segment: string, seen: Tensor): Map<string, Tensor> => {
    const values = new Map<string, Tensor>();
    g.scope(`${segment.replace(/\/$/, '')}_Recompute`, () => {
      // The activations entering the segment pass through x + 0·dY[0]: a data dependency on the backward, so
      // ORT schedules the recomputation there (not beside the forward) and cannot merge it with the forward
      // as a common subexpression.
      const gate = g.mul(g.slice(g.reshape(seen, [-1]), [0], [1]), 0);
      const gated = (n: string) => {
        const t = g.get(n);
        return g.producer(n) && isFloat(t.dtype) ? g.add(t, t.dtype === gate.dtype ? gate : g.cast(gate, t.dtype)) : t;
      };
      for (const node of forward) {
        if (opts.recompute!(node) !== segment) continue;
        const inputs = node.input.map((n) => {
          if (!n) return undefined;
          if (!values.has(n)) values.set(n, gated(n));
          return values.get(n)!;
        });
        const outs = g.op(node.opType, inputs, node.attribute, {
          name: node.opType,
          outputs: node.output.length,
          ...(node.domain ? { domain: node.domain } : {}),
        });
        node.output.forEach((o, i) => o && values.set(o, outs[i]!));
        copyOf.set(node, g.producer(outs[0]!)!);
      }
    });
    recomputed.set(segment, values);
    return values;
  };

  contribute(
    loss.name,
    g.scope(`${loss.name}_Grad`, () => g.fullLike(loss, 1)),
  );
  for (const { node, needs } of active) {
    const dy = node.output.map((o) => (o && !stop.has(o) ? gradientOf(o) : undefined));
    if (dy.every((d) => !d)) continue;
    const entry = rules[node.opType]!;
    if (entry.kind !== 'rule') continue;
    const segment = opts.recompute?.(node);
    const values = segment ? (recomputed.get(segment) ?? recomputeSegment(segment, dy.find((d) => d)!)) : undefined;
    const value = (n: string) => values?.get(n) ?? g.get(n);
    const ctx: GradContext = {
      g,
      node,
      x: node.input.map((n) => (n ? value(n) : undefined)),
      y: node.output.map((n) => (n ? value(n) : undefined)),
      dy,
      needs,
      output: (i) => g.ensureOutput(values ? copyOf.get(node)! : node, i),
    };
    g.scope(`${node.name}_Grad`, () => {
      const dx = entry.grad(ctx);
      node.input.forEach((name, i) => {
        const d = dx[i];
        if (!needs[i] || !d) return;
        contribute(name, entry.broadcasts ? sumToShape(g, d, ctx.x[i]!) : d);
      });
    });
  }

  for (const w of opts.wrt) {
    const x = g.get(w);
    // An input the loss does not depend on gets an explicit zero gradient.
    const d = gradientOf(w) ?? g.scope(`${w}_Grad`, () => g.fullLike(x, 0));
    g.output(d.dtype === x.dtype ? d : g.cast(d, x.dtype), gradName(w));
  }
  return g.build();
}

interface ActiveNode {
  node: NodeProto;
  /** needs[i]: input i depends on a wrt value (through differentiable ops, not through stop-gradients). */
  needs: boolean[];
}

/**
 * The nodes on a path from a wrt value to the loss, in reverse topological order. Forward pass: which
 * values depend on wrt; backward pass: which of those the loss depends on. Everything else is pruned.
 */
function activeNodes(
  nodes: readonly NodeProto[],
  opts: GradOptions,
  stop: ReadonlySet<string>,
  rules: Readonly<Record<string, RuleEntry>>,
  carriesGradient: (value: string) => boolean, // integer and boolean values carry none
): ActiveNode[] {
  const depends = new Set(opts.wrt.filter((w) => !stop.has(w)));
  const candidates: ActiveNode[] = [];
  for (const node of nodes) {
    const needs = node.input.map((n) => !!n && depends.has(n));
    if (!needs.some(Boolean)) continue;
    const entry = rules[node.opType];
    if (entry?.kind === 'nondifferentiable') continue;
    candidates.push({ node, needs });
    for (const o of node.output) if (o && !stop.has(o) && carriesGradient(o)) depends.add(o);
  }
  const reaches = new Set([opts.loss]);
  const active: ActiveNode[] = [];
  for (let i = candidates.length - 1; i >= 0; i--) {
    const c = candidates[i]!;
    if (!c.node.output.some((o) => reaches.has(o) && !stop.has(o))) continue;
    if (!rules[c.node.opType]) throw new Error(`grad: no gradient rule for op type '${c.node.opType}' (node '${c.node.name}')`);
    active.push(c);
    c.node.input.forEach((n, k) => c.needs[k] && reaches.add(n));
  }
  return active;
}
