// The three ways Concord divides a game's value, on replicate-valued games (game.ts): every
// coalition value is a vector (the value on the full validation set, then on each
// bootstrap resample), and each estimator is linear in v, so it returns the same vector
// per player. shapley.ts and leave-one-out.ts are the scalar faces of these.
//
// - exact Shapley values from all 2^n coalitions (Shapley 1953);
// - permutation sampling (Castro, Gómez & Tejada 2009), optionally truncated once a prefix
//   is worth nearly v(N) (TMC-Shapley, Ghorbani & Zou 2019, arXiv 1904.02868) and
//   optionally guided as in GTG-Shapley (Liu, Chen, Yang, Zhang, Yu 2022, "GTG-Shapley:
//   Efficient and Accurate Participant Contribution Evaluation in Federated Learning",
//   ACM TIST 13(4), arXiv 2109.02053): each round of sampling draws one permutation per
//   player with that player first, so every player's marginal to the empty coalition is
//   sampled evenly, and sampling stops once the estimates have converged. The Monte Carlo
//   covariance of the estimates is returned, so differences between players have errors too;
// - leave-one-out, v(N) − v(N \ {i}).

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { seededRandom, shuffle } from '../core/random.js';
import { checkPlayers, CoalitionEvaluator, type ReplicateValue } from './game.js';

/** 2^16 = 65,536 evaluations of v is the most an exact computation may ask for. */
export const MAX_EXACT_PLAYERS = 16;

export interface ReplicateEstimate {
  players: string[];
  /** φ_i replicates by player (index 0: on the full validation set). */
  replicates: Record<string, Float64Array>;
  grand: Float64Array;
  empty: Float64Array;
  /** Calls made to v. */
  evaluations: number;
  /**
   * Monte Carlo covariance of the estimates (row-major n × n, players in list order):
   * Cov(marginals) / permutations, on the full validation set. Null for exact methods;
   * NaN entries when only one permutation was sampled.
   */
  samplingCovariance: Float64Array | null;
  permutations?: number;
  truncatedMarginals?: number;
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

function byPlayerVectors(players: readonly string[], vectors: Float64Array[]): Record<string, Float64Array> {
  return Object.fromEntries(players.map((p, i) => [p, vectors[i]!]));
}

function checkOption(field: string, value: number, ok: boolean, expected: string): void {
  if (!ok) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} is ${value}; expected ${expected}`, { details: { field, expected, received: value } });
}

/** Exact Shapley values from all 2^n coalitions, each evaluated once, in order of coalition bitmask. */
export async function exactReplicates(players: readonly string[], v: ReplicateValue, onProgress?: (done: number, total: number) => void): Promise<ReplicateEstimate> {
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
  const value: Float64Array[] = [];
  for (let mask = 0; mask < size; mask++) {
    value.push(await evaluator.value(ascending(mask, n)));
    onProgress?.(mask + 1, size);
  }
  const width = evaluator.width;

  // |S|!(n−|S|−1)!/n! = 1 / (n · C(n−1, |S|)).
  const weight = new Float64Array(n);
  let binomial = 1;
  for (let s = 0; s < n; s++) {
    weight[s] = 1 / (n * binomial);
    binomial = (binomial * (n - 1 - s)) / (s + 1);
  }
  const phi = players.map(() => new Float64Array(width));
  for (let mask = 0; mask < size; mask++) {
    const w = weight[popcount(mask)]!;
    const without = value[mask]!;
    for (let i = 0; i < n; i++) {
      const bit = 1 << i;
      if (mask & bit) continue;
      const withI = value[mask | bit]!;
      const target = phi[i]!;
      for (let r = 0; r < width; r++) target[r]! += w * (withI[r]! - without[r]!);
    }
  }
  return { players: [...players], replicates: byPlayerVectors(players, phi), grand: value[size - 1]!, empty: value[0]!, evaluations: evaluator.evaluations, samplingCovariance: null };
}

export interface PermutationOptions {
  /** Seeds the permutation sampler: the same seed gives the same estimates. */
  seed: number;
  /** Most permutations to sample; default 100. */
  permutations?: number;
  /**
   * Stop a permutation once |v(N) − v(S)| < truncationTolerance · |v(N)| (on the full
   * validation set); later players' marginals count as 0. Default 0: no truncation.
   */
  truncationTolerance?: number;
  /** Start no new permutation after this many seconds; default no limit. One always completes. */
  maxSeconds?: number;
  /** Coalition values kept for reuse across permutations; default 100,000. */
  maxCachedCoalitions?: number;
  /** GTG-Shapley's guided sampling: permutations come in cycles of n, player k first in the k-th of each cycle. */
  guided?: boolean;
  /**
   * Stop once a whole cycle (n permutations, or one when unguided) changes no estimate by
   * more than this fraction of the largest |φ|; default: never (sample `permutations`).
   * GTG-Shapley uses a relative change around 5 %.
   */
  convergenceTolerance?: number;
  /** Called after each permutation with the number done and the most that will be done. */
  onProgress?: (done: number, total: number) => void;
}

/** Shapley values estimated from random permutations, with the Monte Carlo covariance of the estimates. */
export async function permutationReplicates(players: readonly string[], v: ReplicateValue, options: PermutationOptions): Promise<ReplicateEstimate> {
  checkPlayers(players);
  const { seed, permutations = 100, truncationTolerance = 0, maxSeconds = Number.POSITIVE_INFINITY, maxCachedCoalitions = 100_000, guided = false } = options;
  checkOption('seed', seed, Number.isInteger(seed), 'an integer');
  checkOption('permutations', permutations, Number.isInteger(permutations) && permutations >= 1, 'an integer >= 1');
  checkOption('truncationTolerance', truncationTolerance, Number.isFinite(truncationTolerance) && truncationTolerance >= 0, 'a number >= 0');
  checkOption('maxSeconds', maxSeconds, maxSeconds >= 0, 'a number >= 0');
  checkOption('maxCachedCoalitions', maxCachedCoalitions, maxCachedCoalitions >= 0, 'a number >= 0');
  if (options.convergenceTolerance !== undefined) {
    checkOption('convergenceTolerance', options.convergenceTolerance, Number.isFinite(options.convergenceTolerance) && options.convergenceTolerance >= 0, 'a number >= 0');
  }

  const n = players.length;
  const evaluator = new CoalitionEvaluator(players, v, maxCachedCoalitions);
  const all = players.map((_, i) => i);
  const grand = await evaluator.value(all);
  const empty = await evaluator.value([]);
  const width = evaluator.width;
  const close = truncationTolerance * Math.abs(grand[0]!);
  const random = seededRandom(seed);
  const deadline = performance.now() + maxSeconds * 1000;
  const cycle = guided ? n : 1;

  const sums = players.map(() => new Float64Array(width));
  // Running mean and co-moment of the marginals on the full set (Welford, multivariate).
  const mean = new Float64Array(n);
  const comoment = new Float64Array(n * n);
  const marginal = new Float64Array(n);
  const delta = new Float64Array(n);
  let before = new Float64Array(n);
  let sampled = 0;
  let truncatedMarginals = 0;
  const inCoalition = new Uint8Array(n);
  while (sampled < permutations && (sampled === 0 || performance.now() < deadline)) {
    const order = shuffle(all.slice(), random);
    if (guided) {
      // Player (sampled mod n) goes first; the rest stay in random order.
      const first = sampled % n;
      order.splice(order.indexOf(first), 1);
      order.unshift(first);
    }
    inCoalition.fill(0);
    let previous = empty;
    sampled++;
    for (let k = 0; k < n; k++) {
      const player = order[k]!;
      if (Math.abs(grand[0]! - previous[0]!) < close) {
        truncatedMarginals++;
        marginal[player] = 0;
        continue;
      }
      inCoalition[player] = 1;
      // The last player completes the grand coalition, whose value is known.
      const current = k === n - 1 ? grand : await evaluator.value(all.filter((i) => inCoalition[i] === 1));
      const target = sums[player]!;
      for (let r = 0; r < width; r++) target[r]! += current[r]! - previous[r]!;
      marginal[player] = current[0]! - previous[0]!;
      previous = current;
    }
    for (let i = 0; i < n; i++) {
      delta[i] = marginal[i]! - mean[i]!;
      mean[i]! += delta[i]! / sampled;
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) comoment[i * n + j]! += delta[i]! * (marginal[j]! - mean[j]!);
    options.onProgress?.(sampled, permutations);
    // Converged: a whole cycle moved no estimate by more than the tolerance (relative to the largest).
    if (options.convergenceTolerance !== undefined && sampled % cycle === 0 && sampled >= 2 * cycle) {
      let change = 0;
      let scale = 0;
      for (let i = 0; i < n; i++) {
        change = Math.max(change, Math.abs(mean[i]! - before[i]!));
        scale = Math.max(scale, Math.abs(mean[i]!));
      }
      if (change <= options.convergenceTolerance * scale) break;
    }
    if (sampled % cycle === 0) before = Float64Array.from(mean);
  }
  const covariance = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) covariance[i] = sampled > 1 ? comoment[i]! / (sampled - 1) / sampled : Number.NaN;
  const replicates = sums.map((s) => s.map((x) => x / sampled));
  return {
    players: [...players],
    replicates: byPlayerVectors(players, replicates),
    grand,
    empty,
    evaluations: evaluator.evaluations,
    samplingCovariance: covariance,
    permutations: sampled,
    truncatedMarginals,
  };
}

/** LOO_i = v(N) − v(N \ {i}): n + 1 evaluations of v. */
export async function leaveOneOutReplicates(players: readonly string[], v: ReplicateValue): Promise<ReplicateEstimate> {
  checkPlayers(players);
  const evaluator = new CoalitionEvaluator(players, v);
  const all = players.map((_, i) => i);
  const grand = await evaluator.value(all);
  const values: Float64Array[] = [];
  for (const i of all) {
    const without = await evaluator.value(all.filter((j) => j !== i));
    values.push(grand.map((g, r) => g - without[r]!));
  }
  return { players: [...players], replicates: byPlayerVectors(players, values), grand, empty: new Float64Array(grand.length), evaluations: evaluator.evaluations, samplingCovariance: null };
}

/** The point estimates (replicate 0) by player. */
export function pointValues(estimate: Pick<ReplicateEstimate, 'replicates'>): Record<string, number> {
  return Object.fromEntries(Object.entries(estimate.replicates).map(([p, r]) => [p, r[0]!]));
}
