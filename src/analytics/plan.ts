// What a query compiles to, the same on the coordinator and on every member (both compile
// it against the same consortium schema): a list of cells — counts and bounded sums — that
// each member fills from its own records, that secure aggregation adds up, and from whose
// totals the released statistics are computed. A cell's `bound` is the most one record can
// add to it (after clamping), and `touches` the most cells one record adds to: together they
// give the L2 sensitivity that DP noise is calibrated to (dp.ts).

import type { DataSchema } from '../data/schema/schema.js';
import type { HarmonisedRecord } from '../data/schema/validate.js';
import type { Query } from './query.js';

export interface CellPlan {
  key: string;
  /** count: integers; sum: fixed-point (fixed-point.ts). */
  kind: 'count' | 'sum';
  /** Largest |contribution| of one record to this cell. */
  bound: number;
}

export interface ReleasedValue {
  key: string;
  /** null when suppressed. */
  value: number | null;
  /** Why it is not released, e.g. "fewer than 10 records". */
  suppressed?: string;
}

/** How a chart draws the result (dashboard, report). */
export type Presentation =
  | { kind: 'histogram'; field: string; edges: number[]; counts: (number | null)[] }
  | { kind: 'survival'; times: number[]; survival: (number | null)[]; atRisk: (number | null)[] }
  | { kind: 'matrix'; statistic: 'covariance' | 'correlation'; fields: string[]; values: (number | null)[][] }
  | { kind: 'table'; rows: { field: string; values: string[] }; columns: { field: string; values: string[] }; counts: (number | null)[][] }
  | { kind: 'groups'; by: string; statistic: string; groups: string[]; values: (number | null)[] }
  | { kind: 'scalar' };

export interface ReleaseContext {
  /** Exact release: cells counting fewer records are suppressed. Null under DP (noise protects them). */
  minCount: number | null;
  /** Under DP: the standard deviation of each cell's noise. */
  noiseStd: Float64Array | null;
}

export interface Release {
  values: ReleasedValue[];
  presentation: Presentation;
}

export interface QueryPlan {
  query: Query;
  cells: CellPlan[];
  /** The most cells one record contributes to. */
  touches: number;
  /** Adds one record's contribution to `out` (one entry per cell). */
  contribute(record: HarmonisedRecord, out: Float64Array): void;
  /** The released statistics from the cell totals. */
  release(totals: Float64Array, context: ReleaseContext): Release;
}

export interface StatisticModule<Q extends Query = Query> {
  types: readonly Q['type'][];
  compile(query: Q, schema: DataSchema): QueryPlan;
}

/** "fewer than K records" when a cell is below the minimum count, else undefined. */
export function belowMinimum(count: number, context: ReleaseContext): string | undefined {
  if (context.minCount === null) return undefined;
  return count < context.minCount ? `fewer than ${context.minCount} records` : undefined;
}

export function released(key: string, value: number, suppressed: string | undefined): ReleasedValue {
  return suppressed ? { key, value: null, suppressed } : { key, value };
}
