// Each member's contribution to a finished federated run, valued from the updates the
// coordinator stored, without retraining: the round-wise federated Shapley value of
// Wang, Rong, Xia, Yang (2020), "A Principled Approach to Data Valuation for Federated
// Learning" (arXiv 2009.06192). For every round t and every coalition S of that round's
// participants, the utility is
//
//   v_t(S) = accuracy on the validation set of FedAvg(θ_{t−1}; S's round-t updates),
//
// the sample-weighted average of S's updates (θ_{t−1} itself when S is empty). A member's
// value is the sum over rounds of its Shapley value in each round's game, φ_i = Σ_t φ_i^t;
// by efficiency Σ_i φ_i = Σ_t (v_t(N_t) − v_t(∅)): the accuracy each round's full update
// added, summed. Members absent from a round get 0 for it. Coalition models are FedAvg
// whatever the run's strategy was (a server optimizer or robust rule is not replayed).
//
// Exact values need 2^|N_t| utility evaluations per round; beyond `maxExactMembers`
// rounds use the permutation estimator (optionally truncated as in TMC-Shapley, Ghorbani &
// Zou 2019), whose per-round errors add up. Method 'gtg' is GTG-Shapley (Liu et al. 2022,
// ACM TIST, arXiv 2109.02053): rounds whose full update gains less than a tolerance are
// skipped (between-round truncation), permutations stop once a prefix is worth nearly
// v_t(N_t) (within-round truncation), are guided (each member first in turn) and stop
// when the estimates converge. A utility returning per-example scores gives every value
// a bootstrap error too (scores.ts, uncertainty.ts).

import { weightedAverage } from '../core/aggregate.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { Parameters } from '../protocol/tensors.js';
import { exactReplicates, leaveOneOutReplicates, permutationReplicates, pointValues, type ReplicateEstimate } from './estimators.js';
import type { ReplicateValue } from './game.js';
import { ReplicateScorer, DEFAULT_BOOTSTRAP_RESAMPLES, type UtilityResult } from './scores.js';
import { ValueTotals, type UncertaintySummary } from './uncertainty.js';

export type ValuationMethod = 'exact' | 'monte-carlo' | 'loo' | 'gtg';

export interface ValuationUpdate {
  /** The member's name, the key of its value. */
  member: string;
  numExamples: number;
  parameters: Parameters;
}

export interface ValuationRound {
  round: number;
  /** θ_{t−1}: the global model the round's members started from. */
  previous: Parameters;
  updates: ValuationUpdate[];
}

export interface RunValuationOptions {
  /**
   * Accuracy (or any utility, higher is better) of a model on the validation set, or its
   * per-example scores (1 correct / 0 wrong) so that values get a bootstrap error.
   */
  utility: (parameters: Parameters) => Promise<UtilityResult> | UtilityResult;
  /** Default 'auto': exact for rounds of at most `maxExactMembers` members, Monte Carlo beyond. */
  method?: ValuationMethod | 'auto';
  /** Bootstrap resamples of the validation set (per-example utilities only); default 200. */
  bootstrap?: number;
  /** GTG-Shapley: skip a round whose full update changes the utility by at most this; default 0.001. */
  betweenRoundTolerance?: number;
  /** GTG-Shapley: stop sampling once a cycle of permutations moves no value by more than this fraction; default 0.05. */
  convergenceTolerance?: number;
  /** Default 10 (1,024 coalitions per round). */
  maxExactMembers?: number;
  /** Monte Carlo: permutations per round; default 100. */
  permutations?: number;
  /**
   * Monte Carlo: a permutation stops once its prefix is within this fraction of v_t(N_t)
   * (TMC truncation); default 0, unbiased. The standard error does not include the bias
   * truncation adds, and in late rounds, where a whole round gains less than the tolerance,
   * it sets every marginal to 0 (as GTG-Shapley's round skipping does).
   */
  truncationTolerance?: number;
  /** Monte Carlo: seeds the permutation sampler (mixed with the round number); default 0. */
  seed?: number;
  /** Called after each round is valued. */
  onRound?: (round: RoundValuation) => void;
}

export interface RoundValuation {
  round: number;
  method: ValuationMethod;
  members: string[];
  /** v_t(∅) = accuracy of θ_{t−1}, and v_t(N_t). */
  emptyValue: number;
  grandValue: number;
  values: Record<string, number>;
  /** Monte Carlo only. */
  standardErrors?: Record<string, number>;
  evaluations: number;
  /** GTG-Shapley: the round's gain was within the between-round tolerance, so every member got 0. */
  skipped?: boolean;
}

/** Values with their uncertainty, as every valuation method reports them. */
export interface ValuationSummary extends UncertaintySummary {
  values: Record<string, number>;
  /** Bootstrap resamples of the validation set (0 when the utility gave plain numbers) and its size. */
  bootstrap: { resamples: number; validationExamples: number | null };
  evaluations: number;
  seconds: number;
}

export interface RunValuation extends ValuationSummary {
  /** The method of every round, or 'mixed' when 'auto' used both. */
  method: ValuationMethod | 'mixed';
  /** φ_i summed over rounds, by member name, in order of first appearance. */
  values: Record<string, number>;
  /** Monte Carlo part of the error, √(Σ_t se_t²), per member; 0 for members valued exactly throughout; null for leave-one-out. */
  standardErrors: Record<string, number> | null;
  rounds: RoundValuation[];
}

/** Turns a utility into a replicate game over models (scores.ts). */
export function replicateUtility(utility: RunValuationOptions['utility'], scorer: ReplicateScorer): (parameters: Parameters) => Promise<Float64Array> {
  return async (parameters) => scorer.toReplicates(await utility(parameters));
}

/** The summary of summed values: point values, intervals and indistinguishable pairs. */
export function summarizeTotals(totals: ValueTotals, scorer: ReplicateScorer, evaluations: number, started: number): ValuationSummary {
  return {
    values: totals.values(),
    ...totals.summarize(),
    bootstrap: { resamples: scorer.resampleCount, validationExamples: scorer.validationExamples },
    evaluations,
    seconds: (performance.now() - started) / 1000,
  };
}

export const DEFAULT_MAX_EXACT_MEMBERS = 10;

/** FedAvg of the coalition's updates from θ_{t−1}; θ_{t−1} itself for no update or no examples. */
export function coalitionModel(previous: Parameters, updates: readonly ValuationUpdate[]): Parameters {
  const inputs = updates.filter((u) => u.numExamples > 0).map((u) => ({ data: u.parameters.data, weight: u.numExamples }));
  if (inputs.length === 0) return previous;
  return { specs: previous.specs, data: weightedAverage(inputs) };
}

/** One update per member, each the global model's size; throws naming the round and member otherwise. */
export function checkRound(r: ValuationRound): void {
  const seen = new Set<string>();
  r.updates.forEach((u, i) => {
    if (seen.has(u.member)) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `round ${r.round} has two updates from member "${u.member}"`, {
        details: { field: `rounds.${r.round}.updates.${i}.member`, expected: 'one update per member and round', received: u.member },
      });
    }
    seen.add(u.member);
    if (u.parameters.data.length !== r.previous.data.length) {
      throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `round ${r.round}: the update of "${u.member}" holds ${u.parameters.data.length} values, the global model ${r.previous.data.length}`, {
        details: { field: `rounds.${r.round}.updates.${i}.parameters`, expected: r.previous.data.length, received: u.parameters.data.length },
      });
    }
  });
}

/** Values every member's contribution over the rounds given (an array, or an async source that loads them one at a time). */
export async function valueRun(rounds: Iterable<ValuationRound> | AsyncIterable<ValuationRound>, options: RunValuationOptions): Promise<RunValuation> {
  const started = performance.now();
  const method = options.method ?? 'auto';
  const maxExact = options.maxExactMembers ?? DEFAULT_MAX_EXACT_MEMBERS;
  const scorer = new ReplicateScorer(options.bootstrap ?? DEFAULT_BOOTSTRAP_RESAMPLES, options.seed ?? 0);
  const score = replicateUtility(options.utility, scorer);
  const totals = new ValueTotals();
  const perRound: RoundValuation[] = [];
  let evaluations = 0;

  for await (const r of rounds) {
    checkRound(r);
    const members = r.updates.map((u) => u.member);
    for (const m of members) totals.ensure(m);
    if (members.length === 0) continue;
    const byName = new Map(r.updates.map((u) => [u.member, u]));
    // Memoized per round: GTG-Shapley looks at v(N_t) and v(∅) before it samples.
    const memo = new Map<string, Promise<Float64Array>>();
    const v: ReplicateValue = (coalition) => {
      const key = JSON.stringify(coalition);
      let value = memo.get(key);
      if (!value) memo.set(key, (value = score(coalitionModel(r.previous, coalition.map((m) => byName.get(m)!)))));
      return value;
    };
    const roundMethod: ValuationMethod = method === 'auto' ? (members.length <= maxExact ? 'exact' : 'monte-carlo') : method;
    const seed = ((options.seed ?? 0) * 100_003 + r.round) | 0;

    let estimate: ReplicateEstimate;
    let skipped = false;
    if (roundMethod === 'exact') {
      estimate = await exactReplicates(members, v);
    } else if (roundMethod === 'monte-carlo') {
      estimate = await permutationReplicates(members, v, { seed, permutations: options.permutations ?? 100, truncationTolerance: options.truncationTolerance ?? 0 });
    } else if (roundMethod === 'gtg') {
      const grand = await v(members);
      const empty = await v([]);
      if (Math.abs(grand[0]! - empty[0]!) <= (options.betweenRoundTolerance ?? 0.001)) {
        // Between-round truncation: every member gets 0 for a round that changed nothing.
        skipped = true;
        const zero = Object.fromEntries(members.map((m) => [m, new Float64Array(grand.length)]));
        estimate = { players: members, replicates: zero, grand, empty, evaluations: 2, samplingCovariance: null };
      } else {
        estimate = await permutationReplicates(members, v, {
          seed,
          permutations: options.permutations ?? 100,
          truncationTolerance: options.truncationTolerance ?? 0.01,
          guided: true,
          convergenceTolerance: options.convergenceTolerance ?? 0.05,
        });
      }
    } else {
      estimate = await leaveOneOutReplicates(members, v);
      estimate.empty = await v([]);
      estimate.evaluations += 1;
    }
    totals.add(estimate);
    const n = members.length;
    const result: RoundValuation = {
      round: r.round,
      method: roundMethod,
      members,
      emptyValue: estimate.empty[0]!,
      grandValue: estimate.grand[0]!,
      values: pointValues(estimate),
      evaluations: estimate.evaluations,
      ...(estimate.samplingCovariance ? { standardErrors: Object.fromEntries(members.map((m, i) => [m, Math.sqrt(estimate.samplingCovariance![i * n + i]!)])) } : {}),
      ...(skipped ? { skipped } : {}),
    };
    evaluations += result.evaluations;
    perRound.push(result);
    options.onRound?.(result);
  }

  const methods = new Set(perRound.map((r) => r.method));
  const overall: RunValuation['method'] = methods.size === 1 ? [...methods][0]! : methods.size === 0 ? (method === 'auto' ? 'exact' : method) : 'mixed';
  const summary = summarizeTotals(totals, scorer, evaluations, started);
  return {
    ...summary,
    method: overall,
    standardErrors: overall === 'loo' ? null : summary.monteCarloStandardErrors,
    rounds: perRound,
  };
}
