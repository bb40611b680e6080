// Covariance and correlation matrices over complete cases (records with every listed field
// present): cells n, Σx_i and Σx_i·x_j (i ≤ j); and contingency tables of two categorical
// fields: one count cell per pair of levels.

import type { DataSchema } from '../../data/schema/schema.js';
import { categoricalField, numericField } from '../fields.js';
import { type CellPlan, type QueryPlan, type ReleasedValue, type StatisticModule, belowMinimum, released } from '../plan.js';
import { type QueryOf, queryError } from '../query.js';

type MatrixQuery = QueryOf<'covariance' | 'correlation'>;

export const matrixStatistics: StatisticModule<MatrixQuery> = {
  types: ['covariance', 'correlation'],
  compile(query: MatrixQuery, schema: DataSchema): QueryPlan {
    if (new Set(query.fields).size !== query.fields.length) throw queryError('fields', 'distinct fields', query.fields, 'fields must be distinct');
    const xs = query.fields.map((f, i) => numericField(schema, f, `fields[${i}]`, query.bounds?.[f]));
    const p = xs.length;
    const pairs: [number, number][] = [];
    for (let i = 0; i < p; i++) for (let j = i; j < p; j++) pairs.push([i, j]);
    const cells: CellPlan[] = [
      { key: 'n', kind: 'count', bound: 1 },
      ...xs.map((x) => ({ key: `sum[${x.name}]`, kind: 'sum' as const, bound: x.magnitude })),
      ...pairs.map(([i, j]) => ({ key: `cross[${xs[i]!.name},${xs[j]!.name}]`, kind: 'sum' as const, bound: xs[i]!.magnitude * xs[j]!.magnitude })),
    ];
    const values = new Float64Array(p);
    return {
      query,
      cells,
      touches: cells.length,
      contribute(record, out) {
        for (let i = 0; i < p; i++) {
          const v = xs[i]!.read(record[xs[i]!.name]);
          if (v === null) return;
          values[i] = v;
        }
        out[0]! += 1;
        for (let i = 0; i < p; i++) out[1 + i]! += values[i]!;
        pairs.forEach(([i, j], k) => (out[1 + p + k]! += values[i]! * values[j]!));
      },
      release(totals, context) {
        const n = totals[0]!;
        const suppressed = belowMinimum(n, context);
        const mean = xs.map((_, i) => totals[1 + i]! / n);
        const cov = (i: number, j: number) => {
          const k = pairs.findIndex(([a, b]) => a === Math.min(i, j) && b === Math.max(i, j));
          return (totals[1 + p + k]! - n * mean[i]! * mean[j]!) / (n - 1);
        };
        const matrix = xs.map((_, i) => xs.map((__, j) => (query.type === 'covariance' ? cov(i, j) : i === j ? 1 : cov(i, j) / Math.sqrt(cov(i, i) * cov(j, j)))));
        const out: ReleasedValue[] = [released('count', n, suppressed), ...xs.map((x, i) => released(`mean[${x.name}]`, mean[i]!, suppressed))];
        xs.forEach((a, i) => xs.forEach((b, j) => out.push(released(`${query.type}[${a.name},${b.name}]`, matrix[i]![j]!, suppressed))));
        return { values: out, presentation: { kind: 'matrix', statistic: query.type, fields: query.fields, values: matrix.map((row) => row.map((v) => (suppressed ? null : v))) } };
      },
    };
  },
};

export const contingencyStatistics: StatisticModule<QueryOf<'contingency'>> = {
  types: ['contingency'],
  compile(query, schema: DataSchema): QueryPlan {
    const [a, b] = [categoricalField(schema, query.fields[0], 'fields[0]'), categoricalField(schema, query.fields[1], 'fields[1]')];
    if (a.name === b.name) throw queryError('fields', 'two different fields', query.fields, 'a contingency table needs two different fields');
    const cells: CellPlan[] = a.levels.flatMap((x) => b.levels.map((y) => ({ key: `${a.name}=${x},${b.name}=${y}`, kind: 'count' as const, bound: 1 })));
    return {
      query,
      cells,
      touches: 1,
      contribute(record, out) {
        const i = a.read(record[a.name]);
        const j = b.read(record[b.name]);
        if (i !== null && j !== null) out[i * b.levels.length + j]! += 1;
      },
      release(totals, context) {
        const values = cells.map((c, k) => released(c.key, totals[k]!, belowMinimum(totals[k]!, context)));
        const counts = a.levels.map((_, i) => b.levels.map((__, j) => values[i * b.levels.length + j]!.value));
        return { values, presentation: { kind: 'table', rows: { field: a.name, values: a.levels }, columns: { field: b.name, values: b.levels }, counts } };
      },
    };
  },
};
