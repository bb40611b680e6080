// Final-model Shapley values: each coalition S is valued by the model the whole run would
// have ended with had only S's updates been aggregated, rebuilt from the updates the
// coordinator stored, without retraining. The rebuild sums, round by round, the FedAvg of
// S's *stored* updates as deltas from the global model each round actually started from:
//
//   θ_T(S) = θ_0 + Σ_t Σ_{k ∈ S ∩ N_t} n_k^t / n_{S∩N_t}^t · (θ_k^t − θ_{t−1}),
//
// and v(S) = validation utility of θ_T(S) (θ_0 for S = ∅, the actual final FedAvg model for
// S = N). This is the "one-round reconstruction" of Song, Tong & Wei (2019), "Profit
// Allocation for Federated Learning" (IEEE Big Data; their OR method), and of the gradient-
// based sub-model reconstruction in GTG-Shapley (Liu et al. 2022), applied to the whole
// run rather than to each round: it approximates "S trained alone" because member k's
// update in round t was computed from θ_{t−1}, the model everyone built, not from S's own
// model. The approximation favours members whose updates are useful on top of the others'
// (their deltas were computed from a model the others helped build) and is exact for one
// round. Unlike the round-wise value (federated.ts) it is not a sum of per-round games, so it
// does not accumulate one negative marginal per round on late, saturated rounds.
//
// Rounds with the same participants and example counts share their weights for every S, so
// their deltas are summed once per member as they stream in: memory is members × groups ×
// parameters (one group when everyone trains every round), not rounds × members × parameters.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { Parameters } from '../protocol/tensors.js';
import { exactReplicates, permutationReplicates, type ReplicateEstimate } from './estimators.js';
import { checkRound, DEFAULT_MAX_EXACT_MEMBERS, replicateUtility, summarizeTotals, type RunValuationOptions, type ValuationRound, type ValuationSummary } from './federated.js';
import type { ReplicateValue } from './game.js';
import { DEFAULT_BOOTSTRAP_RESAMPLES, ReplicateScorer } from './scores.js';
import { ValueTotals } from './uncertainty.js';

export interface FinalModelOptions extends Pick<RunValuationOptions, 'utility' | 'maxExactMembers' | 'permutations' | 'truncationTolerance' | 'seed' | 'bootstrap'> {
  /** Called after each coalition model is valued. */
  onProgress?: (done: number, total: number) => void;
}

export interface FinalModelValuation extends ValuationSummary {
  method: 'final-model';
  /** exact: all 2^n coalitions; monte-carlo: sampled permutations beyond maxExactMembers. */
  estimator: 'exact' | 'monte-carlo';
  /** v(∅) = utility of the first valued round's starting model; v(N) = utility of the rebuilt final model. */
  emptyValue: number;
  grandValue: number;
  rounds: number;
  /** Monte Carlo part of the error per member; 0 for exact values. */
  standardErrors: Record<string, number>;
}

interface RoundGroup {
  /** member → examples, the weights of every round in the group. */
  weights: Map<string, number>;
  /** member → Σ_t (θ_k^t − θ_{t−1}) over the group's rounds. */
  deltas: Map<string, Float64Array>;
}

/** The summed deltas of a run's stored updates, grouped by participants and example counts. */
export class SummedUpdates {
  start: Parameters | null = null;
  readonly members: string[] = [];
  readonly groups = new Map<string, RoundGroup>();
  rounds = 0;

  add(round: ValuationRound): void {
    this.start ??= round.previous;
    if (round.previous.data.length !== this.start.data.length) {
      throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `round ${round.round}: the global model holds ${round.previous.data.length} values, round 1's ${this.start.data.length}`, {
        details: { field: `rounds.${round.round}.previous`, expected: this.start.data.length, received: round.previous.data.length },
      });
    }
    this.rounds++;
    for (const u of round.updates) if (!this.members.includes(u.member)) this.members.push(u.member);
    const counted = round.updates.filter((u) => u.numExamples > 0).sort((a, b) => (a.member < b.member ? -1 : 1));
    if (counted.length === 0) return;
    const key = JSON.stringify(counted.map((u) => [u.member, u.numExamples]));
    let group = this.groups.get(key);
    if (!group) this.groups.set(key, (group = { weights: new Map(counted.map((u) => [u.member, u.numExamples])), deltas: new Map() }));
    const previous = round.previous.data;
    for (const u of counted) {
      let sum = group.deltas.get(u.member);
      if (!sum) group.deltas.set(u.member, (sum = new Float64Array(previous.length)));
      const data = u.parameters.data;
      for (let i = 0; i < data.length; i++) sum[i]! += data[i]! - previous[i]!;
    }
  }

  /** θ_T(S): the start plus, per group, the FedAvg of S's summed deltas. */
  coalitionModel(coalition: readonly string[]): Parameters {
    const start = this.start!;
    const out = Float64Array.from(start.data);
    for (const group of this.groups.values()) {
      const present = coalition.filter((m) => group.weights.has(m));
      const total = present.reduce((s, m) => s + group.weights.get(m)!, 0);
      if (total === 0) continue;
      for (const m of present) {
        const w = group.weights.get(m)! / total;
        const delta = group.deltas.get(m)!;
        for (let i = 0; i < out.length; i++) out[i]! += w * delta[i]!;
      }
    }
    return { specs: start.specs, data: Float32Array.from(out) };
  }
}

/** Final-model Shapley values of every member over the rounds given. */
export async function valueFinalModels(rounds: Iterable<ValuationRound> | AsyncIterable<ValuationRound>, options: FinalModelOptions): Promise<FinalModelValuation> {
  const started = performance.now();
  const summed = new SummedUpdates();
  for await (const r of rounds) {
    checkRound(r);
    summed.add(r);
  }
  if (summed.members.length === 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'no round has any update: there is nothing to value', { details: { field: 'rounds', expected: 'at least one update', received: 0 } });
  }
  const scorer = new ReplicateScorer(options.bootstrap ?? DEFAULT_BOOTSTRAP_RESAMPLES, options.seed ?? 0);
  const score = replicateUtility(options.utility, scorer);
  const members = summed.members;
  let done = 0;
  const v: ReplicateValue = async (coalition) => {
    const value = await score(summed.coalitionModel(coalition));
    options.onProgress?.(++done, members.length <= (options.maxExactMembers ?? DEFAULT_MAX_EXACT_MEMBERS) ? 2 ** members.length : Number.NaN);
    return value;
  };
  const exact = members.length <= (options.maxExactMembers ?? DEFAULT_MAX_EXACT_MEMBERS);
  const estimate: ReplicateEstimate = exact
    ? await exactReplicates(members, v)
    : await permutationReplicates(members, v, { seed: options.seed ?? 0, permutations: options.permutations ?? 100, truncationTolerance: options.truncationTolerance ?? 0 });
  const totals = new ValueTotals();
  totals.add(estimate);
  const summary = summarizeTotals(totals, scorer, estimate.evaluations, started);
  return {
    ...summary,
    method: 'final-model',
    estimator: exact ? 'exact' : 'monte-carlo',
    emptyValue: estimate.empty[0]!,
    grandValue: estimate.grand[0]!,
    rounds: summed.rounds,
    standardErrors: summary.monteCarloStandardErrors,
  };
}
