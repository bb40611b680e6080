// Contributions of a run's members, from what the coordinator stored: the global model
// before each round (the previous checkpoint) and every member's update of the round
// (kept when the run's keepUpdates is on). The utility is the accuracy of a coalition's
// model on the coordinator's validation set, the `--eval-data` set it also uses for
// server-side evaluation, scored per example so every value gets a bootstrap interval.
// The method is the one the agreement in force when the run was created names
// (valuation.method; default final-model, valuation/final-model.ts), or the request's where
// the agreement allows it; round-wise methods are in valuation/federated.ts. Retraining
// (valuation/retrain.ts) needs members' data and runs where it is, never here.
//
// Under secure aggregation individual updates never reach the coordinator, so no
// coalition other than "everyone who reported" can be evaluated: contributions are
// reported as unavailable, with what is known (rounds joined, examples contributed).
// Future work: the secure-aggregation protocol could also sum chosen sub-coalitions
// (each member masks its update once per coalition it belongs to, so the coordinator
// learns Σ_{k∈S} n_k θ_k for every requested S), which is exactly what v_t(S) needs;
// the price is one masked vector per member per coalition, and the agreement would have
// to allow the coordinator to see aggregates of fewer members than the whole round.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { RunConfig } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import type { GovernanceStore, MemberStore, RunStore } from '../storage/storage.js';
import { shareRewards, type BenefitShares, type SharingRule } from '../valuation/benefit-sharing.js';
import { valueRun, type RunValuation, type ValuationMethod, type ValuationRound, type ValuationSummary } from '../valuation/federated.js';
import { valueFinalModels } from '../valuation/final-model.js';
import { DEFAULT_VALUATION_METHOD, VALUATION_METHOD_INFO, valuationMethod, type ValuationMethodInfo, type ValuationMethodName } from '../valuation/methods.js';
import type { UtilityResult } from '../valuation/scores.js';
import type { ValueUncertainty } from '../valuation/uncertainty.js';
import { agreementOfRun, type RunAgreementTerms } from './run-agreement.js';

/**
 * Rounds that select more members than this keep no updates unless the run's keepUpdates asks
 * for them: valuing a round of a thousand members is rarely wanted, and their updates (400 MB
 * a round for a 100k-parameter model) cost more to store than the rest of the round
 * (`npm run bench -- scale`).
 */
export const KEPT_UPDATES_MAX_MEMBERS = 100;

/**
 * Whether a run stores members' updates (of a round that selects `selected` members): its
 * keepUpdates; by default on for rounds of up to KEPT_UPDATES_MAX_MEMBERS, never when
 * updates are secret (the run compiler refuses keepUpdates with secure aggregation).
 */
export function keepsUpdates(config: Pick<RunConfig, 'keepUpdates' | 'secureAggregation'>, selected?: number): boolean {
  if (config.secureAggregation) return false;
  if (config.keepUpdates !== undefined) return config.keepUpdates;
  return selected === undefined || selected <= KEPT_UPDATES_MAX_MEMBERS;
}

export interface ContributionOptions {
  /** Default: the agreement's valuation.method, else 'final-model'. 'auto', 'exact', 'monte-carlo', 'loo' and 'gtg' are round-wise. */
  method?: ValuationMethodName;
  /** Bootstrap resamples of the validation set; default the agreement's valuation.bootstrap, else 200. */
  bootstrap?: number;
  /** Divided in proportion to positive contributions; default 0 (no sharing shown). */
  rewardPool?: number;
  /** Monte Carlo permutations per round; default 100. */
  permutations?: number;
  /** Monte Carlo truncation tolerance (fraction of a round's v(N)); default 0, unbiased. */
  truncationTolerance?: number;
  seed?: number;
  /** Value only the last N rounds (all by default), to bound the work on long runs. */
  lastRounds?: number;
}

export interface Participation {
  name: string;
  /** Rounds whose aggregate included the member. */
  rounds: number;
  /** Training examples it reported over those rounds. */
  examples: number;
}

export interface ContributionReport {
  runId: string;
  available: boolean;
  /** Why contributions could not be computed. */
  reason?: string;
  method?: RunValuation['method'] | 'final-model';
  /** φ_i by member name: accuracy points (as a fraction) the member added. */
  values?: Record<string, number>;
  /** Monte Carlo part of the error (0 for exact values); null for leave-one-out. */
  standardErrors?: Record<string, number> | null;
  /** 95 % interval per member, combining the validation set's bootstrap error and Monte Carlo error. */
  uncertainty?: Record<string, ValueUncertainty>;
  /** Pairs of members whose values cannot be told apart at the 95 % level. */
  indistinguishable?: Array<[string, string]>;
  /** Bootstrap resamples behind the intervals (0 when the validation utility gave one number) and the validation set's size. */
  bootstrap?: { resamples: number; validationExamples: number | null };
  /** final-model: whether all coalitions were valued or permutations sampled. */
  estimator?: 'exact' | 'monte-carlo';
  /** final-model: utility of the starting model (∅) and of the rebuilt final model (N). */
  emptyValue?: number;
  grandValue?: number;
  /** What the method rewards and how it is biased. */
  about?: Pick<ValuationMethodInfo, 'rewards' | 'biases' | 'cites'>;
  perRound?: { round: number; method: ValuationMethod; emptyValue: number; grandValue: number; values: Record<string, number>; skipped?: boolean }[];
  shares?: BenefitShares;
  /** The agreement's benefit-sharing rule, applied whenever a reward pool is divided. */
  sharingRule?: SharingRule;
  participation: Participation[];
  utility: string;
  roundsValued?: number;
  evaluations?: number;
  seconds?: number;
}

export const UTILITY_DESCRIPTION =
  'round-wise Shapley (Wang et al. 2020): v_t(S) = validation accuracy of FedAvg(θ_{t−1}; updates of S in round t), φ_i = Σ_t φ_i^t; validation set = the coordinator\'s --eval-data set';
export const FINAL_MODEL_UTILITY_DESCRIPTION =
  'final-model Shapley: v(S) = validation accuracy of θ_0 + Σ_t FedAvg of S\'s stored round-t updates as deltas from θ_{t−1}; validation set = the coordinator\'s --eval-data set';

/** Accuracy of a model on the validation set, or its per-example correctness (for bootstrap intervals). */
export type ValidationScorer = (config: RunConfig, parameters: Parameters) => Promise<UtilityResult>;

/** The method to use: the request's, where the agreement allows it, else the agreement's, else the default. */
export function chooseMethod(requested: unknown, agreement: RunAgreementTerms | undefined): ValuationMethodName {
  const agreed = agreement?.valuation?.method;
  if (requested === undefined) return agreed ?? DEFAULT_VALUATION_METHOD;
  const method = valuationMethod(requested);
  if (agreed !== undefined && method !== agreed && agreement?.valuation?.overridable === false) {
    throw new ConcordError(ErrorCode.FORBIDDEN, `the cooperation agreement fixes the valuation method to ${agreed} (valuation.overridable: false); ${method} may not be requested`, {
      details: { field: 'method', expected: agreed, received: method },
    });
  }
  return method;
}

export async function runContributions(
  storage: RunStore & Pick<MemberStore, 'listMembers'> & Partial<Pick<GovernanceStore, 'listAgreementVersions'>>,
  runId: string,
  /** Accuracy (or per-example correctness) on the validation set; null when the coordinator has none. */
  accuracy: ValidationScorer | null,
  options: ContributionOptions = {},
): Promise<ContributionReport> {
  const run = await storage.getRun(runId);
  if (!run) throw new ConcordError(ErrorCode.NOT_FOUND, `no run ${runId}`, { details: { field: 'runId', received: runId } });
  const agreement = await agreementOfRun(storage, run);
  const method = chooseMethod(options.method, agreement);
  const info = VALUATION_METHOD_INFO[method];
  const members = await storage.listMembers();
  const nameOf = (id: string) => members.find((m) => m.memberId === id)?.name ?? id;
  const rounds = await storage.listRounds(runId);
  const participation = new Map<string, Participation>();
  const trainRows = (await storage.listMemberMetrics(runId)).filter((r) => r.phase === 'train');
  for (const r of rounds) {
    for (const id of r.participants) {
      const p = participation.get(id) ?? { name: nameOf(id), rounds: 0, examples: 0 };
      p.rounds++;
      p.examples += trainRows.find((row) => row.round === r.round && row.memberId === id)?.numExamples ?? 0;
      participation.set(id, p);
    }
  }
  const sharingRule = agreement?.benefitSharing;
  const base = {
    runId,
    participation: [...participation.values()],
    utility: info.game === 'final-model' ? FINAL_MODEL_UTILITY_DESCRIPTION : UTILITY_DESCRIPTION,
    ...(sharingRule ? { sharingRule } : {}),
  };
  const unavailable = (reason: string): ContributionReport => ({ ...base, available: false, reason });

  if (run.config.secureAggregation) {
    return unavailable(
      'the run used secure aggregation: the coordinator only ever saw the sum of each round\'s updates, never an individual one, so no coalition smaller than the whole round can be evaluated. Known instead: each member\'s rounds and examples (participation). Sub-coalition sums from the secure-aggregation protocol itself would be needed (future work).',
    );
  }
  if (info.needs === 'train-function') {
    return unavailable(`${method} values coalitions by training on their data, which the coordinator never holds; run it where the data is (valueByRetraining in valuation/retrain.ts, as the demo does), or ask for final-model`);
  }
  if (!keepsUpdates(run.config)) return unavailable('the run did not keep members\' updates (keepUpdates: false), so coalitions cannot be rebuilt');
  if (!accuracy) return unavailable('the coordinator has no validation set: start it with --eval-data to value contributions');
  if (rounds.length === 0) return unavailable('the run has no completed round yet');

  const valued = options.lastRounds !== undefined ? rounds.slice(-Math.max(1, options.lastRounds)) : rounds;
  let loaded = 0;
  async function* load(): AsyncGenerator<ValuationRound> {
    for (const r of valued) {
      // Rounds whose updates the coordinator's retention policy dropped cannot be valued; the
      // policy keeps the checkpoint before every round whose updates it keeps.
      const updates = await storage.listMemberUpdates(runId, r.round);
      if (updates.length === 0) continue;
      const previous = r.round === 1 ? await storage.getInitialParameters(runId) : (await storage.getCheckpoint(runId, r.round - 1))?.parameters;
      if (!previous) throw new ConcordError(ErrorCode.STORAGE, `run ${runId} has no global model before round ${r.round}`);
      loaded++;
      yield { round: r.round, previous, updates: updates.map((u) => ({ member: nameOf(u.memberId), numExamples: u.numExamples, parameters: u.parameters })) };
    }
  }
  const settings = {
    utility: (p: Parameters) => accuracy(run.config, p),
    ...(options.permutations !== undefined ? { permutations: options.permutations } : {}),
    ...(options.truncationTolerance !== undefined ? { truncationTolerance: options.truncationTolerance } : {}),
    seed: options.seed ?? run.config.seed,
    bootstrap: options.bootstrap ?? agreement?.valuation?.bootstrap ?? 200,
  };
  const noUpdates =
    run.config.keepUpdates === undefined
      ? `no member updates are stored for this run: by default only rounds of at most ${KEPT_UPDATES_MAX_MEMBERS} members keep them (set keepUpdates: true to keep larger ones), or the retention policy dropped them`
      : 'no member updates are stored for this run (it ran before updates were kept, or the retention policy dropped them)';
  let summary: ValuationSummary;
  let specific: Partial<ContributionReport>;
  if (info.game === 'final-model') {
    // valueFinalModels refuses rounds without any update; here that means none were stored.
    const result = await valueFinalModels(load(), settings).catch((error: unknown) => {
      if (loaded === 0) return null;
      throw error;
    });
    if (!result) return unavailable(noUpdates);
    summary = result;
    specific = { method: 'final-model', estimator: result.estimator, emptyValue: result.emptyValue, grandValue: result.grandValue, standardErrors: result.standardErrors, roundsValued: result.rounds };
  } else {
    const result = await valueRun(load(), { ...settings, method: method as ValuationMethod | 'auto' });
    if (result.rounds.length === 0) return unavailable(noUpdates);
    summary = result;
    specific = {
      method: result.method,
      standardErrors: result.standardErrors,
      perRound: result.rounds.map((r) => ({ round: r.round, method: r.method, emptyValue: r.emptyValue, grandValue: r.grandValue, values: r.values, ...(r.skipped ? { skipped: true } : {}) })),
      roundsValued: result.rounds.length,
    };
  }
  const report: ContributionReport = {
    ...base,
    available: true,
    values: summary.values,
    uncertainty: summary.uncertainty,
    indistinguishable: summary.indistinguishable,
    bootstrap: summary.bootstrap,
    about: { rewards: info.rewards, biases: info.biases, cites: info.cites },
    ...specific,
    evaluations: summary.evaluations,
    seconds: summary.seconds,
  };
  return options.rewardPool === undefined ? report : withShares(report, options.rewardPool);
}

/**
 * The report with the reward pool divided by its values under the agreement's rule (the
 * report's sharingRule unless one is given); unchanged when contributions are unavailable.
 */
export function withShares(report: ContributionReport, rewardPool: number, rule: SharingRule | undefined = report.sharingRule): ContributionReport {
  if (!report.available || !report.values) return report;
  const basisOf = (p: Participation) => (rule?.floor?.basis === 'rounds' ? p.rounds : p.examples);
  const basis = Object.fromEntries(report.participation.map((p) => [p.name, basisOf(p)]));
  return { ...report, shares: shareRewards(report.values, rewardPool, { ...(rule ? { rule } : {}), basis, ...(report.uncertainty ? { uncertainty: report.uncertainty } : {}) }) };
}
