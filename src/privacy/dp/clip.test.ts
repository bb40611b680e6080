import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../protocol/errors.js';
import { accumulateClippedUpdate, clipFactor, clipInPlace, clipUpdate, clipVector, l2Norm, updateNorm } from './clip.js';

const code = (c: string, field?: string) => (e: unknown) => {
  const err = e as { code: string; details: { field?: string } };
  assert.equal(err.code, c);
  if (field !== undefined) assert.equal(err.details.field, field);
  return true;
};

test('l2Norm and updateNorm: the 3-4-5 triangle', () => {
  assert.equal(l2Norm(Float32Array.from([3, 4])), 5);
  assert.equal(updateNorm(Float32Array.from([1, 1]), Float32Array.from([4, 5])), 5);
  assert.equal(l2Norm(new Float32Array(0)), 0);
});

test('clipInPlace scales [3, 4] to norm 1: [0.6, 0.8], factor 0.2', () => {
  const v = Float32Array.from([3, 4]);
  const info = clipInPlace(v, 1);
  assert.deepEqual(info, { norm: 5, factor: 0.2 });
  assert.deepEqual(Array.from(v), [Math.fround(0.6), Math.fround(0.8)]);
});

test('a vector already inside the ball is left exactly as it is (factor 1)', () => {
  const v = Float32Array.from([0.3, -0.4]);
  assert.deepEqual(clipInPlace(v, 0.6), { norm: Math.hypot(Math.fround(0.3), Math.fround(-0.4)), factor: 1 });
  assert.deepEqual(Array.from(v), [Math.fround(0.3), Math.fround(-0.4)]);
  assert.deepEqual(clipInPlace(new Float32Array(3), 1), { norm: 0, factor: 1 });
});

test('clipVector leaves its input alone', () => {
  const v = Float32Array.from([0, 6, 8]);
  const { clipped, norm, factor } = clipVector(v, 2);
  assert.deepEqual(Array.from(v), [0, 6, 8]);
  assert.equal(norm, 10);
  assert.equal(factor, 0.2);
  assert.deepEqual(Array.from(clipped), [0, Math.fround(1.2), Math.fround(1.6)]);
});

test('clipUpdate: Δ = local − global clipped in float64', () => {
  const global = Float32Array.from([1, 2, 3]);
  const local = Float32Array.from([1, 5, 7]); // Δ = [0, 3, 4], ‖Δ‖ = 5
  const { delta, norm, factor } = clipUpdate(global, local, 2.5);
  assert.equal(norm, 5);
  assert.equal(factor, 0.5);
  assert.deepEqual(Array.from(delta), [0, 1.5, 2]);
});

test('accumulateClippedUpdate adds each clipped update to the sum', () => {
  const sum = new Float64Array(2);
  const global = Float32Array.from([0, 0]);
  accumulateClippedUpdate(sum, global, Float32Array.from([3, 4]), 1); // → [0.6, 0.8]
  accumulateClippedUpdate(sum, global, Float32Array.from([0.5, 0]), 1); // inside: [0.5, 0]
  assert.ok(Math.abs(sum[0]! - 1.1) < 1e-15 && Math.abs(sum[1]! - 0.8) < 1e-15, `sum = ${Array.from(sum)}`);
});

test('clipFactor: min(1, C/norm)', () => {
  assert.equal(clipFactor(4, 2), 0.5);
  assert.equal(clipFactor(2, 2), 1);
  assert.equal(clipFactor(0, 2), 1);
});

test('refuses a non-positive clipping norm, non-finite updates and length mismatches', () => {
  assert.throws(() => clipInPlace(Float32Array.from([1]), 0), code(ErrorCode.INVALID_ARGUMENT, 'clippingNorm'));
  assert.throws(() => clipInPlace(Float32Array.from([1]), Infinity), code(ErrorCode.INVALID_ARGUMENT, 'clippingNorm'));
  assert.throws(() => clipInPlace(Float32Array.from([1, NaN]), 1), code(ErrorCode.NON_FINITE, 'update'));
  assert.throws(() => clipUpdate(Float32Array.from([0]), Float32Array.from([Infinity]), 1), code(ErrorCode.NON_FINITE, 'update'));
  assert.throws(() => clipUpdate(Float32Array.from([0, 0]), Float32Array.from([1]), 1), code(ErrorCode.SHAPE_MISMATCH, 'local'));
  assert.throws(() => accumulateClippedUpdate(new Float64Array(1), Float32Array.from([0, 0]), Float32Array.from([1, 1]), 1), code(ErrorCode.SHAPE_MISMATCH, 'sum'));
});
