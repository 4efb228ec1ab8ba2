// Which names share one tensor in an exported file. torch.onnx.export stores identical parameters once
// (two fresh LayerNorms: one weight), naming the others through Identity nodes (torch 1.x) or simply
// using the one initializer from several modules; the gradient of that initializer is then the sum over
// every parameter it stands for, and a user mapping gradients back needs to know which ones.
import type { ModelProto } from './proto.ts';

export interface SharedInitializer {
  /** The initializer that holds the values (the name to differentiate with respect to). */
  initializer: string;
  /** Other names for it: outputs of Identity nodes reading it (torch's names of the merged parameters). */
  aliases: string[];
  /** Module scopes whose nodes read it or an alias (node names up to the last '/', e.g. '/enc/norm1'). */
  scopes: string[];
}

const scopeOf = (nodeName: string) => (nodeName.includes('/') ? nodeName.slice(0, nodeName.lastIndexOf('/')) : nodeName);

/** Initializers that stand for more than one parameter: read under other names or from several modules. */
export function sharedInitializers(model: ModelProto): SharedInitializer[] {
  const initializers = new Set(model.graph.initializer.map((i) => i.name));
  const holderOf = new Map<string, string>([...initializers].map((n) => [n, n]));
  const aliases = new Map<string, string[]>();
  const scopes = new Map<string, Set<string>>();
  for (const node of model.graph.node) {
    if (node.opType === 'Identity' && holderOf.has(node.input[0]!) && node.output[0]) {
      const holder = holderOf.get(node.input[0]!)!;
      holderOf.set(node.output[0], holder);
      aliases.set(holder, [...(aliases.get(holder) ?? []), node.output[0]]);
      continue;
    }
    for (const input of node.input) {
      const holder = holderOf.get(input);
      if (!holder) continue;
      const set = scopes.get(holder) ?? new Set<string>();
      set.add(scopeOf(node.name));
      scopes.set(holder, set);
    }
  }
  return [...initializers]
    .map((initializer) => ({ initializer, aliases: aliases.get(initializer) ?? [], scopes: [...(scopes.get(initializer) ?? [])].sort() }))
    .filter((s) => s.aliases.length > 0 || s.scopes.length > 1);
}
