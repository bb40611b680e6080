// Shapley values (Shapley 1953): φ_i = Σ_{S ⊆ N\{i}} |S|!(n−|S|−1)!/n! · (v(S∪{i}) − v(S)),
// the only division of v(N) − v(∅) that is efficient, symmetric, additive and gives null
// players nothing. Exact for up to 16 players (2^n evaluations of v); beyond that, or when
// v is costly, permutation sampling with truncation in the manner of TMC-Shapley (Ghorbani
// & Zou 2019, "Data Shapley", arXiv 1904.02868) and GTG-Shapley (Liu et al. 2022, "GTG-
// Shapley: Efficient and Accurate Participant Contribution Evaluation in Federated
// Learning", ACM TIST): once a prefix of a permutation is worth nearly v(N), the remaining
// players' marginal contributions are taken to be zero.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { seededRandom, shuffle } from '../core/random.js';
import { byPlayer, checkPlayers, CoalitionEvaluator, type CoalitionValue } from './game.js';

/** 2^16 = 65,536 evaluations of v is the most an exact computation may ask for. */
export const MAX_EXACT_PLAYERS = 16;

export interface ShapleyValues {
  /** φ_i by player name. */
  values: Record<string, number>;
  /** v(N) and v(∅); Σ φ_i = v(N) − v(∅) for exact values. */
  grandValue: number;
  emptyValue: number;
  /** Calls made to v. */
  evaluations: number;
}

function ascending(mask: number, n: number): number[] {
  const members: number[] = [];
  for (let i = 0; i < n; i++) if (mask & (1 << i)) members.push(i);
  return members;
}

function popcount(x: number): number {
  let count = 0;
  for (; x !== 0; x &= x - 1) count++;
  return count;
}

/** Exact Shapley values from all 2^n coalitions, each evaluated once, in order of coalition bitmask. */
export async function exactShapley(players: readonly string[], v: CoalitionValue): Promise<ShapleyValues> {
  checkPlayers(players);
  const n = players.length;
  if (n > MAX_EXACT_PLAYERS) {
    throw new ConcordError(
      ErrorCode.INVALID_ARGUMENT,
      `exact Shapley values need all 2^n coalitions: ${n} players would take ${2 ** n} evaluations of v, more than the ${2 ** MAX_EXACT_PLAYERS} allowed (${MAX_EXACT_PLAYERS} players); use monteCarloShapley`,
      { details: { field: 'players', expected: `at most ${MAX_EXACT_PLAYERS} players`, received: n } },
    );
  }
  const evaluator = new CoalitionEvaluator(players, v, 0);
  const size = 1 << n;
  const value = new Float64Array(size);
  for (let mask = 0; mask < size; mask++) value[mask] = await evaluator.value(ascending(mask, n));

  // |S|!(n−|S|−1)!/n! = 1 / (n · C(n−1, |S|)).
  const weight = new Float64Array(n);
  let binomial = 1;
  for (let s = 0; s < n; s++) {
    weight[s] = 1 / (n * binomial);
    binomial = (binomial * (n - 1 - s)) / (s + 1);
  }
  const phi = new Float64Array(n);
  for (let mask = 0; mask < size; mask++) {
    const w = weight[popcount(mask)]!;
    for (let i = 0; i < n; i++) {
      const bit = 1 << i;
      if (mask & bit) continue;
      phi[i]! += w * (value[mask | bit]! - value[mask]!);
    }
  }
  return { values: byPlayer(players, phi), grandValue: value[size - 1]!, emptyValue: value[0]!, evaluations: evaluator.evaluations };
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

function checkOption(field: string, value: number, ok: boolean, expected: string): void {
  if (!ok) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} is ${value}; expected ${expected}`, { details: { field, expected, received: value } });
  }
}

/** Shapley values estimated from random permutations, with a standard error per player. */
export async function monteCarloShapley(players: readonly string[], v: CoalitionValue, options: MonteCarloShapleyOptions): Promise<MonteCarloShapleyValues> {
  checkPlayers(players);
  const { seed, permutations = 100, truncationTolerance = 0, maxSeconds = Number.POSITIVE_INFINITY, maxCachedCoalitions = 100_000 } = options;
  checkOption('seed', seed, Number.isInteger(seed), 'an integer');
  checkOption('permutations', permutations, Number.isInteger(permutations) && permutations >= 1, 'an integer >= 1');
  checkOption('truncationTolerance', truncationTolerance, Number.isFinite(truncationTolerance) && truncationTolerance >= 0, 'a number >= 0');
  checkOption('maxSeconds', maxSeconds, maxSeconds >= 0, 'a number >= 0');
  checkOption('maxCachedCoalitions', maxCachedCoalitions, maxCachedCoalitions >= 0, 'a number >= 0');

  const n = players.length;
  const evaluator = new CoalitionEvaluator(players, v, maxCachedCoalitions);
  const all = players.map((_, i) => i);
  const grandValue = await evaluator.value(all);
  const emptyValue = await evaluator.value([]);
  const close = truncationTolerance * Math.abs(grandValue);
  const random = seededRandom(seed);
  const deadline = performance.now() + maxSeconds * 1000;

  // Welford's running mean and sum of squared deviations of each player's marginals.
  const mean = new Float64Array(n);
  const squares = new Float64Array(n);
  let sampled = 0;
  let truncatedMarginals = 0;
  const inCoalition = new Uint8Array(n);
  while (sampled < permutations && (sampled === 0 || performance.now() < deadline)) {
    const order = shuffle(all.slice(), random);
    inCoalition.fill(0);
    let previous = emptyValue;
    sampled++;
    for (let k = 0; k < n; k++) {
      const player = order[k]!;
      let marginal = 0;
      if (Math.abs(grandValue - previous) < close) {
        truncatedMarginals++;
      } else {
        inCoalition[player] = 1;
        // The last player completes the grand coalition, whose value is known.
        const current = k === n - 1 ? grandValue : await evaluator.value(all.filter((i) => inCoalition[i] === 1));
        marginal = current - previous;
        previous = current;
      }
      const delta = marginal - mean[player]!;
      mean[player]! += delta / sampled;
      squares[player]! += delta * (marginal - mean[player]!);
    }
  }
  const standardErrors = Array.from(squares, (q) => (sampled > 1 ? Math.sqrt(q / (sampled - 1) / sampled) : Number.NaN));
  return {
    values: byPlayer(players, mean),
    standardErrors: byPlayer(players, standardErrors),
    grandValue,
    emptyValue,
    evaluations: evaluator.evaluations,
    permutations: sampled,
    truncatedMarginals,
  };
}
