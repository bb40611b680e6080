// Byzantine-robust aggregation rules on flat float32 vectors: what a round can still trust
// when a few members send arbitrary (buggy or malicious) updates.
//
// - Coordinate-wise median and trimmed mean: Yin, Chen, Ramchandran, Bartlett 2018,
//   "Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates" (ICML,
//   arXiv 1803.01498). The trimmed mean drops ⌊βK⌋ values at each end of every coordinate;
//   it tolerates a fraction α of Byzantine members when β ≥ α.
// - Krum and Multi-Krum: Blanchard, El Mhamdi, Guerraoui, Stainer 2017, "Machine Learning
//   with Adversaries: Byzantine Tolerant Gradient Descent" (NeurIPS). Each vector is scored
//   by the sum of squared distances to its K − f − 2 nearest others; Krum keeps the best,
//   Multi-Krum averages the m best. The guarantee needs K > 2f + 2.
// - Norm clipping of an update: Sun, Kairouz, Suresh, McMahan 2019, "Can You Really Backdoor
//   Federated Learning?" (arXiv 1911.07963).
//
// All of these are translation-equivariant (median, trimmed mean) or translation-invariant
// (distances), so they can be applied to models θ_k or to deltas θ_k − θ alike.
// Speed: the per-coordinate order statistics and the pairwise distances run in the
// WebAssembly SIMD kernels of robust-kernel.ts (branch-free sorting networks over blocks of
// coordinates; about 10× faster than selection). Without SIMD they fall back to the scalar
// code here: quickselect in one reusable scratch array per call (no per-coordinate sort),
// and distances summed in float64 over cache-sized blocks. Inputs are assumed finite
// (strategies check that first); NaN gives unspecified results.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { medianSimd, pairwiseSquaredDistancesSimd, squaredDistancesToSimd, trimmedMeanSimd } from './robust-kernel.js';

/** Below this many values insertion sort beats partitioning. */
const INSERTION_LIMIT = 16;
/** Coordinates per block when scanning all pairs: K blocks stay in L2 for K ≤ ~100. */
const DISTANCE_BLOCK = 2048;

/** Checks K ≥ 1 Float32Arrays of one length; `out` (or a reference vector) must match it. */
function checkVectors(vectors: readonly Float32Array[], out: Float32Array | undefined, field = 'vectors', outField = 'out'): number {
  if (vectors.length === 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} is empty; at least one vector is needed`, {
      details: { field, expected: '>= 1 vector', received: 0 },
    });
  }
  const n = vectors[0]!.length;
  for (let k = 0; k < vectors.length; k++) {
    const v = vectors[k]!;
    if (!(v instanceof Float32Array)) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field}[${k}] must be a Float32Array`, {
        details: { field: `${field}[${k}]`, expected: 'Float32Array', received: typeof v },
      });
    }
    if (v.length !== n) {
      throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `${field}[${k}] holds ${v.length} values, ${field}[0] holds ${n}; all must have the same length`, {
        details: { field: `${field}[${k}]`, expected: n, received: v.length },
      });
    }
  }
  if (out !== undefined && out.length !== n) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `${outField} holds ${out.length} values but the vectors hold ${n}`, {
      details: { field: outField, expected: n, received: out.length },
    });
  }
  return n;
}

function checkInteger(value: number, field: string, min: number, max = Infinity): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Infinity ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} is ${value}; it must be ${range}`, {
      details: { field, expected: range, received: value },
    });
  }
}

// --- selection ---------------------------------------------------------------------------

function insertionSort(a: Float64Array, lo: number, hi: number): void {
  for (let i = lo + 1; i < hi; i++) {
    const x = a[i]!;
    let j = i - 1;
    while (j >= lo && a[j]! > x) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = x;
  }
}

/**
 * Rearranges a[lo, hi) so that a[k] holds the value of rank k − lo, everything in [lo, k) is
 * ≤ a[k] and everything in (k, hi) is ≥ a[k] (Hoare's quickselect, median-of-three pivot).
 */
export function selectInPlace(a: Float64Array, lo: number, hi: number, k: number): void {
  let left = lo;
  let right = hi - 1;
  while (right - left >= INSERTION_LIMIT) {
    // Median of three as pivot, moved to a[left + 1] with sentinels at both ends.
    const mid = (left + right) >>> 1;
    let t = a[mid]!;
    a[mid] = a[left + 1]!;
    a[left + 1] = t;
    if (a[left]! > a[right]!) { t = a[left]!; a[left] = a[right]!; a[right] = t; }
    if (a[left + 1]! > a[right]!) { t = a[left + 1]!; a[left + 1] = a[right]!; a[right] = t; }
    if (a[left]! > a[left + 1]!) { t = a[left]!; a[left] = a[left + 1]!; a[left + 1] = t; }
    const pivot = a[left + 1]!;
    let i = left + 1;
    let j = right;
    for (;;) {
      do i++; while (a[i]! < pivot);
      do j--; while (a[j]! > pivot);
      if (j < i) break;
      t = a[i]!; a[i] = a[j]!; a[j] = t;
    }
    a[left + 1] = a[j]!;
    a[j] = pivot;
    if (j === k) return;
    if (j > k) right = j - 1;
    else left = j + 1;
  }
  insertionSort(a, left, right + 1);
}

// --- coordinate-wise median and trimmed mean ---------------------------------------------

/** Copies coordinate i of every vector into scratch[0, K). */
function gather(vectors: readonly Float32Array[], i: number, scratch: Float64Array): void {
  for (let k = 0; k < vectors.length; k++) scratch[k] = vectors[k]![i]!;
}

/**
 * out[i] = median_k vectors[k][i]; for even K the mean of the two middle values (as numpy's
 * median). Yin et al. 2018. `out` may be one of the inputs.
 */
export function coordinateMedian(vectors: readonly Float32Array[], out?: Float32Array): Float32Array {
  const P = checkVectors(vectors, out);
  const result = out ?? new Float32Array(P);
  return medianSimd(vectors, result) ?? medianScalar(vectors, result);
}

/** coordinateMedian by quickselect in plain JavaScript; unchecked. `result` may be one of the inputs. */
export function medianScalar(vectors: readonly Float32Array[], result: Float32Array): Float32Array {
  const P = result.length;
  const K = vectors.length;
  const scratch = new Float64Array(K);
  const upper = K >> 1;
  const odd = K % 2 === 1;
  for (let i = 0; i < P; i++) {
    gather(vectors, i, scratch);
    if (K <= INSERTION_LIMIT) insertionSort(scratch, 0, K);
    else selectInPlace(scratch, 0, K, upper);
    if (odd || K <= INSERTION_LIMIT) {
      result[i] = odd ? scratch[upper]! : (scratch[upper - 1]! + scratch[upper]!) / 2;
    } else {
      // After selection the lower middle value is the largest of the lower half.
      let lower = scratch[0]!;
      for (let j = 1; j < upper; j++) if (scratch[j]! > lower) lower = scratch[j]!;
      result[i] = (lower + scratch[upper]!) / 2;
    }
  }
  return result;
}

/** ⌊βK⌋, the number of values a trimmed mean drops at each end. β ∈ [0, 0.5). */
export function trimCount(K: number, beta: number): number {
  if (!Number.isFinite(beta) || beta < 0 || beta >= 0.5) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `beta is ${beta}; the trimmed fraction must be in [0, 0.5)`, {
      details: { field: 'beta', expected: '[0, 0.5)', received: beta },
    });
  }
  // The epsilon keeps 0.2 · 10 = 2.0000000000000004 → 2 and 0.3 · 10 = 2.9999999999999996 → 3.
  return Math.floor(beta * K + 1e-9);
}

/**
 * out[i] = mean of vectors[k][i] after dropping the ⌊βK⌋ smallest and ⌊βK⌋ largest values
 * of coordinate i (Yin et al. 2018). β = 0 is the plain mean. Sums run in float64.
 */
export function trimmedMean(vectors: readonly Float32Array[], beta: number, out?: Float32Array): Float32Array {
  const P = checkVectors(vectors, out);
  const K = vectors.length;
  const t = trimCount(K, beta);
  const result = out ?? new Float32Array(P);
  if (t === 0) return coordinateMean(vectors, result);
  return trimmedMeanSimd(vectors, t, result) ?? trimmedMeanScalar(vectors, t, result);
}

/** trimmedMean dropping t values at each end, by quickselect in plain JavaScript; unchecked. */
export function trimmedMeanScalar(vectors: readonly Float32Array[], t: number, result: Float32Array): Float32Array {
  const P = result.length;
  const K = vectors.length;
  const scratch = new Float64Array(K);
  const kept = K - 2 * t;
  for (let i = 0; i < P; i++) {
    gather(vectors, i, scratch);
    if (K <= INSERTION_LIMIT) {
      insertionSort(scratch, 0, K);
    } else {
      selectInPlace(scratch, 0, K, t); // [0, t): the t smallest
      selectInPlace(scratch, t, K, K - t); // [K − t, K): the t largest
    }
    let sum = 0;
    for (let j = t; j < K - t; j++) sum += scratch[j]!;
    result[i] = sum / kept;
  }
  return result;
}

/**
 * out[i] = (1/K) Σ_k vectors[k][i], summed in float64 so that K identical vectors average to
 * themselves exactly (the Multi-Krum average). `out` may be one of the inputs.
 */
export function coordinateMean(vectors: readonly Float32Array[], out?: Float32Array): Float32Array {
  const P = checkVectors(vectors, out);
  out ??= new Float32Array(P);
  const K = vectors.length;
  const acc = new Float64Array(Math.min(P, DISTANCE_BLOCK));
  for (let start = 0; start < P; start += DISTANCE_BLOCK) {
    const n = Math.min(DISTANCE_BLOCK, P - start);
    acc.fill(0, 0, n);
    for (let k = 0; k < K; k++) {
      const v = vectors[k]!;
      for (let j = 0, i = start; j < n; j++, i++) acc[j]! += v[i]!;
    }
    for (let j = 0, i = start; j < n; j++, i++) out[i] = acc[j]! / K;
  }
  return out;
}

// --- Krum and Multi-Krum ------------------------------------------------------------------

/**
 * The K×K matrix (row-major) of squared Euclidean distances ‖v_i − v_j‖², summed in float64.
 * O(K²P) arithmetic; the vectors are read in blocks so that each block is loaded from memory
 * once and reused from cache for all pairs.
 */
export function pairwiseSquaredDistances(vectors: readonly Float32Array[]): Float64Array {
  checkVectors(vectors, undefined);
  return pairwiseSquaredDistancesSimd(vectors) ?? pairwiseSquaredDistancesScalar(vectors);
}

/** pairwiseSquaredDistances in plain JavaScript (float64 throughout); unchecked. */
export function pairwiseSquaredDistancesScalar(vectors: readonly Float32Array[]): Float64Array {
  const P = vectors[0]!.length;
  const K = vectors.length;
  const d = new Float64Array(K * K);
  for (let start = 0; start < P; start += DISTANCE_BLOCK) {
    const end = Math.min(P, start + DISTANCE_BLOCK);
    for (let i = 0; i < K; i++) {
      const a = vectors[i]!;
      for (let j = i + 1; j < K; j++) d[i * K + j]! += blockDistance(a, vectors[j]!, start, end);
    }
  }
  for (let i = 0; i < K; i++) for (let j = i + 1; j < K; j++) d[j * K + i] = d[i * K + j]!;
  return d;
}

function blockDistance(a: Float32Array, b: Float32Array, start: number, end: number): number {
  // Four independent sums let the CPU overlap the additions.
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let p = start;
  for (; p + 4 <= end; p += 4) {
    const d0 = a[p]! - b[p]!;
    const d1 = a[p + 1]! - b[p + 1]!;
    const d2 = a[p + 2]! - b[p + 2]!;
    const d3 = a[p + 3]! - b[p + 3]!;
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; p < end; p++) {
    const d0 = a[p]! - b[p]!;
    s0 += d0 * d0;
  }
  return s0 + s1 + s2 + s3;
}

/** How many nearest neighbours Krum sums: K − f − 2, kept within [1, K − 1] (0 when K = 1). */
export function krumNeighbours(K: number, f: number): number {
  return Math.min(Math.max(1, K - f - 2), K - 1);
}

/**
 * score_i = Σ of the squared distances from v_i to its K − f − 2 nearest other vectors
 * (Blanchard et al. 2017). Lower is more central. When K ≤ 2f + 2 the count is clamped to at
 * least 1 (as Flower does) and the Byzantine guarantee no longer holds.
 */
export function krumScores(vectors: readonly Float32Array[], f: number): Float64Array {
  checkVectors(vectors, undefined);
  checkInteger(f, 'f', 0);
  return scoresFromDistances(pairwiseSquaredDistances(vectors), vectors.length, f);
}

/** Krum scores from a precomputed K×K distance matrix. */
export function scoresFromDistances(distances: Float64Array, K: number, f: number): Float64Array {
  const n = krumNeighbours(K, f);
  const scores = new Float64Array(K);
  const row = new Float64Array(Math.max(K - 1, 1));
  for (let i = 0; i < K; i++) {
    let r = 0;
    for (let j = 0; j < K; j++) if (j !== i) row[r++] = distances[i * K + j]!;
    if (n > 0 && n < r) selectInPlace(row, 0, r, n - 1);
    let sum = 0;
    for (let j = 0; j < n; j++) sum += row[j]!;
    scores[i] = sum;
  }
  return scores;
}

/** Indices ordered by score, ties broken by the lower index so the choice is reproducible. */
function rank(scores: Float64Array): number[] {
  return Array.from(scores, (_, i) => i).sort((a, b) => scores[a]! - scores[b]! || a - b);
}

/** Index of the vector Krum selects: the lowest score, the lowest index among ties. */
export function krum(vectors: readonly Float32Array[], f: number): number {
  return rank(krumScores(vectors, f))[0]!;
}

/**
 * Indices of the m vectors with the lowest Krum scores, best first (Multi-Krum, Blanchard et
 * al. 2017); the aggregate is their average. m = 1 is Krum, m = K with f = 0 the plain mean.
 */
export function multiKrum(vectors: readonly Float32Array[], f: number, m: number): number[] {
  const scores = krumScores(vectors, f);
  checkInteger(m, 'm', 1, vectors.length);
  return rank(scores).slice(0, m);
}

// --- norms and clipping -------------------------------------------------------------------

/** ‖v‖₂ in float64. */
export function l2Norm(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

/** ‖a − b‖₂ in float64 without materialising the difference (an update's delta norm). */
export function distance(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `the vectors hold ${a.length} and ${b.length} values; they must have the same length`, {
      details: { field: 'b', expected: a.length, received: b.length },
    });
  }
  return Math.sqrt(blockDistance(a, b, 0, a.length));
}

/**
 * ‖v_k − reference‖₂ for each k: the norms of K updates' deltas from the global model, in
 * one pass over cache-sized blocks (float32 differences, float64 sums).
 */
export function distancesTo(reference: Float32Array, vectors: readonly Float32Array[]): Float64Array {
  if (vectors.length === 0) return new Float64Array(0);
  checkVectors(vectors, reference, 'vectors', 'reference');
  const squared = squaredDistancesToSimd(reference, vectors) ?? Float64Array.from(vectors, (v) => blockDistance(v, reference, 0, v.length));
  return squared.map(Math.sqrt);
}

/** min(1, bound / norm): the factor that brings a vector of this norm within the bound. */
export function clipFactor(norm: number, bound: number): number {
  if (!(bound >= 0) || !Number.isFinite(bound)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `bound is ${bound}; a norm bound must be a finite number >= 0`, {
      details: { field: 'bound', expected: 'finite number >= 0', received: bound },
    });
  }
  return norm > bound ? bound / norm : 1;
}

/**
 * delta scaled to L2 norm at most `bound` (unchanged when already within it), as in
 * norm-bounded FedAvg (Sun et al. 2019). `out` may be `delta` itself.
 */
export function clipToNorm(delta: Float32Array, bound: number, out?: Float32Array): Float32Array {
  checkVectors([delta], out, 'delta');
  const scale = clipFactor(l2Norm(delta), bound);
  const result = out ?? new Float32Array(delta.length);
  if (scale === 1) {
    if (result !== delta) result.set(delta);
    return result;
  }
  for (let i = 0; i < delta.length; i++) result[i] = delta[i]! * scale;
  return result;
}

/** The median of a few numbers (e.g. the round's update norms); NaN when there are none. */
export function medianOf(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const a = Float64Array.from(values);
  const mid = a.length >> 1;
  selectInPlace(a, 0, a.length, mid);
  if (a.length % 2 === 1) return a[mid]!;
  let lower = a[0]!;
  for (let j = 1; j < mid; j++) if (a[j]! > lower) lower = a[j]!;
  return (lower + a[mid]!) / 2;
}
