#!/usr/bin/env node
// Fails when modules import each other in a cycle (type-only imports included: a cycle of types is
// still two modules that cannot be understood apart). Scans main/, db/, contract/, preload/ and
// renderer/src; prints each cycle as a chain of paths.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const ROOTS = ['main', 'db', 'contract', 'preload', 'renderer/src'];
const SOURCE = /\.(ts|svelte)$/;
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;

function sourcesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules') return [];
    if (statSync(path).isDirectory()) return sourcesUnder(path);
    return SOURCE.test(name) && !name.endsWith('.test.ts') ? [path] : [];
  });
}

function importsOf(file) {
  const text = readFileSync(file, 'utf8');
  const out = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    if (!spec?.startsWith('.')) continue;
    const target = resolve(dirname(file), spec);
    for (const candidate of [target, target.replace(/\.js$/, '.ts'), `${target}.ts`, join(target, 'index.ts')]) {
      if (existsSync(candidate) && statSync(candidate).isFile()) {
        out.push(candidate);
        break;
      }
    }
  }
  return out;
}

const files = ROOTS.flatMap((r) => sourcesUnder(join(root, r)));
const graph = new Map(files.map((f) => [f, importsOf(f)]));

// Tarjan's strongly connected components: every component with more than one module is a cycle.
let index = 0;
const stack = [];
const state = new Map();
const cycles = [];
function visit(v) {
  state.set(v, { index, low: index, onStack: true });
  index++;
  stack.push(v);
  for (const w of graph.get(v) ?? []) {
    if (!graph.has(w)) continue;
    if (!state.has(w)) {
      visit(w);
      state.get(v).low = Math.min(state.get(v).low, state.get(w).low);
    } else if (state.get(w).onStack) state.get(v).low = Math.min(state.get(v).low, state.get(w).index);
  }
  if (state.get(v).low === state.get(v).index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      state.get(w).onStack = false;
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component);
  }
}
for (const f of files) if (!state.has(f)) visit(f);

if (cycles.length === 0) {
  console.log(`import cycles: none among ${files.length} modules`);
} else {
  for (const c of cycles)
    console.error(
      `import cycle: ${c
        .map((f) => relative(root, f))
        .sort()
        .join(' <-> ')}`,
    );
  process.exit(1);
}
