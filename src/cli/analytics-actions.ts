// What `concord analytics …` does (registered in analytics-commands.ts).

import { QuerySchema } from '../analytics/query.js';
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

export async function runAnalytics(opts: Conn & { query: string }): Promise<void> {
  const query = await readConfigFile(opts.query, '--query', QuerySchema);
  const { query: record } = await operatorRequest<{ query: AnalyticsQueryRecord }>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), 'POST', '/v1/analytics', query);
  process.stdout.write(opts.json ? `${JSON.stringify(record)}\n` : `${describe(record)}\n`);
  if (record.status === 'failed') throw new ConcordError(ErrorCode.UNAVAILABLE, `query ${record.queryId} failed: ${record.error}`, { details: { field: 'query', received: record.queryId } });
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
  const { writeFile } = await import('node:fs/promises');
  const { renderAnalyticsReport } = await import('../report/analytics-html.js');
  const { queries } = await operatorRequest<{ queries: AnalyticsQueryRecord[] }>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), 'GET', '/v1/analytics');
  await writeFile(opts.out, renderAnalyticsReport(queries));
  process.stdout.write(opts.json ? `${JSON.stringify({ out: opts.out, queries: queries.length })}\n` : `wrote ${queries.length} queries to ${opts.out}\n`);
}
