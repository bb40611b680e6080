// Adaptive clipping (Andrew, Thakkar, McMahan & Ramaswamy 2021, "Differentially Private
// Learning with Adaptive Clipping", arXiv 1905.03871): instead of guessing the clipping norm
// C, track the γ-quantile of the members' update norms by a private geometric step
//   C ← C · exp(−η_C (b̄ − γ)),
// where b̄ is the noised fraction of updates with ‖Δ‖ ≤ C.
//
// Each member contributes b_k − ½ ∈ {−½, ½} (as TensorFlow Privacy's quantile estimator
// does), so one member moves the count by at most ½ and the count noise σ_b has noise
// multiplier 2σ_b. Releasing the count and the update in the same round is one Gaussian
// mechanism with multiplier z where z⁻² = z_Δ⁻² + (2σ_b)⁻² (the paper's §3.1), so to spend
// exactly the budget of a plain round with multiplier z the update noise uses
//   z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2),
// which needs 2σ_b > z.

import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import type { Random } from '../../core/random.js';
import { secureRandom, standardNormal } from './gaussian.js';

export interface AdaptiveClippingOptions {
  /** γ, the quantile of update norms that C should track. Default 0.5 (the median). */
  targetQuantile?: number;
  /** η_C, the step size of the geometric update. Default 0.2. */
  clipLearningRate?: number;
  /** σ_b, the noise on the count of unclipped updates. Default expected members / 20. */
  clippedCountStddev?: number;
}

export const ADAPTIVE_CLIPPING_DEFAULTS = { targetQuantile: 0.5, clipLearningRate: 0.2 } as const;

/** σ_b by the paper's rule of thumb: expected members / 20. */
export function defaultClippedCountStddev(expectedMembers: number): number {
  return expectedMembers / 20;
}

/**
 * z_Δ, the noise multiplier left for the update once the count has taken its share of the
 * budget z. z = 0 (no privacy) gives 0.
 */
export function updateNoiseMultiplier(noiseMultiplier: number, clippedCountStddev: number): number {
  if (noiseMultiplier === 0) return 0;
  if (!(2 * clippedCountStddev > noiseMultiplier)) {
    throw new ConcordError(
      ErrorCode.INVALID_ARGUMENT,
      `clippedCountStddev is ${clippedCountStddev}; with noise multiplier ${noiseMultiplier} it must exceed ${noiseMultiplier / 2} (2σ_b > z), else the count alone spends the whole budget`,
      { details: { field: 'clippedCountStddev', expected: `> ${noiseMultiplier / 2}`, received: clippedCountStddev } },
    );
  }
  return 1 / Math.sqrt(noiseMultiplier ** -2 - (2 * clippedCountStddev) ** -2);
}

/** A member's centered indicator: +½ when its update was not clipped (‖Δ‖ ≤ C), −½ otherwise. */
export function unclippedIndicator(norm: number, clippingNorm: number): number {
  return norm <= clippingNorm ? 0.5 : -0.5;
}

/**
 * b̄ = (Σ_k (b_k − ½) + N(0, σ_b²)) / m + ½ — the noised fraction of unclipped updates with
 * the fixed denominator m (expected members), as the update average uses.
 */
export function noisedUnclippedFraction(indicatorSum: number, expectedMembers: number, clippedCountStddev: number, random: Random = secureRandom): number {
  const noise = clippedCountStddev > 0 ? clippedCountStddev * standardNormal(random) : 0;
  return (indicatorSum + noise) / expectedMembers + 0.5;
}

/**
 * C · exp(−η_C (b̄ − γ)), rounded to float32 so that the value survives a checkpoint (state
 * travels as float32 tensors) bit for bit.
 */
export function nextClippingNorm(clippingNorm: number, unclippedFraction: number, options: { targetQuantile: number; clipLearningRate: number }): number {
  const next = Math.fround(clippingNorm * Math.exp(-options.clipLearningRate * (unclippedFraction - options.targetQuantile)));
  // Float32 underflow or overflow after a long run of one-sided steps would end adaptation.
  return Math.min(Math.max(next, 1e-30), 1e30);
}
