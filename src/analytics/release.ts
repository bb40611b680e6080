// From the summed cell totals to what is released and stored: exact statistics with every
// cell under the minimum count suppressed (and saying so), or — for a DP query — statistics
// of the noised totals, with the noise's standard deviation per cell and the (ε, δ) spent.
// Cell totals themselves are released only noised; exact totals never leave this function.

import type { Query } from './query.js';
import { type NoisePlan, addNoise } from './dp.js';
import type { Presentation, QueryPlan, ReleasedValue } from './plan.js';
import type { Random } from '../core/random.js';

export interface AnalyticsResult {
  type: Query['type'];
  name?: string;
  /** Members whose contributions are in the sum. */
  contributors: number;
  secureAggregation: boolean;
  /** Exact release (minimum count applied) or DP. */
  exact: boolean;
  minCount: number | null;
  values: ReleasedValue[];
  presentation: Presentation;
  privacy?: {
    mechanism: 'gaussian' | 'discrete-gaussian';
    epsilon: number;
    delta: number;
    noiseMultiplier: number;
    sensitivity: number;
    /** Noised cell totals with their noise's standard deviation. */
    cells: { key: string; value: number; std: number }[];
  };
}

export interface ReleaseOptions {
  plan: QueryPlan;
  totals: Float64Array;
  contributors: number;
  secureAggregation: boolean;
  minCount: number;
  noise: NoisePlan | null;
  random?: Random;
}

export function releaseResult(options: ReleaseOptions): { result: AnalyticsResult; drawn: Float64Array | null } {
  const { plan, noise } = options;
  const base = { type: plan.query.type, ...(plan.query.name ? { name: plan.query.name } : {}), contributors: options.contributors, secureAggregation: options.secureAggregation };
  if (!noise) {
    const r = plan.release(options.totals, { minCount: options.minCount, noiseStd: null });
    return { result: { ...base, exact: true, minCount: options.minCount, values: r.values, presentation: r.presentation }, drawn: null };
  }
  const { noisy, drawn } = addNoise(options.totals, noise, options.random);
  const r = plan.release(noisy, { minCount: null, noiseStd: noise.std });
  return {
    result: {
      ...base,
      exact: false,
      minCount: null,
      values: r.values,
      presentation: r.presentation,
      privacy: {
        mechanism: noise.mechanism,
        epsilon: noise.epsilon,
        delta: noise.delta,
        noiseMultiplier: noise.noiseMultiplier,
        sensitivity: noise.sensitivity,
        cells: plan.cells.map((c, i) => ({ key: c.key, value: noisy[i]!, std: noise.std[i]! })),
      },
    },
    drawn,
  };
}
