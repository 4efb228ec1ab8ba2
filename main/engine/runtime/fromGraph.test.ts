import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../graph/builder.ts';
import { paramSpecsFromGraph } from './fromGraph.ts';
import { ParamStore } from './params.ts';

test('graph parameters become store specs: names, shapes, initializers and groups', () => {
  const g = new GraphBuilder('m');
  g.scope('lm', () => g.param('w', [3, 2], { kind: 'uniform', bound: 0.1 }));
  g.scope('dm', () => g.param('b', [2], { kind: 'values', data: new Float32Array([7, 8]) }));
  const specs = paramSpecsFromGraph(g.params, { group: (name) => name.split('/')[0]! });
  assert.deepEqual(
    specs.map((s) => [s.name, s.shape, s.group, s.init?.kind]),
    [
      ['lm/w', [3, 2], 'lm', 'uniform'],
      ['dm/b', [2], 'dm', 'values'],
    ],
  );
  const store = new ParamStore(specs, { seed: 1 });
  assert.ok(store.get('lm/w').data.every((v) => Math.abs(v) <= 0.1) && store.get('lm/w').data.some((v) => v !== 0));
  assert.deepEqual(store.get('dm/b').data, new Float32Array([7, 8]));
});

test('non-float32 graph parameters are refused by name', () => {
  const g = new GraphBuilder('m');
  g.param('double', [2], { kind: 'zeros' }, 'float64');
  assert.throws(() => paramSpecsFromGraph(g.params), /parameter 'double' is float64/);
});
