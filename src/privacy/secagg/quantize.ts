// Fixed-point quantization of weighted float32 updates into the ring Z_{2^32}, where
// secure-aggregation masks live (Bonawitz et al. 2017, §3: inputs are vectors over Z_R).
// Masks are uniform in the ring, so the server only ever sees sums modulo 2^32; the
// quantization below guarantees the true integer sum never wraps, so it can be read back.
//
// Encoding for one member with update θ (P values) and weight w ∈ [0, maxWeight]:
//   Q   = 2^(bits−1) − 1                      the largest per-member magnitude
//   q_w = round(Q · w / maxWeight)            ∈ [0, Q]        (the weight, element P)
//   q_i = round(q_w · clip(θ_i, ±c) / c)      ∈ [−q_w, q_w]   (the weighted value, element i)
// so element i encodes ŵ·θ_i with ŵ = q_w / Q, the weight actually used. Negative values
// are stored in two's complement (mod 2^32). The server decodes the summed ring vector as
// signed 32-bit integers: weightedSum_i = Σq_i · c · maxWeight / Q (≈ Σ wθ_i) and
// totalWeight = Σq_w · maxWeight / Q (≈ Σ w); their ratio is the weighted average.
//
// Overflow: each |q| ≤ Q, so the sum of N members stays in [−N·Q, N·Q]; N·Q ≤ 2^31 − 1 keeps
// it inside the signed range and the decoding exact. assertNoOverflow refuses any
// configuration that could break this; the default bits = 32 − ⌈log2 N⌉ is the largest
// that is safe for N members (N = 10 → 28 bits, 50 → 26, 200 → 24).
//
// Error (round-to-nearest, inputs inside ±c), per coordinate of the average, with
// A = Σ q_w = Q·Σŵ:
//   |Σq_i · c/A − Σŵθ_i/Σŵ| ≤ N·c/(2A)   (each q_i is off by ≤ ½)
//   |Σŵθ_i/Σŵ − Σwθ_i/Σw|   ≤ N·c/A      (each weight moves by ≤ ½/Q; each θ is within 2c of the mean)
// so |average − true weighted average| ≤ 1.5·N·c/A ≈ 1.5·N·c·maxWeight/(Q·Σw), plus float32
// rounding of the result. quantizationErrorBound computes it. Values outside ±c are clipped;
// that is a change of the input, not a quantization error, so choose c above the largest
// magnitude an update can have. Rounding is deterministic (nearest), not stochastic: with
// ≥ 20 bits per member its bias is far below float32 training noise, and it needs no randomness.

import { quantizeToRingSimd } from '../../core/ring-kernel.js';
import { ConcordError, ErrorCode } from '../../protocol/errors.js';

export const RING_BITS = 32;
const HALF_RING = 2 ** 31;

export interface QuantizationOptions {
  /** Values are clipped to [−clippingRange, +clippingRange] before quantization. */
  clippingRange: number;
  /** Bits of one member's signed fixed-point values; Q = 2^(bits−1) − 1. */
  bits: number;
  /** The largest weight a member may send; weights are encoded as fractions of it. */
  maxWeight: number;
}

export interface DequantizedSum {
  /** Σ w·θ over the members in the sum, in the members' units. */
  weightedSum: Float32Array;
  /** Σ w over the same members (as quantized). */
  totalWeight: number;
}

/** Q = 2^(bits−1) − 1. */
export function quantizationLevels(bits: number): number {
  return 2 ** (bits - 1) - 1;
}

/** The largest bits for which the sum of `members` vectors cannot wrap: 32 − ⌈log2 N⌉. */
export function defaultQuantizationBits(members: number): number {
  return RING_BITS - Math.ceil(Math.log2(Math.max(1, members)));
}

function invalid(field: string, message: string, expected: unknown, received: unknown): ConcordError {
  return new ConcordError(ErrorCode.INVALID_ARGUMENT, message, { details: { field, expected, received } });
}

/** Refuses options that are malformed or whose sum over `members` vectors could wrap. */
export function assertNoOverflow(options: QuantizationOptions, members: number, field = 'quantization'): void {
  const { clippingRange, bits, maxWeight } = options;
  if (!(Number.isFinite(clippingRange) && clippingRange > 0)) {
    throw invalid(`${field}.clippingRange`, `${field}.clippingRange is ${clippingRange}; it must be a positive finite number`, '> 0', clippingRange);
  }
  if (!(Number.isFinite(maxWeight) && maxWeight > 0)) {
    throw invalid(`${field}.maxWeight`, `${field}.maxWeight is ${maxWeight}; it must be a positive finite number`, '> 0', maxWeight);
  }
  if (!Number.isInteger(bits) || bits < 2 || bits > RING_BITS) {
    throw invalid(`${field}.bits`, `${field}.bits is ${bits}; it must be an integer in [2, ${RING_BITS}]`, `[2, ${RING_BITS}]`, bits);
  }
  if (!Number.isInteger(members) || members < 1) {
    throw invalid('members', `members is ${members}; it must be a positive integer`, '>= 1', members);
  }
  const worst = members * quantizationLevels(bits);
  if (worst > HALF_RING - 1) {
    throw invalid(
      `${field}.bits`,
      `${field}.bits = ${bits} lets the sum of ${members} members reach ${worst}, beyond 2^31 − 1, so it would wrap modulo 2^32; use at most ${defaultQuantizationBits(members)} bits for ${members} members`,
      `<= ${defaultQuantizationBits(members)}`,
      bits,
    );
  }
}

/**
 * The ring vector of one member: P elements of weighted values and the weight last
 * (length P + 1). `out` may be given to avoid an allocation.
 */
export function quantizeUpdate(data: Float32Array, weight: number, options: QuantizationOptions, out?: Uint32Array): Uint32Array {
  const { clippingRange: c, bits, maxWeight } = options;
  if (!(Number.isFinite(weight) && weight >= 0 && weight <= maxWeight)) {
    throw invalid('weight', `weight is ${weight}; it must be a finite number in [0, maxWeight = ${maxWeight}]`, `[0, ${maxWeight}]`, weight);
  }
  const n = data.length;
  const target = out ?? new Uint32Array(n + 1);
  if (target.length !== n + 1) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `out holds ${target.length} elements; ${n} values and the weight need ${n + 1}`, {
      details: { field: 'out', expected: n + 1, received: target.length },
    });
  }
  const qw = Math.round((quantizationLevels(bits) * weight) / maxWeight);
  const scale = qw / c;
  target[n] = qw;
  // The SIMD kernel computes exactly the loop below (core/ring-kernel.ts); a non-finite value
  // sends it to the loop, which names the first one.
  if (quantizeToRingSimd(data, c, scale, target) === 'done') return target;
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) {
      throw new ConcordError(ErrorCode.NON_FINITE, `data[${i}] is ${v}; updates must be finite`, { details: { field: `data[${i}]`, expected: 'finite', received: String(v) } });
    }
    // Storing into a Uint32Array reduces mod 2^32, which is the two's complement of negatives.
    target[i] = Math.round((v > c ? c : v < -c ? -c : v) * scale);
  }
  return target;
}

/** Reads a summed ring vector (length P + 1) back as Σ wθ and Σ w. */
export function dequantizeSum(sum: Uint32Array, options: QuantizationOptions): DequantizedSum {
  const { clippingRange: c, bits, maxWeight } = options;
  const n = sum.length - 1;
  if (n < 0) throw invalid('sum', 'the summed vector is empty; it must hold at least the weight', '>= 1 element', 0);
  const q = quantizationLevels(bits);
  const valueScale = (c * maxWeight) / q;
  const weightedSum = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = sum[i]!;
    weightedSum[i] = (x >= HALF_RING ? x - 2 * HALF_RING : x) * valueScale;
  }
  const qw = sum[n]!;
  return { weightedSum, totalWeight: ((qw >= HALF_RING ? qw - 2 * HALF_RING : qw) * maxWeight) / q };
}

export interface ErrorBoundOptions extends QuantizationOptions {
  /** Members in the sum. */
  members: number;
  /** Σ w of those members. */
  totalWeight: number;
}

/**
 * Largest difference, per coordinate, between the dequantized weighted average and the
 * exact one (inputs inside ±clippingRange, before float32 rounding of the result):
 * 1.5·N·c·maxWeight / (Q·Σw). See the module header for the derivation.
 */
export function quantizationErrorBound(options: ErrorBoundOptions): number {
  const { members, clippingRange: c, bits, maxWeight, totalWeight } = options;
  const levels = quantizationLevels(bits);
  // A = Σ q_w ≥ Q·Σw/maxWeight − N/2: the smallest total the rounded weights can have.
  const a = (levels * totalWeight) / maxWeight - members / 2;
  return a > 0 ? (1.5 * members * c) / a : Infinity;
}
