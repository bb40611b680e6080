// The member's half of distributed DP-FedAvg: clip the local update and add this member's
// share of the Gaussian noise before it leaves the member, so that the coordinator — which
// under secure aggregation sees only the sum — never needs to be trusted with noising.
// Like Flower's LocalDpMod / the DP mode of SecAgg+: each of m expected members adds
// N(0, (zC)²/m) per coordinate, so the sum of m members' noise has standard deviation zC,
// the noise central DP-FedAvg adds (McMahan et al. 2018, arXiv 1710.06963).
//
// Dropouts: if only r < m members' updates reach the sum, its noise has std zC·√(r/m), i.e.
// the round ran with the effective noise multiplier z·√(r/m), and the privacy loss is that
// of the smaller multiplier. The coordinator's wrapper (dp-fedavg.ts) books exactly that.

import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import type { Random } from '../../core/random.js';
import { type ClipInfo, checkClippingNorm, clipUpdate } from './clip.js';
import { addGaussianNoise, secureRandom, standardNormal } from './gaussian.js';
import { unclippedIndicator } from './adaptive-clipping.js';

export interface PrivatizeUpdateOptions {
  /** C: the update Δ = local − global is scaled to L2 norm ≤ C. */
  clippingNorm: number;
  /** Per-coordinate std of this member's noise, zC/√m (see distributedNoiseStddev). 0 = clip only. */
  noiseStddev: number;
  /**
   * Std of the noise on this member's unclipped indicator (adaptive clipping), σ_b/√m.
   * Default 0: the indicator is still reported, un-noised; set it whenever the indicator
   * leaves the member.
   */
  indicatorNoiseStddev?: number;
  /** Uniform source. Default: the OS CSPRNG. Inject a seeded source in tests only. */
  random?: Random;
}

export interface PrivatizedUpdate extends ClipInfo {
  /** Clipped and noised Δ, float32 as it travels (e.g. into secure aggregation). */
  delta: Float32Array;
  /** global + delta: the model the member reports as its result. */
  parameters: Float32Array;
  /** (b − ½) + N(0, indicatorNoiseStddev²), b = 1 when ‖Δ‖ ≤ C. Report it as the `dpUnclipped` metric. */
  unclipped: number;
}

/** The metric key under which a member reports `PrivatizedUpdate.unclipped`. */
export const UNCLIPPED_METRIC = 'dpUnclipped';

export interface DistributedNoiseOptions {
  noiseMultiplier: number;
  clippingNorm: number;
  /** m, the members whose noise shares should add up to zC. */
  expectedMembers: number;
}

/** zC/√m: each member's share of the noise so that m shares sum to std zC. */
export function distributedNoiseStddev(options: DistributedNoiseOptions): number {
  const { noiseMultiplier: z, clippingNorm: c, expectedMembers: m } = options;
  if (typeof z !== 'number' || !Number.isFinite(z) || z < 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `noiseMultiplier is ${String(z)}; expected a finite number >= 0`, {
      details: { field: 'noiseMultiplier', expected: 'finite number >= 0', received: z },
    });
  }
  checkClippingNorm(c);
  if (!Number.isInteger(m) || m < 1) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `expectedMembers is ${m}; expected a positive integer`, {
      details: { field: 'expectedMembers', expected: 'integer >= 1', received: m },
    });
  }
  return (z * c) / Math.sqrt(m);
}

/** Clips local − global to C, adds N(0, noiseStddev²) per coordinate, and reports the noised indicator. */
export function privatizeUpdate(global: Float32Array, local: Float32Array, options: PrivatizeUpdateOptions): PrivatizedUpdate {
  const random = options.random ?? secureRandom;
  const indicatorStddev = options.indicatorNoiseStddev ?? 0;
  for (const [field, value] of [
    ['noiseStddev', options.noiseStddev],
    ['indicatorNoiseStddev', indicatorStddev],
  ] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} is ${String(value)}; expected a finite number >= 0`, {
        details: { field, expected: 'finite number >= 0', received: value },
      });
    }
  }
  const { norm, factor, delta: clipped } = clipUpdate(global, local, options.clippingNorm);
  addGaussianNoise(clipped, options.noiseStddev, random);
  const delta = new Float32Array(clipped);
  const parameters = new Float32Array(global.length);
  for (let i = 0; i < global.length; i++) parameters[i] = global[i]! + clipped[i]!;
  const noise = indicatorStddev > 0 ? indicatorStddev * standardNormal(random) : 0;
  return { norm, factor, delta, parameters, unclipped: unclippedIndicator(norm, options.clippingNorm) + noise };
}
