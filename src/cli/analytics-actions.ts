// What `concord analytics …` does (registered in analytics-commands.ts).

import { writeFile } from 'node:fs/promises';
import { approveQuery, QueryApprovalSchema } from '../analytics/approval.js';
import { QuerySchema } from '../analytics/query.js';
import { loadIdentity } from '../governance/identity.js';
import type { AnalyticsResult } from '../analytics/release.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { AnalyticsQueryRecord } from '../storage/storage.js';
import { operatorRequest, operatorToken } from './operator-api.js';
import { coordinatorUrl, readConfigFile } from './options.js';
import type { Conn } from './run-commands.js';

function describe(record: AnalyticsQueryRecord): string {
  if (record.status !== 'completed') return `${record.queryId} ${String(record.query.type)}: ${record.status}${record.error ? ` (${record.error})` : ''}`;
  const result = record.result as unknown as AnalyticsResult;
  const how = result.exact ? `exact, cells under ${result.minCount} records suppressed` : `DP ε=${result.privacy!.epsilon} δ=${result.privacy!.delta}`;
  const lines = result.values.map((v) => `  ${v.key.padEnd(28)} ${v.value === null ? `suppressed (${v.suppressed})` : v.value}`);
  return [`${record.queryId} ${result.type}: ${result.contributors} members, ${result.secureAggregation ? 'secure aggregation' : 'no secure aggregation'}, ${how}`, ...lines].join('\n');
}

export async function runAnalytics(opts: Conn & { query: string; approval?: string[] }): Promise<void> {
  const query = await readConfigFile(opts.query, '--query', QuerySchema);
  const approvals = await Promise.all((opts.approval ?? []).map((file) => readConfigFile(file, '--approval', QueryApprovalSchema)));
  const { query: record } = await operatorRequest<{ query: AnalyticsQueryRecord }>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), 'POST', '/v1/analytics', approvals.length > 0 ? { query, approvals } : query);
  process.stdout.write(opts.json ? `${JSON.stringify(record)}\n` : `${describe(record)}\n`);
  if (record.status === 'failed') throw new ConcordError(ErrorCode.UNAVAILABLE, `query ${record.queryId} failed: ${record.error}`, { details: { field: 'query', received: record.queryId } });
}

/** A data owner's signed decision on a query, made offline: no coordinator is asked. */
export async function approveAnalytics(opts: { query: string; member: string; identity: string; reject?: boolean; reason?: string; out?: string; json?: boolean }): Promise<void> {
  const query = await readConfigFile(opts.query, '--query', QuerySchema);
  const approval = approveQuery(query, { member: opts.member, identity: await loadIdentity(opts.identity) }, { decision: opts.reject ? 'reject' : 'approve', ...(opts.reason ? { reason: opts.reason } : {}) });
  const text = `${JSON.stringify(approval, null, 2)}\n`;
  if (!opts.out) return void process.stdout.write(text);
  await writeFile(opts.out, text);
  process.stdout.write(opts.json ? `${JSON.stringify({ out: opts.out, queryHash: approval.queryHash, member: approval.member, decision: approval.decision })}\n` : `${approval.decision === 'approve' ? 'approved' : 'rejected'} query ${approval.queryHash.slice(0, 12)}… for ${opts.member}; pass ${opts.out} to "concord analytics run --approval"\n`);
}

export async function listAnalytics(opts: Conn): Promise<void> {
  const { queries } = await operatorRequest<{ queries: AnalyticsQueryRecord[] }>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), 'GET', '/v1/analytics');
  process.stdout.write(opts.json ? `${JSON.stringify({ queries })}\n` : `${queries.map((q) => `${q.queryId}  ${String(q.query.type).padEnd(12)} ${q.status}`).join('\n')}\n`);
}

export async function showAnalytics(queryId: string, opts: Conn): Promise<void> {
  const { query } = await operatorRequest<{ query: AnalyticsQueryRecord }>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), 'GET', `/v1/analytics/${encodeURIComponent(queryId)}`);
  process.stdout.write(opts.json ? `${JSON.stringify(query)}\n` : `${describe(query)}\n`);
}

export async function analyticsReport(opts: Conn & { out: string }): Promise<void> {
  const { renderAnalyticsReport } = await import('../report/analytics-html.js');
  const { queries } = await operatorRequest<{ queries: AnalyticsQueryRecord[] }>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), 'GET', '/v1/analytics');
  await writeFile(opts.out, renderAnalyticsReport(queries));
  process.stdout.write(opts.json ? `${JSON.stringify({ out: opts.out, queries: queries.length })}\n` : `wrote ${queries.length} queries to ${opts.out}\n`);
}
