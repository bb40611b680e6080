import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../protocol/errors.js';
import { defaultClippedCountStddev, nextClippingNorm, noisedUnclippedFraction, unclippedIndicator, updateNoiseMultiplier } from './adaptive-clipping.js';

test('z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2): z = 1, σ_b = 2.5 → 1/√(1 − 1/25)', () => {
  assert.ok(Math.abs(updateNoiseMultiplier(1, 2.5) - 1 / Math.sqrt(0.96)) < 1e-15);
  assert.equal(updateNoiseMultiplier(0, 0), 0);
  // Composition check: z_Δ and 2σ_b together give back z.
  const zDelta = updateNoiseMultiplier(1.3, 4);
  assert.ok(Math.abs((zDelta ** -2 + 8 ** -2) ** -0.5 - 1.3) < 1e-12);
});

test('refuses a count noise that would spend the whole budget (2σ_b ≤ z)', () => {
  assert.throws(
    () => updateNoiseMultiplier(1, 0.5),
    (e: unknown) => (e as { code: string }).code === ErrorCode.INVALID_ARGUMENT && (e as { details: { field: string } }).details.field === 'clippedCountStddev',
  );
});

test('indicators and the noised fraction, σ_b = 0', () => {
  assert.equal(unclippedIndicator(1, 1), 0.5);
  assert.equal(unclippedIndicator(1.0001, 1), -0.5);
  // 3 of 4 unclipped: Σ(b − ½) = 1, fraction = 1/4 + ½ = 0.75; fixed denominator m = 5: 0.7.
  assert.equal(noisedUnclippedFraction(1, 4, 0), 0.75);
  assert.equal(noisedUnclippedFraction(1, 5, 0), 0.7);
  assert.equal(defaultClippedCountStddev(100), 5);
});

test('geometric step C·exp(−η(b̄ − γ)), stored as float32', () => {
  assert.equal(nextClippingNorm(1, 1, { targetQuantile: 0.5, clipLearningRate: 0.2 }), Math.fround(Math.exp(-0.1)));
  assert.equal(nextClippingNorm(2, 0, { targetQuantile: 0.5, clipLearningRate: 0.2 }), Math.fround(2 * Math.exp(0.1)));
  assert.equal(nextClippingNorm(0.75, 0.5, { targetQuantile: 0.5, clipLearningRate: 0.2 }), 0.75);
});
