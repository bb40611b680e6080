// The analytics_queries row as both backends store it, and the errors of AnalyticsStore.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { AnalyticsQueryRecord, AnalyticsStatus } from './storage.js';

export interface AnalyticsRow {
  id: string;
  query: string;
  submitted_by: string;
  status: string;
  result: string | null;
  error: string | null;
  created_at: number | string;
  updated_at: number | string;
}

export function toAnalyticsRecord(row: AnalyticsRow): AnalyticsQueryRecord {
  return {
    queryId: row.id,
    query: JSON.parse(row.query) as Record<string, unknown>,
    submittedBy: row.submitted_by,
    status: row.status as AnalyticsStatus,
    result: row.result === null ? null : (JSON.parse(row.result) as Record<string, unknown>),
    error: row.error,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function analyticsQueryNotFound(queryId: string): ConcordError {
  return new ConcordError(ErrorCode.NOT_FOUND, `no analytics query ${queryId}`, { details: { field: 'queryId', received: queryId } });
}

export function analyticsQueryClosed(queryId: string, status: string): ConcordError {
  return new ConcordError(ErrorCode.CONFLICT, `analytics query ${queryId} is ${status}, no longer running`, { details: { field: 'status', expected: 'running', received: status } });
}
