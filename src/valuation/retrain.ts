// Retraining-based Shapley values: v(S) is the utility of a model actually trained on
// coalition S's data alone — the definition of the data Shapley value (Ghorbani & Zou
// 2019, arXiv 1904.02868; Jia et al. 2019, arXiv 1902.10275) applied to members. It is the
// reference the cheaper methods approximate, and the costliest: one training per coalition.
// The coordinator never holds raw data, so it cannot retrain; this runs where the data is
// (a simulation, or the demo that owns every shard), given a `train(coalition)` function.
//
// Exact for at most 6 members (64 trainings); beyond, permutations are sampled until a
// time budget or permutation count runs out, with Monte Carlo standard errors. Trainings
// are memoized, so a coalition met in two permutations is trained once.

import type { Parameters } from '../protocol/tensors.js';
import { exactReplicates, permutationReplicates, type ReplicateEstimate } from './estimators.js';
import { replicateUtility, summarizeTotals, type RunValuationOptions, type ValuationSummary } from './federated.js';
import { checkPlayers, type ReplicateValue } from './game.js';
import { DEFAULT_BOOTSTRAP_RESAMPLES, ReplicateScorer } from './scores.js';
import { ValueTotals } from './uncertainty.js';

export const DEFAULT_MAX_EXACT_RETRAIN_MEMBERS = 6;

export interface RetrainProgress {
  /** Trainings done so far, and the most there will be (2^n when exact; NaN when sampling). */
  trainings: number;
  total: number;
  coalition: string[];
  seconds: number;
}

export interface RetrainOptions extends Pick<RunValuationOptions, 'utility' | 'seed' | 'bootstrap' | 'truncationTolerance'> {
  members: readonly string[];
  /** A model trained on the coalition's data only; for [] the untrained starting model. */
  train: (coalition: string[]) => Promise<Parameters> | Parameters;
  /** Default 6: exact values up to 64 trainings. */
  maxExactMembers?: number;
  /** Sampled permutations at most; default 50. */
  permutations?: number;
  /** Start no new permutation after this many seconds; default no limit (exact values ignore it). */
  maxSeconds?: number;
  onProgress?: (progress: RetrainProgress) => void;
}

export interface RetrainValuation extends ValuationSummary {
  method: 'retrain';
  estimator: 'exact' | 'monte-carlo';
  emptyValue: number;
  grandValue: number;
  trainings: number;
  /** Permutations sampled (Monte Carlo only). */
  permutations?: number;
  /** Monte Carlo part of the error per member; 0 for exact values. */
  standardErrors: Record<string, number>;
}

export async function valueByRetraining(options: RetrainOptions): Promise<RetrainValuation> {
  const started = performance.now();
  const members = [...options.members];
  checkPlayers(members);
  const scorer = new ReplicateScorer(options.bootstrap ?? DEFAULT_BOOTSTRAP_RESAMPLES, options.seed ?? 0);
  const score = replicateUtility(options.utility, scorer);
  const exact = members.length <= (options.maxExactMembers ?? DEFAULT_MAX_EXACT_RETRAIN_MEMBERS);
  let trainings = 0;
  const v: ReplicateValue = async (coalition) => {
    const value = await score(await options.train(coalition));
    trainings++;
    options.onProgress?.({ trainings, total: exact ? 2 ** members.length : Number.NaN, coalition, seconds: (performance.now() - started) / 1000 });
    return value;
  };
  const estimate: ReplicateEstimate = exact
    ? await exactReplicates(members, v)
    : await permutationReplicates(members, v, {
        seed: options.seed ?? 0,
        permutations: options.permutations ?? 50,
        truncationTolerance: options.truncationTolerance ?? 0,
        ...(options.maxSeconds !== undefined ? { maxSeconds: options.maxSeconds } : {}),
      });
  const totals = new ValueTotals();
  totals.add(estimate);
  const summary = summarizeTotals(totals, scorer, estimate.evaluations, started);
  return {
    ...summary,
    method: 'retrain',
    estimator: exact ? 'exact' : 'monte-carlo',
    emptyValue: estimate.empty[0]!,
    grandValue: estimate.grand[0]!,
    trainings,
    ...(estimate.permutations !== undefined ? { permutations: estimate.permutations } : {}),
    standardErrors: summary.monteCarloStandardErrors,
  };
}
