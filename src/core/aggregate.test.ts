import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../protocol/errors.js';
import { weightedAverage, weightedSum } from './aggregate.js';
import { seededRandom } from './random.js';
import { simdAvailable, weightedSumScalar, weightedSumSimd } from './weighted-sum-kernel.js';

const f32 = (values: number[]) => Float32Array.from(values);

function assertCode(fn: () => unknown, code: string, field: string): void {
  assert.throws(fn, (e: { code: string; details: { field: string } }) => {
    assert.equal(e.code, code);
    assert.equal(e.details.field, field);
    return true;
  });
}

test('the SIMD kernel compiles on this engine (otherwise the scalar path would silently run)', () => {
  assert.equal(simdAvailable(), true);
});

test('weightedAverage: exact values', () => {
  // (1·[1, 2, 3] + 3·[5, 6, −1]) / 4 = [16, 20, 0] / 4 = [4, 5, 0].
  assert.deepEqual(Array.from(weightedAverage([{ data: f32([1, 2, 3]), weight: 1 }, { data: f32([5, 6, -1]), weight: 3 }])), [4, 5, 0]);
  // One input: itself.
  assert.deepEqual(Array.from(weightedAverage([{ data: f32([0.1, -7]), weight: 9 }])), [Math.fround(0.1), -7]);
  // Zero weight leaves a vector out: (0·[100] + 2·[3]) / 2 = [3].
  assert.deepEqual(Array.from(weightedAverage([{ data: f32([100]), weight: 0 }, { data: f32([3]), weight: 2 }])), [3]);
  // Empty vectors average to an empty vector.
  assert.equal(weightedAverage([{ data: new Float32Array(0), weight: 1 }]).length, 0);
});

test('weightedAverage: only the ratios of the weights matter', () => {
  const inputs = (scale: number) => [
    { data: f32([1, 0, 2]), weight: 2 * scale },
    { data: f32([0, 1, 2]), weight: 6 * scale },
  ];
  // (2·[1, 0, 2] + 6·[0, 1, 2]) / 8 = [0.25, 0.75, 2].
  for (const scale of [1, 1e-6, 1e6]) assert.deepEqual(Array.from(weightedAverage(inputs(scale))), [0.25, 0.75, 2]);
});

test('weightedAverage: writes into out, which may alias an input', () => {
  const a = f32([2, 4]);
  const out = weightedAverage([{ data: a, weight: 1 }, { data: f32([4, 8]), weight: 1 }], a);
  assert.equal(out, a);
  assert.deepEqual(Array.from(a), [3, 6]);
});

test('weightedSum: any finite weights, negative included', () => {
  // 2·[1, 1] − 1·[3, −1] = [−1, 3].
  assert.deepEqual(Array.from(weightedSum([{ data: f32([1, 1]), weight: 2 }, { data: f32([3, -1]), weight: -1 }])), [-1, 3]);
});

test('weightedAverage: bad inputs are ConcordErrors naming the field', () => {
  assertCode(() => weightedAverage([]), ErrorCode.INVALID_ARGUMENT, 'inputs');
  assertCode(() => weightedAverage([{ data: f32([1, 2]), weight: 1 }, { data: f32([1]), weight: 1 }]), ErrorCode.SHAPE_MISMATCH, 'inputs[1].data');
  assertCode(() => weightedAverage([{ data: f32([1]), weight: 1 }, { data: f32([1]), weight: NaN }]), ErrorCode.INVALID_ARGUMENT, 'inputs[1].weight');
  assertCode(() => weightedAverage([{ data: f32([1]), weight: Infinity }]), ErrorCode.INVALID_ARGUMENT, 'inputs[0].weight');
  assertCode(() => weightedAverage([{ data: f32([1]), weight: 1 }, { data: f32([1]), weight: -0.5 }]), ErrorCode.INVALID_ARGUMENT, 'inputs[1].weight');
  assertCode(() => weightedAverage([{ data: f32([1]), weight: 0 }, { data: f32([1]), weight: 0 }]), ErrorCode.INVALID_ARGUMENT, 'inputs[].weight');
  assertCode(() => weightedAverage([{ data: f32([1, 2]), weight: 1 }], new Float32Array(3)), ErrorCode.SHAPE_MISMATCH, 'out');
  assertCode(() => weightedAverage([{ data: [1, 2] as unknown as Float32Array, weight: 1 }]), ErrorCode.INVALID_ARGUMENT, 'inputs[0].data');
});

/** Float64 reference Σ w_k x_k / Σ w_k, one element at a time. */
function reference(inputs: { data: Float32Array; weight: number }[]): Float64Array {
  const total = inputs.reduce((s, i) => s + i.weight, 0);
  const out = new Float64Array(inputs[0]!.data.length);
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (const x of inputs) s += x.weight * x.data[i]!;
    out[i] = s / total;
  }
  return out;
}

function randomInputs(K: number, P: number, seed: number): { data: Float32Array; weight: number }[] {
  const random = seededRandom(seed);
  return Array.from({ length: K }, () => {
    const data = new Float32Array(P);
    for (let i = 0; i < P; i++) data[i] = (random() - 0.5) * 8;
    return { data, weight: 1 + Math.floor(random() * 1000) };
  });
}

test('weightedAverage: large random cases agree with a float64 reference (SIMD and scalar paths)', () => {
  // Sizes straddle the kernel's group (16 inputs) and block (8192 values) and leave ragged tails.
  for (const [K, P, seed] of [
    [1, 1, 1],
    [3, 7, 2],
    [16, 8192, 3],
    [17, 8195, 4],
    [40, 20_001, 5],
    [100, 30_000, 6],
  ] as const) {
    const inputs = randomInputs(K, P, seed);
    const expected = reference(inputs);
    const total = inputs.reduce((s, i) => s + i.weight, 0);
    const weights = inputs.map((i) => i.weight / total);
    const vectors = inputs.map((i) => i.data);
    const paths = {
      weightedAverage: weightedAverage(inputs),
      simd: weightedSumSimd(vectors, weights, new Float32Array(P))!,
      scalar: weightedSumScalar(vectors, weights, new Float32Array(P)),
    };
    for (const [path, got] of Object.entries(paths)) {
      let worst = 0;
      for (let i = 0; i < P; i++) worst = Math.max(worst, Math.abs(got[i]! - expected[i]!));
      // Values are within ±4: a few float32 ulps (2.4e-7 each at 4) of the exact average.
      assert.ok(worst < 2e-6, `${path} K=${K} P=${P}: max error ${worst}`);
    }
  }
});
