// Contributions of a run's members, from what the coordinator stored: the global model
// before each round (the previous checkpoint) and every member's update of the round
// (kept when the run's keepUpdates is on). The utility is the accuracy of a coalition's
// FedAvg model on the coordinator's validation set, the `--eval-data` set it also uses
// for server-side evaluation; see valuation/federated.ts for the round-wise Shapley value.
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
import type { MemberStore, RunStore } from '../storage/storage.js';
import { shareRewards, type BenefitShares } from '../valuation/benefit-sharing.js';
import { valueRun, type RunValuation, type ValuationMethod, type ValuationRound } from '../valuation/federated.js';
import { VALUATION_METHODS } from '../valuation/methods.js';

/** Whether a run stores members' updates: its keepUpdates, by default on unless updates are secret (the run compiler refuses both at once). */
export function keepsUpdates(config: Pick<RunConfig, 'keepUpdates' | 'secureAggregation'>): boolean {
  return !config.secureAggregation && (config.keepUpdates ?? true);
}

export interface ContributionOptions {
  /** Default 'auto': exact Shapley values for rounds of at most 10 members, Monte Carlo beyond. */
  method?: (typeof VALUATION_METHODS)[number];
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
  method?: RunValuation['method'];
  /** φ_i by member name: accuracy points (as a fraction) the member added, summed over rounds. */
  values?: Record<string, number>;
  standardErrors?: Record<string, number> | null;
  perRound?: { round: number; method: ValuationMethod; emptyValue: number; grandValue: number; values: Record<string, number> }[];
  shares?: BenefitShares;
  participation: Participation[];
  utility: string;
  roundsValued?: number;
  evaluations?: number;
  seconds?: number;
}

export const UTILITY_DESCRIPTION =
  'round-wise Shapley (Wang et al. 2020): v_t(S) = validation accuracy of FedAvg(θ_{t−1}; updates of S in round t), φ_i = Σ_t φ_i^t; validation set = the coordinator\'s --eval-data set';

export async function runContributions(
  storage: RunStore & Pick<MemberStore, 'listMembers'>,
  runId: string,
  /** Accuracy on the validation set; null when the coordinator has none. */
  accuracy: ((config: RunConfig, parameters: Parameters) => Promise<number>) | null,
  options: ContributionOptions = {},
): Promise<ContributionReport> {
  const run = await storage.getRun(runId);
  if (!run) throw new ConcordError(ErrorCode.NOT_FOUND, `no run ${runId}`, { details: { field: 'runId', received: runId } });
  if (options.method !== undefined && !(VALUATION_METHODS as readonly string[]).includes(options.method)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `method must be one of ${VALUATION_METHODS.join(', ')}, got ${JSON.stringify(options.method)}`, {
      details: { field: 'method', expected: VALUATION_METHODS, received: options.method },
    });
  }
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
  const base = { runId, participation: [...participation.values()], utility: UTILITY_DESCRIPTION };
  const unavailable = (reason: string): ContributionReport => ({ ...base, available: false, reason });

  if (run.config.secureAggregation) {
    return unavailable(
      'the run used secure aggregation: the coordinator only ever saw the sum of each round\'s updates, never an individual one, so no coalition smaller than the whole round can be evaluated. Known instead: each member\'s rounds and examples (participation). Sub-coalition sums from the secure-aggregation protocol itself would be needed (future work).',
    );
  }
  if (!keepsUpdates(run.config)) return unavailable('the run did not keep members\' updates (keepUpdates: false), so coalitions cannot be rebuilt');
  if (!accuracy) return unavailable('the coordinator has no validation set: start it with --eval-data to value contributions');
  if (rounds.length === 0) return unavailable('the run has no completed round yet');

  const valued = options.lastRounds !== undefined ? rounds.slice(-Math.max(1, options.lastRounds)) : rounds;
  async function* load(): AsyncGenerator<ValuationRound> {
    for (const r of valued) {
      // Rounds whose updates the coordinator's retention policy dropped cannot be valued; the
      // policy keeps the checkpoint before every round whose updates it keeps.
      const updates = await storage.listMemberUpdates(runId, r.round);
      if (updates.length === 0) continue;
      const previous = r.round === 1 ? await storage.getInitialParameters(runId) : (await storage.getCheckpoint(runId, r.round - 1))?.parameters;
      if (!previous) throw new ConcordError(ErrorCode.STORAGE, `run ${runId} has no global model before round ${r.round}`);
      yield { round: r.round, previous, updates: updates.map((u) => ({ member: nameOf(u.memberId), numExamples: u.numExamples, parameters: u.parameters })) };
    }
  }
  const valuation = await valueRun(load(), {
    utility: (p) => accuracy(run.config, p),
    method: options.method ?? 'auto',
    ...(options.permutations !== undefined ? { permutations: options.permutations } : {}),
    ...(options.truncationTolerance !== undefined ? { truncationTolerance: options.truncationTolerance } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : { seed: run.config.seed }),
  });
  if (valuation.rounds.length === 0) return unavailable('no member updates are stored for this run (it ran before updates were kept, or the retention policy dropped them)');
  const report: ContributionReport = {
    ...base,
    available: true,
    method: valuation.method,
    values: valuation.values,
    standardErrors: valuation.standardErrors,
    perRound: valuation.rounds.map((r) => ({ round: r.round, method: r.method, emptyValue: r.emptyValue, grandValue: r.grandValue, values: r.values })),
    roundsValued: valuation.rounds.length,
    evaluations: valuation.evaluations,
    seconds: valuation.seconds,
  };
  return options.rewardPool === undefined ? report : withShares(report, options.rewardPool);
}

/** The report with the reward pool divided by its values (unchanged when contributions are unavailable). */
export function withShares(report: ContributionReport, rewardPool: number): ContributionReport {
  if (!report.available || !report.values) return report;
  return { ...report, shares: shareRewards(report.values, rewardPool) };
}
