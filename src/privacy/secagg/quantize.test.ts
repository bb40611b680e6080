import assert from 'node:assert/strict';
import { test } from 'node:test';
import { weightedAverage } from '../../core/aggregate.js';
import { seededRandom } from '../../core/random.js';
import { type ConcordError, ErrorCode } from '../../protocol/errors.js';
import { addInto } from './prg.js';
import { assertNoOverflow, defaultQuantizationBits, dequantizeSum, quantizationErrorBound, quantizeUpdate } from './quantize.js';

const tiny = { clippingRange: 1, bits: 4, maxWeight: 1 }; // Q = 2^3 − 1 = 7

test('quantizeUpdate: hand-computed fixed point with the weight last', () => {
  // w = 1 → q_w = 7; q_i = round(7·clip(θ_i)): 3.5 → 4, −7, clip(2) = 1 → 7, −2.1 → −2, 0.49 → 0.
  const v = quantizeUpdate(Float32Array.from([0.5, -1, 2, -0.3, 0.07]), 1, tiny);
  assert.deepEqual(Array.from(v), [4, 2 ** 32 - 7, 7, 2 ** 32 - 2, 0, 7]);
  // w = 0.5 → q_w = round(3.5) = 4; q = round(4·0.5) = 2, round(4·−1) = −4.
  assert.deepEqual(Array.from(quantizeUpdate(Float32Array.from([0.5, -1]), 0.5, tiny)), [2, 2 ** 32 - 4, 4]);
});

test('dequantizeSum: Σwθ and Σw of two members, within the stated bound', () => {
  // a: θ = [0.5, −1], w = 1 → [4, −7, 7]; b: θ = [0.5, 1], w = 0.5 → [2, 4, 4]; sum [6, −3, 11].
  const sum = quantizeUpdate(Float32Array.from([0.5, -1]), 1, tiny);
  addInto(sum, quantizeUpdate(Float32Array.from([0.5, 1]), 0.5, tiny));
  assert.deepEqual(Array.from(sum), [6, 2 ** 32 - 3, 11]);
  const { weightedSum, totalWeight } = dequantizeSum(sum, tiny);
  assert.deepEqual(Array.from(weightedSum), [Math.fround(6 / 7), Math.fround(-3 / 7)]);
  assert.equal(totalWeight, 11 / 7);
  // Exact average [0.5, −1/3]; quantized [6/11, −3/11]. Bound 1.5·2·1/(7·1.5 − 1) = 3/9.5.
  const bound = quantizationErrorBound({ ...tiny, members: 2, totalWeight: 1.5 });
  assert.equal(bound, 3 / 9.5);
  assert.ok(Math.abs(6 / 11 - 0.5) <= bound && Math.abs(-3 / 11 + 1 / 3) <= bound);
});

test('defaultQuantizationBits: the largest bits for which N·Q cannot wrap', () => {
  assert.deepEqual([1, 2, 10, 50, 200, 256, 257].map(defaultQuantizationBits), [32, 31, 28, 26, 24, 24, 23]);
  for (const n of [1, 2, 3, 10, 50, 200, 256, 1000]) {
    assert.doesNotThrow(() => assertNoOverflow({ ...tiny, bits: defaultQuantizationBits(n) }, n));
    assert.throws(() => assertNoOverflow({ ...tiny, bits: defaultQuantizationBits(n) + 1 }, n), (e: ConcordError) => e.details.field === 'quantization.bits');
  }
});

test('assertNoOverflow: configurations that could wrap or are malformed are refused', () => {
  // 2 members · (2^31 − 1) > 2^31 − 1.
  assert.throws(
    () => assertNoOverflow({ ...tiny, bits: 32 }, 2),
    (e: ConcordError) => e.code === ErrorCode.INVALID_ARGUMENT && e.details.field === 'quantization.bits' && e.details.expected === '<= 31' && /wrap/.test(e.message),
  );
  assert.throws(() => assertNoOverflow({ ...tiny, clippingRange: 0 }, 2), (e: ConcordError) => e.details.field === 'quantization.clippingRange');
  assert.throws(() => assertNoOverflow({ ...tiny, maxWeight: -1 }, 2), (e: ConcordError) => e.details.field === 'quantization.maxWeight');
  assert.throws(() => assertNoOverflow({ ...tiny, bits: 1 }, 2), (e: ConcordError) => e.details.field === 'quantization.bits');
});

test('quantizeUpdate: weights outside [0, maxWeight] and non-finite values are refused', () => {
  assert.throws(() => quantizeUpdate(new Float32Array(2), 1.5, tiny), (e: ConcordError) => e.code === ErrorCode.INVALID_ARGUMENT && e.details.field === 'weight');
  assert.throws(() => quantizeUpdate(new Float32Array(2), -1, tiny), (e: ConcordError) => e.details.field === 'weight');
  assert.throws(() => quantizeUpdate(Float32Array.from([0, NaN]), 1, tiny), (e: ConcordError) => e.code === ErrorCode.NON_FINITE && e.details.field === 'data[1]');
  assert.throws(() => quantizeUpdate(new Float32Array(2), 1, tiny, new Uint32Array(2)), (e: ConcordError) => e.code === ErrorCode.SHAPE_MISMATCH);
});

test('the extreme sum of 200 members at default bits does not wrap', () => {
  const options = { clippingRange: 8, bits: defaultQuantizationBits(200), maxWeight: 100 };
  for (const value of [8, -8]) {
    const sum = new Uint32Array(2);
    for (let k = 0; k < 200; k++) addInto(sum, quantizeUpdate(Float32Array.from([value]), 100, options));
    const { weightedSum, totalWeight } = dequantizeSum(sum, options);
    assert.equal(weightedSum[0], 200 * 100 * value);
    assert.equal(totalWeight, 200 * 100);
  }
});

test('measured error of the weighted average stays inside quantizationErrorBound', () => {
  const random = seededRandom(11);
  for (const [members, bits] of [[50, defaultQuantizationBits(50)], [10, 16], [10, 10]] as const) {
    const options = { clippingRange: 2, bits, maxWeight: 500 };
    const inputs = Array.from({ length: members }, () => ({
      data: Float32Array.from({ length: 2000 }, () => (2 * random() - 1) * 2),
      weight: 1 + Math.floor(random() * 500),
    }));
    const sum = new Uint32Array(2001);
    for (const u of inputs) addInto(sum, quantizeUpdate(u.data, u.weight, options));
    const { weightedSum, totalWeight } = dequantizeSum(sum, options);
    const exact = weightedAverage(inputs);
    const totalW = inputs.reduce((s, u) => s + u.weight, 0);
    const bound = quantizationErrorBound({ ...options, members, totalWeight: totalW });
    let worst = 0;
    for (let i = 0; i < 2000; i++) worst = Math.max(worst, Math.abs(weightedSum[i]! / totalWeight - exact[i]!));
    // float32 rounding of the two results adds at most a few ulps of values below 2.
    assert.ok(worst <= bound + 4 * 2 ** -23, `N=${members} bits=${bits}: error ${worst} > bound ${bound}`);
    assert.ok(worst > bound / 1000 || bits > 20, `the bound should not be vacuous at ${bits} bits (error ${worst}, bound ${bound})`);
  }
});
