// Histograms over agreed bins, and what is read from them: quantiles (the median among
// them) by linear interpolation inside the bin where the cumulative count crosses p·N, and
// — only under DP — the minimum and maximum as the outer edges of the lowest and highest bin
// whose noised count clears three noise standard deviations. Values are clamped into the
// outer edges, so every record falls in exactly one bin (one cell).

import type { DataSchema } from '../../data/schema/schema.js';
import { numericField } from '../fields.js';
import { type QueryPlan, type ReleasedValue, type StatisticModule, belowMinimum, released } from '../plan.js';
import { type QueryOf, binEdges, queryError } from '../query.js';

type BinQuery = QueryOf<'histogram' | 'quantiles' | 'minmax'>;

export function binOf(edges: readonly number[], v: number): number {
  let lo = 0;
  let hi = edges.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (v >= edges[mid]!) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The p-quantile from bin counts: linear inside the bin where the cumulative count reaches p·N. */
export function quantileFromCounts(edges: readonly number[], counts: readonly number[], p: number): { value: number; bin: number } {
  const total = counts.reduce((a, b) => a + b, 0);
  const target = p * total;
  let cumulative = 0;
  for (let j = 0; j < counts.length; j++) {
    const c = counts[j]!;
    if (c > 0 && cumulative + c >= target) return { value: edges[j]! + ((target - cumulative) / c) * (edges[j + 1]! - edges[j]!), bin: j };
    cumulative += c;
  }
  return { value: edges[edges.length - 1]!, bin: counts.length - 1 };
}

export const binStatistics: StatisticModule<BinQuery> = {
  types: ['histogram', 'quantiles', 'minmax'],
  compile(query: BinQuery, schema: DataSchema): QueryPlan {
    const edges = binEdges(query.bins);
    if (query.type === 'minmax' && !query.privacy) {
      throw queryError('privacy', '{ epsilon, delta }', undefined, 'min and max are released only with differential privacy: an exact minimum or maximum is one record’s value');
    }
    const x = numericField(schema, query.field, 'field', [edges[0]!, edges[edges.length - 1]!]);
    const k = edges.length - 1;
    const cells = Array.from({ length: k }, (_, j) => ({ key: `bin[${j}]`, kind: 'count' as const, bound: 1 }));
    return {
      query,
      cells,
      touches: 1,
      contribute(record, out) {
        const v = x.read(record[x.name]);
        if (v !== null) out[binOf(edges, v)]! += 1;
      },
      release(totals, context) {
        const counts = Array.from(totals);
        if (query.type === 'histogram') {
          const values = counts.map((c, j) => released(`bin[${j}]`, c, belowMinimum(c, context)));
          return { values, presentation: { kind: 'histogram', field: x.name, edges, counts: values.map((v) => v.value) } };
        }
        const clean = counts.map((c) => Math.max(0, c));
        if (query.type === 'quantiles') {
          const values: ReleasedValue[] = query.probabilities.map((p) => {
            const q = quantileFromCounts(edges, clean, p);
            return released(`q${p}`, q.value, belowMinimum(counts[q.bin]!, context) && `the bin holding it has ${belowMinimum(counts[q.bin]!, context)}`);
          });
          return { values, presentation: { kind: 'scalar' } };
        }
        const clear = counts.map((c, j) => c > 3 * (context.noiseStd?.[j] ?? 0));
        const first = clear.indexOf(true);
        const last = clear.lastIndexOf(true);
        const none = 'no bin’s noised count clears three noise standard deviations';
        return {
          values: [first < 0 ? { key: 'min', value: null, suppressed: none } : { key: 'min', value: edges[first]! }, last < 0 ? { key: 'max', value: null, suppressed: none } : { key: 'max', value: edges[last + 1]! }],
          presentation: { kind: 'scalar' },
        };
      },
    };
  },
};
