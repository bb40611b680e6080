// Everything the report of one run shows, gathered from storage in one JSON document:
// accuracy per round (global and per member), the plan next to its execution, privacy
// spent per dataset after each round, contributions and benefit shares, and the energy
// and CO₂ footprint. GET /v1/runs/:id/report serves it; `concord report` renders it
// (report/html.ts) from the coordinator or straight from a database file.

import { epsilonOf } from '../privacy/dp/charges.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { RoundSummary, RunRecord, RunStore, MemberStore } from '../storage/storage.js';
import type { GovernanceStore } from '../storage/storage.js';
import { runContributions, type ContributionOptions, type ContributionReport, type ValidationScorer } from './contributions.js';
import { footprintOptionsOf, runFootprint, type RunFootprint } from './footprint.js';
import { agreementOfRun } from './run-agreement.js';
import { planExecution, type PlanExecution } from './plan-policy.js';

export interface MemberAccuracy {
  name: string;
  /** Holdout accuracy the member reported for each round's global model, when it evaluated. */
  points: { round: number; accuracy: number }[];
}

export interface PrivacySpend {
  datasetId: string;
  delta: number;
  /** ε of this dataset after each round of this run that charged it (earlier runs included). */
  points: { round: number; epsilon: number }[];
}

export interface RunReport {
  run: RunRecord;
  generatedAt: number;
  rounds: RoundSummary[];
  memberAccuracy: MemberAccuracy[];
  plan: PlanExecution | null;
  privacy: PrivacySpend[];
  contributions: ContributionReport | null;
  footprint: RunFootprint;
}

export interface RunReportOptions {
  /** Accuracy (or per-example correctness) on the validation set, for contributions; null when there is none. */
  accuracy: ValidationScorer | null;
  /** Contribution settings, or false to leave contributions out. */
  contributions?: ContributionOptions | false;
}

export async function collectRunReport(storage: RunStore & Pick<MemberStore, 'listMembers'> & Partial<Pick<GovernanceStore, 'listAgreementVersions'>>, runId: string, options: RunReportOptions): Promise<RunReport> {
  const run = await storage.getRun(runId);
  if (!run) throw new ConcordError(ErrorCode.NOT_FOUND, `no run ${runId}`, { details: { field: 'runId', received: runId } });
  const [rounds, rows, members] = await Promise.all([storage.listRounds(runId), storage.listMemberMetrics(runId), storage.listMembers()]);
  const nameOf = (id: string) => members.find((m) => m.memberId === id)?.name ?? id;

  const accuracy = new Map<string, MemberAccuracy>();
  for (const row of rows) {
    if (row.phase !== 'evaluate' || typeof row.metrics.accuracy !== 'number') continue;
    const name = nameOf(row.memberId);
    const entry = accuracy.get(name) ?? { name, points: [] };
    entry.points.push({ round: row.round, accuracy: row.metrics.accuracy });
    accuracy.set(name, entry);
  }

  return {
    run,
    generatedAt: Date.now(),
    rounds,
    memberAccuracy: [...accuracy.values()].sort((a, b) => a.name.localeCompare(b.name)),
    plan: await planExecution(run.config, rows, nameOf),
    privacy: await privacySpend(storage, run),
    contributions: options.contributions === false ? null : await runContributions(storage, runId, options.accuracy, options.contributions ?? {}),
    footprint: runFootprint(rows, members, footprintOptionsOf(await agreementOfRun(storage, run))),
  };
}

async function privacySpend(storage: Pick<RunStore, 'listPrivacyCharges'>, run: RunRecord): Promise<PrivacySpend[]> {
  const dp = run.config.differentialPrivacy;
  if (!dp) return [];
  const all = await storage.listPrivacyCharges();
  const datasets = [...new Set(all.filter((c) => c.runId === run.runId).map((c) => c.datasetId))].sort();
  return datasets.map((datasetId) => {
    const memberName = datasetId.split('/')[0]!;
    const delta = (dp.budgets[memberName] ?? dp.budget).delta;
    const history = all.filter((c) => c.datasetId === datasetId);
    const rounds = [...new Set(history.filter((c) => c.runId === run.runId).map((c) => c.round))].sort((a, b) => a - b);
    // Charges are listed in commit order, so everything up to this run's round-t charge was spent by then.
    const points = rounds.map((round) => {
      const last = history.findLastIndex((c) => c.runId === run.runId && c.round === round);
      return { round, epsilon: epsilonOf(history.slice(0, last + 1), delta) };
    });
    return { datasetId, delta, points };
  });
}
