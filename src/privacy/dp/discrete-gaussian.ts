// The discrete Gaussian N_Z(0, σ²) on the integers, P[x] ∝ exp(−x²/(2σ²)), sampled by
// rejection from a discrete Laplace (Canonne, Kamath, Steinke 2020, "The Discrete Gaussian
// for Differential Privacy", NeurIPS, Algorithms 1–3). Added to integer-valued statistics
// (counts) it keeps them integers, and with L2 sensitivity Δ it satisfies the same
// ½(Δ/σ)²-concentrated DP as the continuous Gaussian (their Theorem 4), so the RDP ledger
// charges it as the Gaussian mechanism with multiplier σ/Δ. The Bernoulli trials use a
// uniform double from the CSPRNG (privacy/dp/gaussian.ts) rather than exact rational
// arithmetic: the deviation from the exact distribution is of the order of 2^−53 per trial.

import type { Random } from '../../core/random.js';
import { secureRandom } from './gaussian.js';

const bernoulli = (p: number, random: Random): boolean => random() < p;

/** Bernoulli(exp(−γ)) for γ ≥ 0 without computing exp of large γ (Algorithm 1). */
function bernoulliExp(gamma: number, random: Random): boolean {
  while (gamma > 1) {
    if (!bernoulliExpUnit(1, random)) return false;
    gamma -= 1;
  }
  return bernoulliExpUnit(gamma, random);
}

function bernoulliExpUnit(gamma: number, random: Random): boolean {
  let k = 1;
  while (bernoulli(gamma / k, random)) k++;
  return k % 2 === 1;
}

/** Discrete Laplace with scale t (an integer ≥ 1): P[x] ∝ exp(−|x|/t) (Algorithm 2). */
function discreteLaplace(t: number, random: Random): number {
  for (;;) {
    const u = Math.floor(random() * t);
    if (!bernoulliExp(u / t, random)) continue;
    let v = 0;
    while (bernoulliExp(1, random)) v++;
    const x = u + t * v;
    const negative = bernoulli(0.5, random);
    if (negative && x === 0) continue;
    return negative ? -x : x;
  }
}

/** One draw of N_Z(0, σ²) (Algorithm 3); σ > 0. */
export function discreteGaussian(sigma: number, random: Random = secureRandom): number {
  if (!(Number.isFinite(sigma) && sigma > 0)) throw new RangeError(`sigma must be a positive finite number, received ${sigma}`);
  const t = Math.floor(sigma) + 1;
  const s2 = sigma * sigma;
  for (;;) {
    const y = discreteLaplace(t, random);
    const d = Math.abs(y) - s2 / t;
    if (bernoulliExp((d * d) / (2 * s2), random)) return y;
  }
}
