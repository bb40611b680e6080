// Benefit sharing: a reward pool divided in proportion to contribution,
// share_i = pool · max(φ_i, 0) / Σ_j max(φ_j, 0).
// A negative value means the member's updates made the model worse on the validation
// set; it earns nothing, and nobody is charged. If no member has a positive value the pool
// is not distributed at all (there is nothing to be proportional to), and the result says so.
//
// The agreement may set a floor: a fraction f of the pool is divided in proportion to each
// member's data volume (examples contributed) or participation (rounds aggregated in), and
// the rest, (1 − f) · pool, by contribution as above. Valuations are noisy (a member's
// interval often spans 0), so without a floor a genuine member can be paid nothing by an
// artefact of the method or the validation sample. Members whose value is significantly
// negative (the whole 95 % interval below 0) get no floor: their updates demonstrably hurt.

import { ConcordError, ErrorCode } from '../protocol/errors.js';

export interface BenefitShares {
  pool: number;
  /** Reward per member, same keys as the values given. */
  shares: Record<string, number>;
  /** Fraction of the pool per member. */
  fractions: Record<string, number>;
  /** The part of the pool not handed out: all of it when no value is positive and there is no floor, else 0. */
  undistributed: number;
  rule: string;
  /** With a floor: the part of each share that is the floor. */
  floorShares?: Record<string, number>;
}

export const SHARING_BASES = ['examples', 'rounds'] as const;
export type SharingBasis = (typeof SHARING_BASES)[number];

export interface SharingRule {
  /** A fraction of the pool divided by data volume or participation, to members not shown to be harmful. */
  floor?: { fraction: number; basis: SharingBasis };
}

export interface ShareOptions {
  rule?: SharingRule;
  /** Per member: examples or rounds, whichever the floor's basis names. Needed with a floor. */
  basis?: Record<string, number>;
  /** 95 % intervals of the values; a member whose `high` is below 0 gets no floor. */
  uncertainty?: Record<string, { high: number }>;
}

export const SHARING_RULE = 'share_i = pool · max(φ_i, 0) / Σ_j max(φ_j, 0); negative contributions earn nothing and pay nothing';

function floorRule(fraction: number, basis: SharingBasis): string {
  return `share_i = ${fraction} · pool · ${basis}_i / Σ_j ${basis}_j (members not shown to be harmful) + ${1 - fraction} · pool · max(φ_i, 0) / Σ_j max(φ_j, 0)`;
}

export function shareRewards(values: Record<string, number>, pool: number, options: ShareOptions = {}): BenefitShares {
  if (!Number.isFinite(pool) || pool < 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `the reward pool must be a finite number >= 0, got ${pool}`, { details: { field: 'rewardPool', expected: '>= 0', received: pool } });
  }
  for (const [member, value] of Object.entries(values)) {
    if (!Number.isFinite(value)) {
      throw new ConcordError(ErrorCode.NON_FINITE, `the contribution of ${member} is ${value}`, { details: { field: `values.${member}`, expected: 'a finite number', received: String(value) } });
    }
  }
  const floor = options.rule?.floor;
  if (floor && !(Number.isFinite(floor.fraction) && floor.fraction >= 0 && floor.fraction <= 1)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `the sharing floor must be a fraction in [0, 1], got ${floor.fraction}`, { details: { field: 'benefitSharing.floor.fraction', expected: 'a number in [0, 1]', received: floor.fraction } });
  }
  const f = floor?.fraction ?? 0;
  const positive = Object.values(values).reduce((s, v) => s + Math.max(v, 0), 0);
  const members = Object.keys(values);
  const byValue = Object.fromEntries(members.map((m) => [m, positive > 0 ? ((1 - f) * Math.max(values[m]!, 0)) / positive : 0]));
  let undistributed = positive > 0 ? 0 : 1 - f;

  let byBasis: Record<string, number> | undefined;
  if (floor) {
    const eligible = members.filter((m) => (options.uncertainty?.[m]?.high ?? 0) >= 0 && (options.basis?.[m] ?? 0) > 0);
    const total = eligible.reduce((s, m) => s + options.basis![m]!, 0);
    byBasis = Object.fromEntries(members.map((m) => [m, total > 0 && eligible.includes(m) ? (f * options.basis![m]!) / total : 0]));
    if (total === 0) undistributed += f;
  }
  const fractions = Object.fromEntries(members.map((m) => [m, byValue[m]! + (byBasis?.[m] ?? 0)]));
  return {
    pool,
    shares: Object.fromEntries(members.map((m) => [m, pool * fractions[m]!])),
    fractions,
    undistributed: pool * undistributed,
    rule: floor ? floorRule(f, floor.basis) : SHARING_RULE,
    ...(byBasis ? { floorShares: Object.fromEntries(members.map((m) => [m, pool * byBasis![m]!])) } : {}),
  };
}
