// Counts, sums, means and variances — overall or per level of a categorical field
// (group-by). Cells per group: n (records with the value), Σx and Σx² of the clamped values;
// a record adds to one group's three cells. Variance is the sample variance
// (Σx² − (Σx)²/n)/(n − 1).

import type { DataSchema } from '../../data/schema/schema.js';
import { categoricalField, numericField, type NumericField } from '../fields.js';
import { type CellPlan, type QueryPlan, type ReleasedValue, type StatisticModule, belowMinimum, released } from '../plan.js';
import type { QueryOf } from '../query.js';

type MomentQuery = QueryOf<'count' | 'sum' | 'mean' | 'variance' | 'groupby'>;

function momentCells(prefix: string, x: NumericField | null, withSquares: boolean): CellPlan[] {
  const cells: CellPlan[] = [{ key: `${prefix}n`, kind: 'count', bound: 1 }];
  if (x) cells.push({ key: `${prefix}sum`, kind: 'sum', bound: x.magnitude });
  if (x && withSquares) cells.push({ key: `${prefix}sumsq`, kind: 'sum', bound: x.magnitude ** 2 });
  return cells;
}

/** mean, sum, variance, std from (n, Σx, Σx²). */
export function moments(n: number, sum: number, sumsq: number): { mean: number; variance: number } {
  const mean = sum / n;
  const variance = n > 1 ? Math.max(0, (sumsq - (sum * sum) / n) / (n - 1)) : NaN;
  return { mean, variance };
}

function statisticsOf(statistic: 'count' | 'sum' | 'mean' | 'variance', prefix: string, n: number, sum: number, sumsq: number, suppressed: string | undefined): ReleasedValue[] {
  const out: ReleasedValue[] = [released(`${prefix}count`, n, suppressed)];
  if (statistic === 'sum') out.push(released(`${prefix}sum`, sum, suppressed));
  if (statistic === 'mean' || statistic === 'variance') out.push(released(`${prefix}mean`, sum / n, suppressed));
  if (statistic === 'variance') {
    const { variance } = moments(n, sum, sumsq);
    out.push(released(`${prefix}variance`, variance, suppressed), released(`${prefix}std`, Math.sqrt(variance), suppressed));
  }
  return out;
}

export const momentStatistics: StatisticModule<MomentQuery> = {
  types: ['count', 'sum', 'mean', 'variance', 'groupby'],
  compile(query: MomentQuery, schema: DataSchema): QueryPlan {
    const statistic = query.type === 'groupby' ? query.statistic : query.type;
    const x = query.type === 'count' ? (query.field ? numericOrAny(schema, query.field) : null) : numericField(schema, query.field, 'field', query.bounds);
    const numeric = x && statistic !== 'count' ? x : null;
    const squares = statistic === 'variance';
    const group = query.type === 'groupby' ? categoricalField(schema, query.by, 'by') : null;
    const prefixes = group ? group.levels.map((l) => `${group.name}=${l}.`) : [''];
    const cells = prefixes.flatMap((p) => momentCells(p, numeric, squares));
    const width = cells.length / prefixes.length;
    return {
      query,
      cells,
      touches: width,
      contribute(record, out) {
        let at = 0;
        if (group) {
          const g = group.read(record[group.name]);
          if (g === null) return;
          at = g * width;
        }
        const present = x === null ? true : record[x.name] !== null && record[x.name] !== undefined;
        if (!present) return;
        out[at]! += 1;
        if (numeric) {
          const v = numeric.read(record[numeric.name])!;
          out[at + 1]! += v;
          if (squares) out[at + 2]! += v * v;
        }
      },
      release(totals, context) {
        const values = prefixes.flatMap((p, g) => {
          const n = totals[g * width]!;
          const sum = numeric ? totals[g * width + 1]! : 0;
          const sumsq = squares ? totals[g * width + 2]! : 0;
          return statisticsOf(statistic, p, n, sum, sumsq, belowMinimum(n, context));
        });
        if (!group) return { values, presentation: { kind: 'scalar' } };
        const main = statistic === 'count' ? 'count' : statistic;
        return {
          values,
          presentation: { kind: 'groups', by: group.name, statistic: main, groups: group.levels, values: group.levels.map((l) => values.find((v) => v.key === `${group.name}=${l}.${main}`)?.value ?? null) },
        };
      },
    };
  },
};

/** A count may name any field: it counts records where that field is present. */
function numericOrAny(schema: DataSchema, name: string): NumericField | null {
  if (!schema.fields.some((f) => f.name === name)) return numericField(schema, name, 'field');
  return { name, low: 0, high: 0, magnitude: 0, read: () => null };
}
