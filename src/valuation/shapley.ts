// Shapley values (Shapley 1953): φ_i = Σ_{S ⊆ N\{i}} |S|!(n−|S|−1)!/n! · (v(S∪{i}) − v(S)),
// the only division of v(N) − v(∅) that is efficient, symmetric, additive and gives null
// players nothing. Exact for up to 16 players (2^n evaluations of v); beyond that, or when
// v is costly, permutation sampling with truncation in the manner of TMC-Shapley (Ghorbani
// & Zou 2019, "Data Shapley", arXiv 1904.02868) and GTG-Shapley (Liu et al. 2022, "GTG-
// Shapley: Efficient and Accurate Participant Contribution Evaluation in Federated
// Learning", ACM TIST): once a prefix of a permutation is worth nearly v(N), the remaining
// players' marginal contributions are taken to be zero.

import { asReplicateValue, byPlayer, type CoalitionValue } from './game.js';
import { exactReplicates, MAX_EXACT_PLAYERS, permutationReplicates, pointValues } from './estimators.js';

export { MAX_EXACT_PLAYERS };

export interface ShapleyValues {
  /** φ_i by player name. */
  values: Record<string, number>;
  /** v(N) and v(∅); Σ φ_i = v(N) − v(∅) for exact values. */
  grandValue: number;
  emptyValue: number;
  /** Calls made to v. */
  evaluations: number;
}

/** Exact Shapley values from all 2^n coalitions, each evaluated once, in order of coalition bitmask. */
export async function exactShapley(players: readonly string[], v: CoalitionValue): Promise<ShapleyValues> {
  const estimate = await exactReplicates(players, asReplicateValue(v));
  return { values: pointValues(estimate), grandValue: estimate.grand[0]!, emptyValue: estimate.empty[0]!, evaluations: estimate.evaluations };
}

export interface MonteCarloShapleyOptions {
  /** Seeds the permutation sampler: the same seed gives the same estimates. */
  seed: number;
  /** Permutations to sample; default 100. */
  permutations?: number;
  /**
   * Stop a permutation once |v(N) − v(S)| < truncationTolerance · |v(N)|; later players'
   * marginals count as 0. Default 0: no truncation, an unbiased estimate. TMC-Shapley
   * uses values around 0.01–0.05; larger values save evaluations and add bias.
   */
  truncationTolerance?: number;
  /** Start no new permutation after this many seconds; default no limit. One always completes. */
  maxSeconds?: number;
  /** Coalition values kept for reuse across permutations; default 100,000. */
  maxCachedCoalitions?: number;
}

export interface MonteCarloShapleyValues extends ShapleyValues {
  /** Sample standard deviation of each player's marginals / √permutations; NaN with one permutation. */
  standardErrors: Record<string, number>;
  /** Permutations actually sampled (fewer than asked when maxSeconds ran out). */
  permutations: number;
  /** Marginal contributions set to 0 by truncation instead of evaluated. */
  truncatedMarginals: number;
}

/** Shapley values estimated from random permutations, with a standard error per player. */
export async function monteCarloShapley(players: readonly string[], v: CoalitionValue, options: MonteCarloShapleyOptions): Promise<MonteCarloShapleyValues> {
  const estimate = await permutationReplicates(players, asReplicateValue(v), options);
  const n = players.length;
  const covariance = estimate.samplingCovariance!;
  return {
    values: pointValues(estimate),
    standardErrors: byPlayer(players, players.map((_, i) => Math.sqrt(covariance[i * n + i]!))),
    grandValue: estimate.grand[0]!,
    emptyValue: estimate.empty[0]!,
    evaluations: estimate.evaluations,
    permutations: estimate.permutations!,
    truncatedMarginals: estimate.truncatedMarginals!,
  };
}
