// Differential privacy for a release: the Gaussian mechanism on the vector of cell totals.
// Each cell is scaled by its per-record bound b_c, so one record changes the scaled vector by
// at most √touches in L2 norm (it adds to at most `touches` cells, each by at most 1).
// Noise N(0, (z·√touches·b_c)²) on cell c is then the Gaussian mechanism with noise
// multiplier z, whose Rényi DP is α/(2z²) (Mironov 2017, Prop. 7) — exactly a ledger charge
// { samplingRate: 1, noiseMultiplier: z, steps: 1 } (privacy/dp/charges.ts), so queries and
// training rounds compose on one per-dataset RDP ledger. z is the smallest multiplier whose
// charge spends the query's ε at its δ (privacy/rdp.ts noiseForEpsilon). Noise is drawn
// from the operating system's CSPRNG (privacy/dp/gaussian.ts); a query of counts only gets
// the discrete Gaussian (privacy/dp/discrete-gaussian.ts), which the same charge covers.

import { discreteGaussian } from '../privacy/dp/discrete-gaussian.js';
import { gaussianNoise } from '../privacy/dp/gaussian.js';
import { noiseForEpsilon } from '../privacy/rdp.js';
import type { Random } from '../core/random.js';
import type { QueryPlan } from './plan.js';

export interface NoisePlan {
  /** Integer-valued cells (counts only) get the discrete Gaussian, so noised counts stay integers. */
  mechanism: 'gaussian' | 'discrete-gaussian';
  epsilon: number;
  delta: number;
  noiseMultiplier: number;
  /** L2 sensitivity of the scaled cell vector. */
  sensitivity: number;
  /** Standard deviation of each cell's noise, in the cell's units. */
  std: Float64Array;
}

export function noisePlan(plan: QueryPlan, privacy: { epsilon: number; delta: number }): NoisePlan {
  const noiseMultiplier = noiseForEpsilon({ samplingRate: 1, steps: 1, epsilon: privacy.epsilon, delta: privacy.delta });
  const sensitivity = Math.sqrt(plan.touches);
  const std = Float64Array.from(plan.cells, (c) => noiseMultiplier * sensitivity * c.bound);
  const counts = plan.cells.every((c) => c.kind === 'count' && c.bound === 1);
  return { mechanism: counts ? 'discrete-gaussian' : 'gaussian', epsilon: privacy.epsilon, delta: privacy.delta, noiseMultiplier, sensitivity, std };
}

/** The noised totals and the noise drawn. */
export function addNoise(totals: Float64Array, noise: NoisePlan, random?: Random): { noisy: Float64Array; drawn: Float64Array } {
  let drawn: Float64Array;
  if (noise.mechanism === 'discrete-gaussian') drawn = Float64Array.from(noise.std, (s) => discreteGaussian(s, ...(random ? [random] : [])));
  else {
    const unit = gaussianNoise(totals.length, 1, ...(random ? [random] : []));
    drawn = Float64Array.from(unit, (u, i) => u * noise.std[i]!);
  }
  return { noisy: Float64Array.from(totals, (t, i) => t + drawn[i]!), drawn };
}

/** The ledger charge of one DP release. */
export function releaseCharge(noise: NoisePlan): { samplingRate: number; noiseMultiplier: number; steps: number } {
  return { samplingRate: 1, noiseMultiplier: noise.noiseMultiplier, steps: 1 };
}
