// The operator's read-outs of a run beyond its rounds: contributions and benefit shares,
// energy and CO₂, the plan against its execution, and the whole report. Valuing
// contributions evaluates many coalition models, so one valuation runs at a time and a
// finished run's result is kept for the next request.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { ModelSummary } from '../model/summary.js';
import type { Storage } from '../storage/storage.js';
import { valuationMethod } from '../valuation/methods.js';
import { runContributions, withShares, type ContributionOptions, type ContributionReport, type ValidationScorer } from './contributions.js';
import { footprintOptionsOf, runFootprint } from './footprint.js';
import { agreementOfRun } from './run-agreement.js';
import { planExecution } from './plan-policy.js';
import { numberParam, type Query } from './query.js';
import { collectRunReport, type RunReport } from './run-report.js';

export interface InsightRouteOptions {
  storage: Storage;
  /** Throws unless the caller may read runs. */
  authorize: (request: FastifyRequest) => Promise<void>;
  /** Validation accuracy (or per-example correctness) of a model, for contributions; absent when the coordinator has no validation set. */
  accuracy?: ValidationScorer;
}

/** Contribution settings from a query string: method, rewardPool, permutations, truncationTolerance, seed, lastRounds, bootstrap. */
export function contributionQuery(query: Query): ContributionOptions {
  const method = query.method === undefined ? undefined : valuationMethod(query.method);
  const rewardPool = numberParam(query, 'rewardPool', (n) => Number.isFinite(n) && n >= 0, 'a number >= 0');
  const permutations = numberParam(query, 'permutations', (n) => Number.isInteger(n) && n >= 1 && n <= 100_000, 'an integer in [1, 100000]');
  const seed = numberParam(query, 'seed', Number.isSafeInteger, 'an integer');
  const truncationTolerance = numberParam(query, 'truncationTolerance', (n) => Number.isFinite(n) && n >= 0 && n < 1, 'a number in [0, 1)');
  const lastRounds = numberParam(query, 'lastRounds', (n) => Number.isInteger(n) && n >= 1, 'an integer >= 1');
  const bootstrap = numberParam(query, 'bootstrap', (n) => Number.isInteger(n) && n >= 0 && n <= 10_000, 'an integer in [0, 10000]');
  return {
    ...(method !== undefined ? { method } : {}),
    ...(rewardPool !== undefined ? { rewardPool } : {}),
    ...(permutations !== undefined ? { permutations } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(truncationTolerance !== undefined ? { truncationTolerance } : {}),
    ...(lastRounds !== undefined ? { lastRounds } : {}),
    ...(bootstrap !== undefined ? { bootstrap } : {}),
  };
}

export function registerInsightRoutes(app: FastifyInstance, options: InsightRouteOptions): void {
  const { storage, authorize } = options;
  const accuracy = options.accuracy ?? null;
  const cache = new Map<string, ContributionReport>();
  let queue: Promise<unknown> = Promise.resolve();

  const runOf = async (runId: string) => {
    const run = await storage.getRun(runId);
    if (!run) throw new ConcordError(ErrorCode.NOT_FOUND, `no run ${runId}`, { details: { field: 'runId', received: runId } });
    return run;
  };

  /** One valuation at a time; a finished run's valuation is remembered (it cannot change). */
  async function contributions(runId: string, settings: ContributionOptions): Promise<ContributionReport> {
    const run = await runOf(runId);
    const { rewardPool: _pool, ...valuation } = settings;
    const key = `${runId} ${JSON.stringify(valuation)}`;
    const finished = run.status === 'completed' || run.status === 'failed' || run.status === 'stopped';
    const compute = async (): Promise<ContributionReport> => {
      const hit = cache.get(key);
      if (hit && finished) return hit;
      const report = await runContributions(storage, runId, accuracy, valuation);
      if (finished && report.available) cache.set(key, report);
      return report;
    };
    const result = queue.then(compute, compute);
    queue = result.catch(() => undefined);
    const report = await result;
    if (settings.rewardPool === undefined || !report.available) return report;
    // Shares are cheap: computed for each request's pool from the (possibly cached) values.
    return withShares(report, settings.rewardPool);
  }

  app.get<{ Params: { runId: string }; Querystring: Query }>('/v1/runs/:runId/contributions', async (request) => {
    await authorize(request);
    return contributions(request.params.runId, contributionQuery(request.query));
  });

  // The model's family and layers; built once per run (specs do not change).
  const summaries = new Map<string, ModelSummary>();
  app.get<{ Params: { runId: string } }>('/v1/runs/:runId/architecture', async (request) => {
    await authorize(request);
    const run = await runOf(request.params.runId);
    let summary = summaries.get(run.runId);
    if (!summary) {
      const { summarizeModel } = await import('../model/summary.js');
      summary = summarizeModel(run.config.model);
      summaries.set(run.runId, summary);
    }
    return summary;
  });

  app.get<{ Params: { runId: string } }>('/v1/runs/:runId/footprint', async (request) => {
    await authorize(request);
    const run = await runOf(request.params.runId);
    return runFootprint(await storage.listMemberMetrics(run.runId), await storage.listMembers(), footprintOptionsOf(await agreementOfRun(storage, run)));
  });

  app.get<{ Params: { runId: string } }>('/v1/runs/:runId/plan', async (request) => {
    await authorize(request);
    const run = await runOf(request.params.runId);
    const members = await storage.listMembers();
    const nameOf = (id: string) => members.find((m) => m.memberId === id)?.name ?? id;
    return { plan: await planExecution(run.config, await storage.listMemberMetrics(run.runId), nameOf) };
  });

  async function report(runId: string, query: Query): Promise<RunReport> {
    const skip = query.contributions === 'false' || query.contributions === '0';
    const settings = contributionQuery(query);
    const collected = await collectRunReport(storage, runId, { accuracy, contributions: false });
    return { ...collected, contributions: skip ? null : await contributions(runId, settings) };
  }

  app.get<{ Params: { runId: string }; Querystring: Query }>('/v1/runs/:runId/report', async (request) => {
    await authorize(request);
    return report(request.params.runId, request.query);
  });

  // The same report as the self-contained page `concord report` writes (the dashboard's Report button).
  app.get<{ Params: { runId: string }; Querystring: Query }>('/v1/runs/:runId/report.html', async (request, reply) => {
    await authorize(request);
    const { renderRunReport } = await import('../report/html.js');
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(renderRunReport(await report(request.params.runId, request.query)));
  });
}
