// The federated-analytics query format: one JSON/YAML object whose `type` names the
// statistic, validated strictly (unknown keys refused with the closest one). Every numeric
// field a query reads is bounded — by the query's `bounds` or the schema's `range` — so that
// one record's contribution is bounded (values are clamped into the bounds, which is what
// makes the minimum-count rule meaningful and DP noise calibratable). A query without
// bounds for a field whose schema states no range is refused.
//
//   { "type": "mean", "field": "glucose" }
//   { "type": "histogram", "field": "age", "bins": { "low": 20, "high": 100, "count": 16 } }
//   { "type": "quantiles", "field": "bmi", "bins": { "edges": [10, 20, 25, 30, 40, 70] }, "probabilities": [0.5] }
//   { "type": "correlation", "fields": ["age", "systolic_bp", "glucose"] }
//   { "type": "contingency", "fields": ["sex", "smoker"] }
//   { "type": "groupby", "by": "smoker", "field": "cholesterol", "statistic": "mean" }
//   { "type": "survival", "time": "followup", "event": "event", "bins": { "low": 0, "high": 1825, "count": 12 } }
//   { "type": "summary", "fields": ["age", "sex", "glucose"] }
//   any of them with "privacy": { "epsilon": 1, "delta": 1e-6 } for a DP release.

import { z } from 'zod';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { type Problem, check, problemsError } from '../protocol/problems.js';
import { validateDocumentText } from '../protocol/document.js';
import type { QueryType } from './query-types.js';

const fieldName = z.string().min(1).max(128);
const bounds = z.tuple([z.number().finite(), z.number().finite()]);

export const BinsSchema = z.union([
  z.object({ edges: z.array(z.number().finite()).min(2).max(1001) }).strict(),
  z.object({ low: z.number().finite(), high: z.number().finite(), count: z.number().int().min(1).max(1000) }).strict(),
]);
export type Bins = z.infer<typeof BinsSchema>;

const PrivacySchema = z
  .object({
    epsilon: z.number().finite().positive(),
    delta: z.number().gt(0).lt(1),
  })
  .strict();

const common = {
  /** A name for the dashboard and the report. */
  name: z.string().min(1).max(200).optional(),
  /** DP release with this (ε, δ), charged to every contributing dataset's budget. */
  privacy: PrivacySchema.optional(),
  /** Exact cells with fewer records are suppressed; at least the agreement's minimum. */
  minCount: z.number().int().min(1).optional(),
  /** Sum members' contributions with SecAgg+ (the coordinator sees only totals). Default true. */
  secureAggregation: z.boolean().default(true),
};

const field = { field: fieldName, bounds: bounds.optional() };

export const QuerySchema = z.discriminatedUnion('type', [
  z.object({ ...common, type: z.literal('count'), field: fieldName.optional() }).strict(),
  z.object({ ...common, type: z.literal('sum'), ...field }).strict(),
  z.object({ ...common, type: z.literal('mean'), ...field }).strict(),
  z.object({ ...common, type: z.literal('variance'), ...field }).strict(),
  z.object({ ...common, type: z.literal('histogram'), field: fieldName, bins: BinsSchema }).strict(),
  z.object({ ...common, type: z.literal('quantiles'), field: fieldName, bins: BinsSchema, probabilities: z.array(z.number().gt(0).lt(1)).min(1).max(99).default([0.25, 0.5, 0.75]) }).strict(),
  z.object({ ...common, type: z.literal('minmax'), field: fieldName, bins: BinsSchema }).strict(),
  z.object({ ...common, type: z.literal('covariance'), fields: z.array(fieldName).min(2).max(32), bounds: z.record(fieldName, bounds).optional() }).strict(),
  z.object({ ...common, type: z.literal('correlation'), fields: z.array(fieldName).min(2).max(32), bounds: z.record(fieldName, bounds).optional() }).strict(),
  z.object({ ...common, type: z.literal('contingency'), fields: z.tuple([fieldName, fieldName]) }).strict(),
  z.object({ ...common, type: z.literal('groupby'), by: fieldName, ...field, statistic: z.enum(['count', 'sum', 'mean', 'variance']) }).strict(),
  z.object({ ...common, type: z.literal('survival'), time: fieldName, event: fieldName, bins: BinsSchema }).strict(),
  /** Per field: count, mean, variance and std of a numeric one, level counts of a categorical one (what harmonised preprocessing needs). */
  z.object({ ...common, type: z.literal('summary'), fields: z.array(fieldName).min(1).max(256), bounds: z.record(fieldName, bounds).optional() }).strict(),
]);
export type Query = z.output<typeof QuerySchema>;
export type QueryOf<T extends QueryType> = Extract<Query, { type: T }>;

/** Validates a query value; every problem at once. */
export function parseQuery(value: unknown): Query {
  const checked = check(QuerySchema, value);
  if (!checked.ok) throw problemsError('analytics query', checked.problems);
  return checked.value;
}

/** Parses query text (JSON or YAML), naming `source` and positions in problems. */
export function parseQueryText(text: string, source: string): Query {
  return validateDocumentText(QuerySchema, text, { source });
}

/** The edges of agreed bins, strictly increasing. */
export function binEdges(bins: Bins, where = 'bins'): number[] {
  let edges: number[];
  if ('edges' in bins) edges = [...bins.edges];
  else {
    if (!(bins.high > bins.low)) throw queryError(`${where}.high`, `> ${bins.low}`, bins.high, `${where}: high must exceed low`);
    edges = Array.from({ length: bins.count + 1 }, (_, i) => (i === bins.count ? bins.high : bins.low + ((bins.high - bins.low) * i) / bins.count));
  }
  for (let i = 1; i < edges.length; i++) if (!(edges[i]! > edges[i - 1]!)) throw queryError(`${where}.edges`, 'strictly increasing edges', edges, `${where}: edges must increase strictly`);
  return edges;
}

export function queryError(field: string, expected: unknown, received: unknown, message: string): ConcordError {
  return new ConcordError(ErrorCode.INVALID_ARGUMENT, `analytics query: ${message}`, { details: { field, expected, received } });
}

export type { Problem };
