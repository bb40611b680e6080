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
// Zou 2019, and GTG-Shapley, Liu et al. 2022), whose per-round standard errors add in quadrature.

import { weightedAverage } from '../core/aggregate.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { Parameters } from '../protocol/tensors.js';
import type { CoalitionValue } from './game.js';
import { leaveOneOut } from './leave-one-out.js';
import { exactShapley, monteCarloShapley } from './shapley.js';

export type ValuationMethod = 'exact' | 'monte-carlo' | 'loo';

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
  /** Accuracy (or any utility, higher is better) of a model on the validation set. */
  utility: (parameters: Parameters) => Promise<number> | number;
  /** Default 'auto': exact for rounds of at most `maxExactMembers` members, Monte Carlo beyond. */
  method?: ValuationMethod | 'auto';
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
}

export interface RunValuation {
  /** The method of every round, or 'mixed' when 'auto' used both. */
  method: ValuationMethod | 'mixed';
  /** φ_i summed over rounds, by member name, in order of first appearance. */
  values: Record<string, number>;
  /** √(Σ_t se_t²) per member; 0 for members valued exactly throughout; null for leave-one-out. */
  standardErrors: Record<string, number> | null;
  rounds: RoundValuation[];
  /** Utility evaluations made. */
  evaluations: number;
  seconds: number;
}

export const DEFAULT_MAX_EXACT_MEMBERS = 10;

/** FedAvg of the coalition's updates from θ_{t−1}; θ_{t−1} itself for no update or no examples. */
export function coalitionModel(previous: Parameters, updates: readonly ValuationUpdate[]): Parameters {
  const inputs = updates.filter((u) => u.numExamples > 0).map((u) => ({ data: u.parameters.data, weight: u.numExamples }));
  if (inputs.length === 0) return previous;
  return { specs: previous.specs, data: weightedAverage(inputs) };
}

function checkRound(r: ValuationRound): void {
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
  const totals = new Map<string, number>();
  const variances = new Map<string, number>();
  const perRound: RoundValuation[] = [];
  let evaluations = 0;

  for await (const r of rounds) {
    checkRound(r);
    const members = r.updates.map((u) => u.member);
    for (const m of members) {
      if (totals.has(m)) continue;
      totals.set(m, 0);
      variances.set(m, 0);
    }
    if (members.length === 0) continue;
    const byName = new Map(r.updates.map((u) => [u.member, u]));
    const v: CoalitionValue = (coalition) => options.utility(coalitionModel(r.previous, coalition.map((m) => byName.get(m)!)));
    const roundMethod: ValuationMethod = method === 'auto' ? (members.length <= maxExact ? 'exact' : 'monte-carlo') : method;

    let result: RoundValuation;
    if (roundMethod === 'exact') {
      const exact = await exactShapley(members, v);
      result = { round: r.round, method: 'exact', members, emptyValue: exact.emptyValue, grandValue: exact.grandValue, values: exact.values, evaluations: exact.evaluations };
    } else if (roundMethod === 'monte-carlo') {
      const mc = await monteCarloShapley(members, v, {
        seed: ((options.seed ?? 0) * 100_003 + r.round) | 0,
        permutations: options.permutations ?? 100,
        truncationTolerance: options.truncationTolerance ?? 0,
      });
      result = {
        round: r.round,
        method: 'monte-carlo',
        members,
        emptyValue: mc.emptyValue,
        grandValue: mc.grandValue,
        values: mc.values,
        standardErrors: mc.standardErrors,
        evaluations: mc.evaluations,
      };
      for (const m of members) {
        const se = mc.standardErrors[m]!;
        // One permutation gives no error estimate: the whole marginal is the uncertainty.
        variances.set(m, variances.get(m)! + (Number.isNaN(se) ? mc.values[m]! ** 2 : se * se));
      }
    } else {
      const loo = await leaveOneOut(members, v);
      const empty = await options.utility(r.previous);
      result = { round: r.round, method: 'loo', members, emptyValue: empty, grandValue: loo.grandValue, values: loo.values, evaluations: loo.evaluations + 1 };
    }
    for (const m of members) totals.set(m, totals.get(m)! + result.values[m]!);
    evaluations += result.evaluations;
    perRound.push(result);
    options.onRound?.(result);
  }

  const methods = new Set(perRound.map((r) => r.method));
  const overall: RunValuation['method'] = methods.size === 1 ? [...methods][0]! : methods.size === 0 ? (method === 'auto' ? 'exact' : method) : 'mixed';
  return {
    method: overall,
    values: Object.fromEntries(totals),
    standardErrors: overall === 'loo' ? null : Object.fromEntries([...variances].map(([m, s]) => [m, Math.sqrt(s)])),
    rounds: perRound,
    evaluations,
    seconds: (performance.now() - started) / 1000,
  };
}
