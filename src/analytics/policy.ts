// What the cooperation agreement says about analytics, applied before any member is asked:
// forbidden query types are refused, DP can be required, the minimum count per released
// cell is at least the agreement's (a query may only raise it), and secure aggregation is
// required when the agreement requires it for aggregates.

import type { Agreement } from '../governance/agreement.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { Query } from './query.js';

/** Without an agreement clause: cells under 10 records are suppressed. */
export const DEFAULT_MIN_COUNT = 10;

export interface AnalyticsRules {
  forbiddenQueries: string[];
  requireDifferentialPrivacy: boolean;
  minCount: number;
  secureAggregationRequired: boolean;
  /** Fewest members whose data an aggregate may combine. */
  minContributors: number;
}

export function analyticsRules(agreement: Agreement | null): AnalyticsRules {
  return {
    forbiddenQueries: agreement?.analytics?.forbiddenQueries ?? [],
    requireDifferentialPrivacy: agreement?.analytics?.requireDifferentialPrivacy ?? false,
    minCount: agreement?.analytics?.minCount ?? DEFAULT_MIN_COUNT,
    secureAggregationRequired: agreement?.secureAggregation === 'required',
    minContributors: agreement?.minContributors ?? 1,
  };
}

/** Every clause the query breaks, at once; returns the minimum count that applies. */
export function assertQueryAllowed(query: Query, rules: AnalyticsRules): { minCount: number } {
  const problems: { clause: string; message: string }[] = [];
  if (rules.forbiddenQueries.includes(query.type)) problems.push({ clause: 'analytics.forbiddenQueries', message: `the agreement forbids ${query.type} queries` });
  if (rules.requireDifferentialPrivacy && !query.privacy) problems.push({ clause: 'analytics.requireDifferentialPrivacy', message: 'the agreement requires differential privacy for every released statistic; give privacy: { epsilon, delta }' });
  if (query.minCount !== undefined && query.minCount < rules.minCount) problems.push({ clause: 'analytics.minCount', message: `minCount ${query.minCount} is below the agreement's ${rules.minCount}; a query may only raise it` });
  if (rules.secureAggregationRequired && !query.secureAggregation) problems.push({ clause: 'secureAggregation', message: 'the agreement requires secure aggregation; the query sets secureAggregation: false' });
  if (problems.length > 0) {
    throw new ConcordError(ErrorCode.FORBIDDEN, `the agreement does not allow this query: ${problems.map((p) => `${p.clause}: ${p.message}`).join('; ')}`, { details: { field: problems[0]!.clause, violations: problems } });
  }
  return { minCount: Math.max(rules.minCount, query.minCount ?? 0) };
}
