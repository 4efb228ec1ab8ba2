import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constantLr, warmupCosineLr } from './schedule.ts';

test('constant schedule is 1 at every step', () => {
  const schedule = constantLr();
  assert.deepEqual([1, 10, 1e6].map(schedule), [1, 1, 1]);
});

test('warmup + cosine: linear ramp, half-way cosine, floor at the end and after', () => {
  const schedule = warmupCosineLr({ warmupSteps: 10, totalSteps: 110, minFactor: 0.1 });
  assert.equal(schedule(1), 0.1);
  assert.equal(schedule(5), 0.5);
  assert.equal(schedule(10), 1);
  // Half-way through the decay the cosine term is 0.5: 0.1 + 0.9 · 0.5.
  assert.ok(Math.abs(schedule(60) - 0.55) < 1e-12);
  assert.ok(Math.abs(schedule(110) - 0.1) < 1e-12);
  assert.ok(Math.abs(schedule(500) - 0.1) < 1e-12);
  // Monotone decreasing after warmup.
  for (let s = 11; s < 110; s++) assert.ok(schedule(s + 1) <= schedule(s));
});

test('warmup + cosine validates its options', () => {
  assert.throws(() => warmupCosineLr({ warmupSteps: 10, totalSteps: 10 }), /totalSteps \(10\) must be an integer > warmupSteps \(10\)/);
  assert.throws(() => warmupCosineLr({ warmupSteps: -1, totalSteps: 10 }), /warmupSteps/);
  assert.throws(() => warmupCosineLr({ warmupSteps: 0, totalSteps: 10, minFactor: 2 }), /minFactor/);
  assert.equal(warmupCosineLr({ warmupSteps: 0, totalSteps: 10 })(1), 0.5 * (1 + Math.cos(Math.PI / 10)));
});
