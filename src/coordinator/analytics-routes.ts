// The analytics API: POST /v1/analytics runs a query (scope analytics:query; the body is the
// query, or { query, approvals } with its data owners' signed approvals) and answers with
// its stored record — completed with the released result, or failed with the reason; a
// query refused before it runs (format, agreement, budget, too few members) is an error
// response naming every problem. GET /v1/analytics lists queries, GET /v1/analytics/:id one,
// GET /v1/analytics/report all of them as a self-contained HTML report (report/analytics-html.ts).

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Scope } from '../governance/roles.js';
import { z } from 'zod';
import { QueryApprovalSchema, type QueryApproval } from '../analytics/approval.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { parseMessage } from '../protocol/messages.js';
import type { AnalyticsStore } from '../storage/storage.js';
import type { AnalyticsService } from './analytics-service.js';
import { renderAnalyticsReport } from '../report/analytics-html.js';

export interface AnalyticsRouteOptions {
  service: AnalyticsService;
  storage: AnalyticsStore;
  authorize: (request: FastifyRequest, scope: Scope) => Promise<{ actor: string }>;
  /** Aborts queries in flight when the coordinator shuts down. */
  signal: AbortSignal;
}

/** The body: the query itself, or { query, approvals } with data owners' signed approvals. */
function parseSubmission(body: unknown): { query: unknown; approvals: QueryApproval[] } {
  if (!body || typeof body !== 'object' || !('query' in body)) return { query: body, approvals: [] };
  const { query, approvals, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `unknown key "${unknown[0]}" next to query; expected only query and approvals`, { details: { field: unknown[0], expected: ['query', 'approvals'] } });
  return { query, approvals: approvals === undefined ? [] : parseMessage(z.array(QueryApprovalSchema).max(1000), approvals, 'approvals') };
}

export function registerAnalyticsRoutes(app: FastifyInstance, options: AnalyticsRouteOptions): void {
  const { service, storage, authorize } = options;
  app.post('/v1/analytics', async (request) => {
    const caller = await authorize(request, 'analytics:query');
    const { query, approvals } = parseSubmission(request.body);
    return { query: await service.run(query, caller.actor, options.signal, approvals) };
  });
  app.get('/v1/analytics', async (request) => {
    await authorize(request, 'runs:read');
    return { queries: await storage.listAnalyticsQueries() };
  });
  app.get('/v1/analytics/report', async (request, reply) => {
    await authorize(request, 'runs:read');
    return reply.type('text/html; charset=utf-8').send(renderAnalyticsReport(await storage.listAnalyticsQueries()));
  });
  app.get<{ Params: { queryId: string } }>('/v1/analytics/:queryId', async (request) => {
    await authorize(request, 'runs:read');
    const record = await storage.getAnalyticsQuery(request.params.queryId);
    if (!record) throw new ConcordError(ErrorCode.NOT_FOUND, `no analytics query ${request.params.queryId}`, { details: { field: 'queryId', received: request.params.queryId } });
    return { query: record };
  });
}
