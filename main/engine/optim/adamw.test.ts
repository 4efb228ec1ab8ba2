import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParamStore } from '../runtime/params.ts';
import { AdamW } from './adamw.ts';
import { warmupCosineLr } from './schedule.ts';

function assertClose(actual: ArrayLike<number>, expected: readonly number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
  }
}

test('AdamW matches hand-computed values for two steps', () => {
  const store = new ParamStore([{ name: 'w', shape: [2], init: { kind: 'constant', value: 0 } }]);
  store.get('w').data.set([1, -2]);
  const opt = new AdamW(store, { lr: 0.1, weightDecay: 0.1 });
  // Step 1: decay 1 - 0.1·0.1 = 0.99 → [0.99, -1.98]; m = 0.1·g, v = 0.001·g², and with bias
  // correction m̂/√v̂ = sign(g), so p -= 0.1·[1, -1] → [0.89, -1.88].
  opt.step({ w: new Float32Array([0.5, -1]) });
  assertClose(store.get('w').data, [0.89, -1.88], 1e-6, 'after step 1');
  // Step 2 (g = [0.1, 0.2]): p = 0.99·[0.89, -1.88] = [0.8811, -1.8612]; m = [0.055, -0.07];
  // v = [0.00025975, 0.001039]; m̂ = m/0.19 = [0.289474, -0.368421]; √v/√0.001999 = [0.360466, 0.720942];
  // p -= 0.1·m̂/(√v̂) → [0.800796, -1.810097].
  const report = opt.step({ w: new Float32Array([0.1, 0.2]) });
  assertClose(store.get('w').data, [0.800796, -1.810097], 2e-6, 'after step 2');
  assert.equal(report.step, 2);
  assert.equal(opt.steps, 2);
  const state = opt.state();
  assertClose(state.exp_avg.w!, [0.055, -0.07], 1e-7, 'exp_avg');
  assertClose(state.exp_avg_sq.w!, [0.00025975, 0.001039], 1e-9, 'exp_avg_sq');
});

test('AdamW groups use their own learning rate and weight decay; frozen parameters stay put', () => {
  const store = new ParamStore([
    { name: 'lm.w', shape: [3], init: { kind: 'ones' }, group: 'lm' },
    { name: 'dm.w', shape: [3], init: { kind: 'ones' }, group: 'dm' },
    { name: 'frozen', shape: [2], init: { kind: 'ones' }, group: 'dm', frozen: true },
  ]);
  const opt = new AdamW(store, { lr: 1e-3, weightDecay: 0, groups: { lm: { lr: 0.1 }, dm: { lr: 0.01, weightDecay: 1 } } });
  const g = new Float32Array([1, 1, 1]);
  const report = opt.step({ 'lm.w': g, 'dm.w': g });
  assert.deepEqual(report.lr, { lm: 0.1, dm: 0.01 });
  // First step moves each value by exactly lr (m̂/√v̂ = 1), after decay (1 − lr·wd).
  assertClose(store.get('lm.w').data, [0.9, 0.9, 0.9], 1e-6, 'lm.w');
  assertClose(store.get('dm.w').data, [0.99 - 0.01, 0.98, 0.98], 1e-6, 'dm.w');
  assertClose(store.get('frozen').data, [1, 1], 0, 'frozen');
});

test('AdamW schedule multiplies every group rate', () => {
  const store = new ParamStore([{ name: 'w', shape: [1], group: 'a' }]);
  const opt = new AdamW(store, { lr: 0.5, schedule: warmupCosineLr({ warmupSteps: 4, totalSteps: 10 }) });
  assert.equal(opt.nextLr('a'), 0.125);
  opt.step({ w: new Float32Array([1]) });
  assert.equal(opt.nextLr('a'), 0.25);
});

test('AdamW rejects missing or mis-sized gradients and unknown groups, naming them', () => {
  const store = new ParamStore([
    { name: 'a', shape: [2, 2] },
    { name: 'b', shape: [3] },
  ]);
  const opt = new AdamW(store, { lr: 0.1 });
  assert.throws(() => opt.step({ a: new Float32Array(4) }), /no gradient for trainable parameter 'b'/);
  assert.throws(() => opt.step({ a: new Float32Array(3), b: new Float32Array(3) }), /gradient of 'a' has 3 values, parameter has 4/);
  assert.equal(opt.steps, 0, 'a rejected step does not count');
  assert.throws(() => new AdamW(store, { lr: 0.1, groups: { lm: { lr: 1 } } }), /group 'lm' has no parameters/);
  store.setFrozen('b');
  opt.step({ a: new Float32Array(4) });
  assert.equal(opt.steps, 1, 'frozen parameters need no gradient');
});

test('AdamW state round-trips and validates', () => {
  const specs = [{ name: 'w', shape: [4], init: { kind: 'normal', std: 1 } as const }];
  const storeA = new ParamStore(specs, { seed: 3 });
  const storeB = new ParamStore(specs, { seed: 3 });
  const optA = new AdamW(storeA, { lr: 0.05 });
  const grad = new Float32Array([0.3, -0.2, 0.1, 0.4]);
  optA.step({ w: grad });
  const optB = new AdamW(storeB, { lr: 0.05 });
  storeB.flat.set(storeA.flat);
  optB.loadState(optA.state());
  optA.step({ w: grad });
  optB.step({ w: grad });
  assert.deepEqual(storeB.flat, storeA.flat);
  assert.equal(optB.steps, 2);
  assert.throws(() => optB.loadState({ step: 1, exp_avg: {}, exp_avg_sq: {} }), /missing exp_avg for parameter 'w'/);
  assert.throws(
    () => optB.loadState({ step: 1, exp_avg: { w: new Float32Array(4) }, exp_avg_sq: { w: new Float32Array(2) } }),
    /exp_avg_sq of 'w' has 2 values, parameter has 4/,
  );
});
