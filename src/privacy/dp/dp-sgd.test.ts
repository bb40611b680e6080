import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../protocol/errors.js';
import { seededRandom } from '../../core/random.js';
import { privatizeBatchGradients } from './dp-sgd.js';
import { gaussianNoise } from './gaussian.js';

const f32 = (...v: number[]) => Float32Array.from(v);

test('per-example clipping, then the mean: hand-computed', () => {
  // C = 1: [3, 4] → [0.6, 0.8]; [0.5, 0] stays; [0, −10] → [0, −1]. Sum [1.1, −0.2], mean over 3.
  const out = privatizeBatchGradients([f32(3, 4), f32(0.5, 0), f32(0, -10)], { clippingNorm: 1, noiseMultiplier: 0 });
  assert.deepEqual(Array.from(out), [Math.fround(1.1 / 3), Math.fround(-0.2 / 3)]);
});

test('no example moves the mean by more than C/L', () => {
  const base = [f32(0, 0, 0), f32(0, 0, 0), f32(0, 0, 0)];
  const out = privatizeBatchGradients([...base, f32(1e9, -1e9, 5e8)], { clippingNorm: 2, noiseMultiplier: 0 });
  const norm = Math.hypot(...out);
  assert.ok(Math.abs(norm - 2 / 4) < 1e-7, `moved by ${norm}`);
});

test('noise N(0, (zC)²) on the sum, divided by the expected lot size', () => {
  const random = seededRandom(3);
  const out = privatizeBatchGradients([f32(0.3, 0.4, 0)], { clippingNorm: 1, noiseMultiplier: 1.2, expectedBatchSize: 4, random });
  const noise = gaussianNoise(3, 1.2, seededRandom(3));
  assert.deepEqual(Array.from(out), [0.3, 0.4, 0].map((g, i) => Math.fround((Math.fround(g) + noise[i]!) / 4)));
});

test('empirical noise std of the mean is zC/L', () => {
  const d = 100_000;
  const out = privatizeBatchGradients([new Float32Array(d), new Float32Array(d)], { clippingNorm: 0.5, noiseMultiplier: 2 });
  let ss = 0;
  for (const v of out) ss += v * v;
  const std = Math.sqrt(ss / d);
  assert.ok(Math.abs(std / 0.5 - 1) < 0.02, `std ${std}, expected ${(2 * 0.5) / 2}`);
});

test('an empty Poisson lot still releases noise of the right length', () => {
  const out = privatizeBatchGradients([], { clippingNorm: 1, noiseMultiplier: 1, expectedBatchSize: 8, dimension: 5 });
  assert.equal(out.length, 5);
  assert.ok(out.every((v) => v !== 0));
});

test('refuses bad input, naming the field', () => {
  const field = (code: string, f: string) => (e: unknown) => (e as { code: string }).code === code && (e as { details: { field: string } }).details.field === f;
  assert.throws(() => privatizeBatchGradients([f32(1)], { clippingNorm: -1, noiseMultiplier: 1 }), field(ErrorCode.INVALID_ARGUMENT, 'clippingNorm'));
  assert.throws(() => privatizeBatchGradients([f32(1)], { clippingNorm: 1, noiseMultiplier: -1 }), field(ErrorCode.INVALID_ARGUMENT, 'noiseMultiplier'));
  assert.throws(() => privatizeBatchGradients([], { clippingNorm: 1, noiseMultiplier: 1 }), field(ErrorCode.INVALID_ARGUMENT, 'expectedBatchSize'));
  assert.throws(() => privatizeBatchGradients([], { clippingNorm: 1, noiseMultiplier: 1, expectedBatchSize: 2 }), field(ErrorCode.INVALID_ARGUMENT, 'dimension'));
  assert.throws(() => privatizeBatchGradients([f32(1, 2), f32(1)], { clippingNorm: 1, noiseMultiplier: 1 }), field(ErrorCode.SHAPE_MISMATCH, 'perExample[1]'));
  assert.throws(() => privatizeBatchGradients([f32(1, NaN)], { clippingNorm: 1, noiseMultiplier: 1 }), field(ErrorCode.NON_FINITE, 'perExample[0]'));
});
