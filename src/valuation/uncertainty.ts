// How sure a value is. Two sources of error are combined, assumed independent:
//
// - validation-set sampling error: the spread of a member's value over bootstrap resamples
//   of the validation set (valuation/scores.ts), Var_boot = sample variance of the B
//   replicates (Efron & Tibshirani 1993);
// - Monte Carlo error of sampled permutations: Cov(marginals) / permutations.
//
// se = √(Var_boot + Var_MC); the 95 % interval is value ± 1.96 se (normal approximation).
// Two members cannot be told apart when their difference is within 1.96 standard errors of
// the difference, computed from the paired replicates and the Monte Carlo covariance; this is
// sharper than checking whether the two intervals overlap, because members valued on the
// same validation examples share much of their error.

import type { ReplicateEstimate } from './estimators.js';

export const Z_95 = 1.959963984540054;

export interface ValueUncertainty {
  standardError: number;
  low: number;
  high: number;
}

export interface UncertaintySummary {
  /** 95 % interval per member, combining bootstrap and Monte Carlo error. */
  uncertainty: Record<string, ValueUncertainty>;
  /** Pairs of members whose values cannot be told apart at the 95 % level. */
  indistinguishable: Array<[string, string]>;
  /** The two parts of each standard error. */
  bootstrapStandardErrors: Record<string, number>;
  monteCarloStandardErrors: Record<string, number>;
}

/** Sums of replicate values and Monte Carlo covariances over several games (e.g. rounds), by member. */
export class ValueTotals {
  readonly members: string[] = [];
  private readonly index = new Map<string, number>();
  private replicates: Float64Array[] = [];
  private covariance = new Map<string, number>();
  width = 0;

  /** A member that takes part in no game still gets value 0. */
  ensure(member: string): number {
    let i = this.index.get(member);
    if (i === undefined) {
      i = this.members.length;
      this.index.set(member, i);
      this.members.push(member);
      this.replicates.push(new Float64Array(this.width));
    }
    return i;
  }

  add(estimate: Pick<ReplicateEstimate, 'players' | 'replicates' | 'samplingCovariance'>): void {
    const width = estimate.replicates[estimate.players[0]!]!.length;
    if (this.width === 0) {
      this.width = width;
      this.replicates = this.replicates.map(() => new Float64Array(width));
    }
    const ids = estimate.players.map((p) => this.ensure(p));
    estimate.players.forEach((p, k) => {
      const target = this.replicates[ids[k]!]!;
      const source = estimate.replicates[p]!;
      for (let r = 0; r < this.width; r++) target[r]! += source[r]!;
    });
    const cov = estimate.samplingCovariance;
    if (!cov) return;
    const n = estimate.players.length;
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        let c = cov[a * n + b]!;
        // One permutation gives no error estimate: the whole value is the uncertainty.
        if (Number.isNaN(c)) c = a === b ? estimate.replicates[estimate.players[a]!]![0]! ** 2 : 0;
        const key = `${ids[a]} ${ids[b]}`;
        this.covariance.set(key, (this.covariance.get(key) ?? 0) + c);
      }
    }
  }

  values(): Record<string, number> {
    return Object.fromEntries(this.members.map((m, i) => [m, this.replicates[i]![0] ?? 0]));
  }

  replicatesOf(member: string): Float64Array {
    return this.replicates[this.index.get(member)!]!;
  }

  private mcCovariance(i: number, j: number): number {
    return this.covariance.get(`${i} ${j}`) ?? 0;
  }

  summarize(): UncertaintySummary {
    const n = this.members.length;
    const uncertainty: Record<string, ValueUncertainty> = {};
    const bootstrapStandardErrors: Record<string, number> = {};
    const monteCarloStandardErrors: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const m = this.members[i]!;
      const value = this.replicates[i]![0] ?? 0;
      const boot = bootstrapVariance(this.replicates[i]!);
      const mc = Math.max(0, this.mcCovariance(i, i));
      const se = Math.sqrt(boot + mc);
      uncertainty[m] = { standardError: se, low: value - Z_95 * se, high: value + Z_95 * se };
      bootstrapStandardErrors[m] = Math.sqrt(boot);
      monteCarloStandardErrors[m] = Math.sqrt(mc);
    }
    const indistinguishable: Array<[string, string]> = [];
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const a = this.replicates[i]!;
        const b = this.replicates[j]!;
        const difference = a.map((x, r) => x - b[r]!);
        const variance = bootstrapVariance(difference) + Math.max(0, this.mcCovariance(i, i) + this.mcCovariance(j, j) - 2 * this.mcCovariance(i, j));
        if (Math.abs(difference[0] ?? 0) <= Z_95 * Math.sqrt(variance)) indistinguishable.push([this.members[i]!, this.members[j]!]);
      }
    }
    return { uncertainty, indistinguishable, bootstrapStandardErrors, monteCarloStandardErrors };
  }
}

/** Sample variance of replicates 1..B (0 without at least two resamples). */
export function bootstrapVariance(replicates: ArrayLike<number>): number {
  const b = replicates.length - 1;
  if (b < 2) return 0;
  let mean = 0;
  for (let r = 1; r <= b; r++) mean += replicates[r]!;
  mean /= b;
  let sum = 0;
  for (let r = 1; r <= b; r++) sum += (replicates[r]! - mean) ** 2;
  return sum / (b - 1);
}
