import type { ParamInfo } from '../graph/builder.ts';
import type { Initializer, ParamSpec } from './params.ts';

/**
 * ParamSpecs for the parameters a GraphBuilder declared (`builder.params`), so
 * `new ParamStore(paramSpecsFromGraph(g.params, { group }))` materialises them.
 * `group` maps a parameter name to its optimizer group (e.g. `n => n.startsWith('lm/') ? 'lm' : 'dm'`).
 */
export function paramSpecsFromGraph(params: readonly ParamInfo[], options: { group?: (name: string) => string } = {}): ParamSpec[] {
  return params.map((p) => {
    if (p.dtype !== 'float32') throw new Error(`paramSpecsFromGraph: parameter '${p.name}' is ${p.dtype}; the store holds float32 only`);
    const spec: ParamSpec = { name: p.name, shape: p.shape, init: initializerOf(p) };
    if (options.group) spec.group = options.group(p.name);
    return spec;
  });
}

function initializerOf(p: ParamInfo): Initializer {
  const init = p.init;
  switch (init.kind) {
    case 'uniform':
      return { kind: 'uniform', low: -init.bound, high: init.bound };
    case 'normal':
    case 'zeros':
    case 'ones':
    case 'values':
      return init;
  }
}
