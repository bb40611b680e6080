import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../protocol/errors.js';
import { adaptiveServerStep, serverMomentumStep } from './server-optimizers.js';

const f32 = (values: number[]) => Float32Array.from(values);

test('serverMomentumStep: v ← βv + (θ − avg), θ − ηv; in place when out is theta', () => {
  // θ = [1, 2], avg = [0, 4], v = [1, 1], β = 0.5, η = 2: v = [0.5 + 1, 0.5 − 2] = [1.5, −1.5]; θ' = [1 − 3, 2 + 3] = [−2, 5].
  const theta = f32([1, 2]);
  const velocity = f32([1, 1]);
  const out = serverMomentumStep(theta, f32([0, 4]), velocity, { serverLearningRate: 2, momentum: 0.5 }, theta);
  assert.equal(out, theta);
  assert.deepEqual(Array.from(theta), [-2, 5]);
  assert.deepEqual(Array.from(velocity), [1.5, -1.5]);
});

test('adaptiveServerStep: one step of each rule from m = [1], v = [4]', () => {
  // θ = 0, avg = 2 → Δ = 2, Δ² = 4; β1 = 0.5 → m = 0.5 + 1 = 1.5; η = 1, τ = 1.
  //   adagrad: v = 4 + 4 = 8;                   θ' = 1.5 / (√8 + 1)
  //   adam:    v = 0.5·4 + 0.5·4 = 4 (β2 = 0.5); θ' = 1.5 / (2 + 1) = 0.5
  //   yogi:    v = 4 − 0.5·4·sign(0) = 4;        θ' = 0.5
  const expected = { adagrad: [8, 1.5 / (Math.sqrt(8) + 1)], adam: [4, 0.5], yogi: [4, 0.5] };
  for (const [rule, [v, theta]] of Object.entries(expected)) {
    const m = f32([1]);
    const vs = f32([4]);
    const out = adaptiveServerStep(rule as 'adam', f32([0]), f32([2]), m, vs, { eta: 1, beta1: 0.5, beta2: 0.5, tau: 1 });
    assert.equal(m[0], 1.5, rule);
    assert.equal(vs[0], v, rule);
    assert.ok(Math.abs(out[0]! - theta!) < 1e-7, `${rule}: ${out[0]}`);
  }
});

test('length mismatches are SHAPE_MISMATCH naming the vector', () => {
  assert.throws(
    () => adaptiveServerStep('adam', f32([0, 0]), f32([0, 0]), f32([0]), f32([0, 0]), { eta: 1, beta1: 0.9, beta2: 0.99, tau: 1e-3 }),
    (e: { code: string; details: { field: string } }) => e.code === ErrorCode.SHAPE_MISMATCH && e.details.field === 'm',
  );
  assert.throws(
    () => serverMomentumStep(f32([0, 0]), f32([0]), f32([0, 0]), { serverLearningRate: 1, momentum: 0.9 }),
    (e: { code: string; details: { field: string } }) => e.code === ErrorCode.SHAPE_MISMATCH && e.details.field === 'average',
  );
});
