import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParamStore, type ParamSpec } from './params.ts';
import { Rng } from './rng.ts';

const specs: ParamSpec[] = [
  { name: 'embed', shape: [100, 40], init: { kind: 'normal', std: 0.5 }, group: 'lm' },
  { name: 'w', shape: [40, 60], init: { kind: 'xavier' }, group: 'lm' },
  { name: 'ln.g', shape: [40], init: { kind: 'ones' }, group: 'dm' },
  { name: 'ln.b', shape: [40] },
];

test('parameters are views into one flat buffer, in declaration order', () => {
  const store = new ParamStore(specs);
  assert.equal(store.size, 4000 + 2400 + 80);
  const w = store.get('w');
  assert.equal(w.offset, 4000);
  assert.equal(w.data.buffer, store.flat.buffer);
  w.data[0] = 42;
  assert.equal(store.flat[4000], 42);
  assert.deepEqual(
    store.list().map((p) => p.name),
    ['embed', 'w', 'ln.g', 'ln.b'],
  );
  assert.deepEqual(store.groups(), ['lm', 'dm', 'default']);
  assert.deepEqual(Object.keys(store.feeds()), ['embed', 'w', 'ln.g', 'ln.b']);
});

test('initializers: deterministic per (seed, name), with the requested statistics', () => {
  const a = new ParamStore(specs, { seed: 7 });
  const b = new ParamStore([...specs].reverse(), { seed: 7 });
  assert.deepEqual(a.get('embed').data, b.get('embed').data, 'same seed and name give the same values regardless of order');
  assert.notDeepEqual(a.get('embed').data, new ParamStore(specs, { seed: 8 }).get('embed').data);

  const embed = a.get('embed').data;
  const mean = embed.reduce((s, v) => s + v, 0) / embed.length;
  const std = Math.sqrt(embed.reduce((s, v) => s + (v - mean) ** 2, 0) / embed.length);
  assert.ok(Math.abs(mean) < 0.03 && Math.abs(std - 0.5) < 0.03, `normal(0.5): mean ${mean}, std ${std}`);

  const bound = Math.sqrt(6 / (40 + 60));
  const w = a.get('w').data;
  assert.ok(w.every((v) => Math.abs(v) <= bound));
  assert.ok(Math.max(...w) > 0.9 * bound, 'xavier fills its range');
  assert.ok(a.get('ln.g').data.every((v) => v === 1));
  assert.ok(a.get('ln.b').data.every((v) => v === 0));
});

test('freezing selects by name, RegExp or predicate; no match is an error', () => {
  const store = new ParamStore(specs);
  assert.equal(store.setFrozen(/^ln\./), 2);
  assert.deepEqual(
    store.trainable().map((p) => p.name),
    ['embed', 'w'],
  );
  store.setFrozen((p) => p.group === 'lm');
  assert.equal(store.trainable().length, 0);
  store.setFrozen('w', false);
  assert.deepEqual(
    store.trainable().map((p) => p.name),
    ['w'],
  );
  assert.throws(() => store.setFrozen('nope'), /no parameter matches nope/);
});

test('bad specs are rejected, naming the parameter', () => {
  assert.throws(
    () =>
      new ParamStore([
        { name: 'a', shape: [1] },
        { name: 'a', shape: [2] },
      ]),
    /duplicate parameter name 'a'/,
  );
  assert.throws(() => new ParamStore([{ name: 'a', shape: [2, -1] }]), /parameter 'a': invalid shape \[2, -1\]/);
  assert.throws(() => new ParamStore([{ name: 'b', shape: [5], init: { kind: 'xavier' } }]), /xavier init needs a >= 2-D shape, 'b'/);
  assert.throws(() => new ParamStore([]).get('x'), /no parameter named 'x'/);
});

test('Rng is reproducible and uniform in [0, 1)', () => {
  const a = new Rng(123);
  const b = new Rng(123);
  const xs = Array.from({ length: 1000 }, () => a.uniform());
  assert.deepEqual(
    xs,
    Array.from({ length: 1000 }, () => b.uniform()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  assert.notEqual(new Rng(124).uniform(), xs[0]);
});
