// Benefit sharing: a reward pool divided in proportion to contribution,
// share_i = pool · max(φ_i, 0) / Σ_j max(φ_j, 0).
// A negative value means the member's updates made the model worse on the validation
// set; it earns nothing, and nobody is charged. If no member has a positive value the pool
// is not distributed at all (there is nothing to be proportional to), and the result says so.

import { ConcordError, ErrorCode } from '../protocol/errors.js';

export interface BenefitShares {
  pool: number;
  /** Reward per member, same keys as the values given. */
  shares: Record<string, number>;
  /** Fraction of the pool per member. */
  fractions: Record<string, number>;
  /** The part of the pool not handed out: all of it when no value is positive, else 0. */
  undistributed: number;
  rule: string;
}

export const SHARING_RULE = 'share_i = pool · max(φ_i, 0) / Σ_j max(φ_j, 0); negative contributions earn nothing and pay nothing';

export function shareRewards(values: Record<string, number>, pool: number): BenefitShares {
  if (!Number.isFinite(pool) || pool < 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `the reward pool must be a finite number >= 0, got ${pool}`, { details: { field: 'rewardPool', expected: '>= 0', received: pool } });
  }
  for (const [member, value] of Object.entries(values)) {
    if (!Number.isFinite(value)) {
      throw new ConcordError(ErrorCode.NON_FINITE, `the contribution of ${member} is ${value}`, { details: { field: `values.${member}`, expected: 'a finite number', received: String(value) } });
    }
  }
  const positive = Object.values(values).reduce((s, v) => s + Math.max(v, 0), 0);
  const fractions = Object.fromEntries(Object.entries(values).map(([m, v]) => [m, positive > 0 ? Math.max(v, 0) / positive : 0]));
  return {
    pool,
    shares: Object.fromEntries(Object.entries(fractions).map(([m, f]) => [m, pool * f])),
    fractions,
    undistributed: positive > 0 ? 0 : pool,
    rule: SHARING_RULE,
  };
}
