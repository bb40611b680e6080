import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../protocol/errors.js';
import { seededRandom } from './random.js';
import {
  clipFactor,
  clipToNorm,
  coordinateMedian,
  distance,
  distancesTo,
  krum,
  krumNeighbours,
  krumScores,
  l2Norm,
  medianOf,
  medianScalar,
  multiKrum,
  pairwiseSquaredDistances,
  pairwiseSquaredDistancesScalar,
  selectInPlace,
  trimCount,
  trimmedMean,
  trimmedMeanScalar,
} from './robust.js';
import { oddEvenMergeNetwork, pruneNetwork, robustSimdAvailable } from './robust-kernel.js';

const f32 = (values: number[]) => Float32Array.from(values);

function assertCode(fn: () => unknown, code: string, field: string): void {
  assert.throws(fn, (e: { code: string; details: { field: string } }) => {
    assert.equal(e.code, code);
    assert.equal(e.details.field, field);
    return true;
  });
}

/** K vectors of P values; `grid` rounds values to quarters (never −0) so that sums are exact. */
function randomVectors(K: number, P: number, seed: number, grid = false): Float32Array[] {
  const random = seededRandom(seed, K, P);
  return Array.from({ length: K }, () => Float32Array.from({ length: P }, () => (grid ? Math.round(random() * 40 - 20) / 4 + 0 : random() * 2 - 1)));
}

function sortedColumn(vectors: Float32Array[], i: number): number[] {
  return vectors.map((v) => v[i]!).sort((a, b) => a - b);
}

// Krum fixture: four close points and one far away, in 2-D.
//   v0 = (0, 0), v1 = (1, 0), v2 = (0, 1), v3 = (1, 2), v4 = (10, 10)
// Squared distances: d01 = 1, d02 = 1, d03 = 5, d04 = 200, d12 = 2, d13 = 4, d14 = 181,
//                    d23 = 2, d24 = 181, d34 = 145.
const KRUM = [f32([0, 0]), f32([1, 0]), f32([0, 1]), f32([1, 2]), f32([10, 10])];

test('the robust SIMD kernels compile on this engine (otherwise the scalar paths would silently run)', () => {
  assert.equal(robustSimdAvailable(), true);
});

test('coordinateMedian: odd and even K by hand', () => {
  // Columns: {1, 3, 100} → 3, {5, 0, 1} → 1, {−2, 7, 4} → 4.
  assert.deepEqual(Array.from(coordinateMedian([f32([1, 5, -2]), f32([3, 0, 7]), f32([100, 1, 4])])), [3, 1, 4]);
  // Columns: {1, 3, 10, 2} → (2 + 3) / 2 = 2.5, {4, 0, 2, 8} → (2 + 4) / 2 = 3.
  assert.deepEqual(Array.from(coordinateMedian([f32([1, 4]), f32([3, 0]), f32([10, 2]), f32([2, 8])])), [2.5, 3]);
  // One vector is its own median; two give their mean.
  assert.deepEqual(Array.from(coordinateMedian([f32([0.5, -7])])), [0.5, -7]);
  assert.deepEqual(Array.from(coordinateMedian([f32([1, -1]), f32([3, 5])])), [2, 2]);
});

test('coordinateMedian: one outlier among five moves nothing', () => {
  const honest = [f32([1, 2]), f32([1.5, 2.5]), f32([0.5, 1.5]), f32([1, 2])];
  // Columns: {1, 1.5, 0.5, 1, 1e6} → 1; {2, 2.5, 1.5, 2, −1e6} → 2.
  assert.deepEqual(Array.from(coordinateMedian([...honest, f32([1e6, -1e6])])), [1, 2]);
});

test('coordinateMedian: SIMD network and scalar quickselect agree with a sort, for small and large K', () => {
  for (const K of [1, 2, 3, 4, 5, 8, 9, 16, 17, 31, 32, 50]) {
    for (const P of [1, 5, 37]) {
      const vectors = randomVectors(K, P, 1, true);
      const expected = Array.from({ length: P }, (_, i) => {
        const c = sortedColumn(vectors, i);
        return K % 2 === 1 ? c[K >> 1]! : (c[(K >> 1) - 1]! + c[K >> 1]!) / 2;
      });
      assert.deepEqual(Array.from(coordinateMedian(vectors)), expected, `SIMD K=${K} P=${P}`);
      assert.deepEqual(Array.from(medianScalar(vectors, new Float32Array(P))), expected, `scalar K=${K} P=${P}`);
    }
  }
});

test('coordinateMedian: out may be one of the inputs', () => {
  const vectors = randomVectors(7, 5000, 2);
  const expected = coordinateMedian(vectors);
  coordinateMedian(vectors, vectors[3]);
  assert.deepEqual(Array.from(vectors[3]!), Array.from(expected));
});

test('trimCount: ⌊βK⌋, robust to binary fractions; β outside [0, 0.5) is INVALID_ARGUMENT', () => {
  assert.equal(trimCount(10, 0.2), 2);
  assert.equal(trimCount(10, 0.3), 3); // 0.3·10 = 2.9999999999999996 in binary
  assert.equal(trimCount(9, 0.2), 1);
  assert.equal(trimCount(5, 0.49), 2);
  assert.equal(trimCount(4, 0), 0);
  for (const beta of [0.5, -0.1, NaN, Infinity]) assertCode(() => trimCount(10, beta), ErrorCode.INVALID_ARGUMENT, 'beta');
});

test('trimmedMean: drops ⌊βK⌋ at each end, by hand', () => {
  const five = [f32([1, 10]), f32([2, -50]), f32([3, 20]), f32([4, 30]), f32([100, 40])];
  // β = 0.2, t = 1: column 0 keeps {2, 3, 4} → 3; column 1 keeps {10, 20, 30} → 20.
  assert.deepEqual(Array.from(trimmedMean(five, 0.2)), [3, 20]);
  // β = 0.4, t = 2: the median.
  assert.deepEqual(Array.from(trimmedMean(five, 0.4)), [3, 20]);
  // β = 0: the plain mean, (1 + 2 + 3 + 4 + 100) / 5 = 22 and (10 − 50 + 20 + 30 + 40) / 5 = 10.
  assert.deepEqual(Array.from(trimmedMean(five, 0)), [22, 10]);
  // β = 0.1 of 5 trims nothing: the mean again.
  assert.deepEqual(Array.from(trimmedMean(five, 0.1)), [22, 10]);
  // K identical vectors keep their value exactly (sums in float64).
  const v = f32([0.1, -1 / 3, 1e-7]);
  assert.deepEqual(Array.from(trimmedMean([v, v, v], 0)), Array.from(v));
  assert.deepEqual(Array.from(trimmedMean(Array(20).fill(v), 0.25)), Array.from(v));
});

test('trimmedMean: SIMD network and scalar quickselect agree with a sort', () => {
  for (const K of [3, 5, 10, 17, 20, 33]) {
    for (const beta of [0.1, 0.2, 0.3, 0.45]) {
      const t = trimCount(K, beta);
      const vectors = randomVectors(K, 41, 3, true);
      const expected = Array.from({ length: 41 }, (_, i) => {
        const kept = sortedColumn(vectors, i).slice(t, K - t);
        return Math.fround(kept.reduce((s, x) => s + x, 0) / kept.length);
      });
      assert.deepEqual(Array.from(trimmedMean(vectors, beta)), expected, `SIMD K=${K} beta=${beta}`);
      if (t > 0) assert.deepEqual(Array.from(trimmedMeanScalar(vectors, t, new Float32Array(41))), expected, `scalar K=${K} beta=${beta}`);
    }
  }
});

test('selectInPlace: the k-th value lands at k with smaller values before and larger after', () => {
  const random = seededRandom(4);
  for (const n of [1, 2, 15, 16, 17, 40, 101]) {
    for (let trial = 0; trial < 5; trial++) {
      const a = Float64Array.from({ length: n }, () => Math.floor(random() * 10));
      const sorted = Array.from(a).sort((x, y) => x - y);
      const k = Math.floor(random() * n);
      selectInPlace(a, 0, n, k);
      assert.equal(a[k], sorted[k]);
      for (let i = 0; i < k; i++) assert.ok(a[i]! <= a[k]!);
      for (let i = k + 1; i < n; i++) assert.ok(a[i]! >= a[k]!);
    }
  }
});

test('sorting networks: odd-even merge sort sorts every 0/1 input (zero-one principle); pruning keeps the chosen outputs', () => {
  for (let n = 1; n <= 12; n++) {
    const full = oddEvenMergeNetwork(n);
    const median = pruneNetwork(full, [n >> 1]);
    assert.ok(median.length <= full.length);
    for (let bits = 0; bits < 1 << n; bits++) {
      const run = (network: [number, number][]) => {
        const x = Array.from({ length: n }, (_, i) => (bits >> i) & 1);
        for (const [a, b] of network) if (x[a]! > x[b]!) [x[a], x[b]] = [x[b]!, x[a]!];
        return x;
      };
      const sorted = run(full);
      for (let i = 1; i < n; i++) assert.ok(sorted[i - 1]! <= sorted[i]!, `n=${n} input ${bits}`);
      assert.equal(run(median)[n >> 1], sorted[n >> 1], `pruned median n=${n} input ${bits}`);
    }
  }
});

test('pairwiseSquaredDistances: by hand, SIMD and scalar', () => {
  const expected = [
    [0, 1, 1, 5, 200],
    [1, 0, 2, 4, 181],
    [1, 2, 0, 2, 181],
    [5, 4, 2, 0, 145],
    [200, 181, 181, 145, 0],
  ].flat();
  assert.deepEqual(Array.from(pairwiseSquaredDistances(KRUM)), expected);
  assert.deepEqual(Array.from(pairwiseSquaredDistancesScalar(KRUM)), expected);
});

test('pairwiseSquaredDistances: SIMD (float32 squares) within 1e-6 relative of the float64 scalar sum', () => {
  for (const [K, P] of [[2, 1], [3, 17], [7, 1000], [12, 5003]] as const) {
    const vectors = randomVectors(K, P, 5);
    const simd = pairwiseSquaredDistances(vectors);
    const scalar = pairwiseSquaredDistancesScalar(vectors);
    for (let i = 0; i < K * K; i++) assert.ok(Math.abs(simd[i]! - scalar[i]!) <= 1e-6 * scalar[i]!, `K=${K} P=${P} entry ${i}: ${simd[i]} vs ${scalar[i]}`);
  }
});

test('krumScores: sum of the K − f − 2 smallest squared distances, by hand', () => {
  // f = 1: two nearest. v0: {1, 1} → 2; v1: {1, 2} → 3; v2: {1, 2} → 3; v3: {2, 4} → 6; v4: {145, 181} → 326.
  assert.deepEqual(Array.from(krumScores(KRUM, 1)), [2, 3, 3, 6, 326]);
  // f = 0: three nearest. v0: 1 + 1 + 5 = 7; v1: 1 + 2 + 4 = 7; v2: 1 + 2 + 2 = 5; v3: 2 + 4 + 5 = 11; v4: 145 + 181 + 181 = 507.
  assert.deepEqual(Array.from(krumScores(KRUM, 0)), [7, 7, 5, 11, 507]);
  // f = 3 would leave 0 neighbours; clamped to 1: v0: 1; v1: 1; v2: 1; v3: 2; v4: 145.
  assert.deepEqual(Array.from(krumScores(KRUM, 3)), [1, 1, 1, 2, 145]);
  assert.deepEqual(Array.from(krumScores([f32([4, 2])], 0)), [0]);
});

test('krum and multiKrum: the outlier is never chosen; ties go to the lower index', () => {
  assert.equal(krum(KRUM, 1), 0);
  assert.equal(krum(KRUM, 0), 2);
  assert.deepEqual(multiKrum(KRUM, 1, 3), [0, 1, 2]);
  assert.deepEqual(multiKrum(KRUM, 1, 4), [0, 1, 2, 3]);
  assert.deepEqual(multiKrum(KRUM, 0, 5), [2, 0, 1, 3, 4]);
  assert.equal(krum([f32([1]), f32([2])], 0), 0);
});

test('krumNeighbours: K − f − 2 within [1, K − 1]', () => {
  assert.equal(krumNeighbours(10, 3), 5);
  assert.equal(krumNeighbours(5, 3), 1);
  assert.equal(krumNeighbours(2, 0), 1);
  assert.equal(krumNeighbours(1, 0), 0);
});

test('krum arguments: bad f or m is INVALID_ARGUMENT naming it', () => {
  assertCode(() => krumScores(KRUM, -1), ErrorCode.INVALID_ARGUMENT, 'f');
  assertCode(() => krumScores(KRUM, 1.5), ErrorCode.INVALID_ARGUMENT, 'f');
  assertCode(() => multiKrum(KRUM, 1, 0), ErrorCode.INVALID_ARGUMENT, 'm');
  assertCode(() => multiKrum(KRUM, 1, 6), ErrorCode.INVALID_ARGUMENT, 'm');
});

test('bad vectors: empty is INVALID_ARGUMENT, unequal lengths or out are SHAPE_MISMATCH', () => {
  assertCode(() => coordinateMedian([]), ErrorCode.INVALID_ARGUMENT, 'vectors');
  assertCode(() => trimmedMean([f32([1, 2]), f32([1])], 0.1), ErrorCode.SHAPE_MISMATCH, 'vectors[1]');
  assertCode(() => krumScores([f32([1, 2]), f32([1, 2, 3])], 0), ErrorCode.SHAPE_MISMATCH, 'vectors[1]');
  assertCode(() => coordinateMedian([f32([1, 2])], new Float32Array(3)), ErrorCode.SHAPE_MISMATCH, 'out');
  assertCode(() => coordinateMedian([[1, 2] as unknown as Float32Array]), ErrorCode.INVALID_ARGUMENT, 'vectors[0]');
  assertCode(() => distance(f32([1]), f32([1, 2])), ErrorCode.SHAPE_MISMATCH, 'b');
  assertCode(() => distancesTo(f32([1]), [f32([1, 2])]), ErrorCode.SHAPE_MISMATCH, 'reference');
  assertCode(() => distancesTo(f32([1, 2]), [f32([1, 2]), f32([1])]), ErrorCode.SHAPE_MISMATCH, 'vectors[1]');
});

test('norms and clipping: (3, 4) has norm 5', () => {
  assert.equal(l2Norm(f32([3, 4])), 5);
  assert.equal(distance(f32([4, 6]), f32([1, 2])), 5);
  assert.deepEqual(Array.from(distancesTo(f32([1, 2]), [f32([4, 6]), f32([1, 2]), f32([1, -1])])), [5, 0, 3]);
  assert.equal(distancesTo(f32([1, 2]), []).length, 0);
  assert.deepEqual(Array.from(clipToNorm(f32([3, 4]), 1)), [Math.fround(0.6), Math.fround(0.8)]);
  assert.deepEqual(Array.from(clipToNorm(f32([3, 4]), 10)), [3, 4]);
  assert.deepEqual(Array.from(clipToNorm(f32([3, 4]), 0)), [0, 0]);
  assert.deepEqual(Array.from(clipToNorm(f32([0, 0]), 0)), [0, 0]);
  const inPlace = f32([6, 8]);
  assert.equal(clipToNorm(inPlace, 5, inPlace), inPlace);
  assert.deepEqual(Array.from(inPlace), [3, 4]);
  assert.equal(clipFactor(10, 2), 0.2);
  assert.equal(clipFactor(1, 2), 1);
  assertCode(() => clipToNorm(f32([1]), -1), ErrorCode.INVALID_ARGUMENT, 'bound');
  assertCode(() => clipFactor(1, NaN), ErrorCode.INVALID_ARGUMENT, 'bound');
});

test('distancesTo: SIMD blocks agree with one float64 pass', () => {
  const [reference, ...vectors] = randomVectors(6, 9001, 6);
  const norms = distancesTo(reference!, vectors);
  vectors.forEach((v, k) => assert.ok(Math.abs(norms[k]! - distance(v, reference!)) <= 1e-6 * norms[k]!, `vector ${k}`));
});

test('medianOf: middle value, mean of the middle two, NaN for none', () => {
  assert.equal(medianOf([3, 1, 2]), 2);
  assert.equal(medianOf([4, 1, 3, 2]), 2.5);
  assert.equal(medianOf([7]), 7);
  assert.ok(Number.isNaN(medianOf([])));
});
