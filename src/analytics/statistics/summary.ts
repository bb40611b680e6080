// A data profile of several fields at once: for a numeric field (number, boolean, date) its
// count, mean, variance and std over the records where it is present (cells n, Σx, Σx²), for
// a categorical one the count of each level (one cell per level). Harmonised preprocessing
// (coordinator/harmonisation.ts) standardises and imputes from it.

import type { DataSchema } from '../../data/schema/schema.js';
import { type CategoricalField, type NumericField, categoricalField, numericField } from '../fields.js';
import { type CellPlan, type QueryPlan, type ReleasedValue, type StatisticModule, belowMinimum, released } from '../plan.js';
import { type QueryOf, queryError } from '../query.js';
import { moments } from './moments.js';

type Part = { kind: 'numeric'; x: NumericField; at: number } | { kind: 'categorical'; c: CategoricalField; at: number };

export const summaryStatistics: StatisticModule<QueryOf<'summary'>> = {
  types: ['summary'],
  compile(query, schema: DataSchema): QueryPlan {
    if (new Set(query.fields).size !== query.fields.length) throw queryError('fields', 'distinct fields', query.fields, 'fields must be distinct');
    const cells: CellPlan[] = [];
    const parts: Part[] = query.fields.map((name, i) => {
      const field = schema.fields.find((f) => f.name === name);
      const at = cells.length;
      if (field?.type === 'category') {
        const c = categoricalField(schema, name, `fields[${i}]`);
        cells.push(...c.levels.map((l) => ({ key: `${name}=${l}.count`, kind: 'count' as const, bound: 1 })));
        return { kind: 'categorical', c, at };
      }
      const x = numericField(schema, name, `fields[${i}]`, query.bounds?.[name]);
      cells.push({ key: `${name}.n`, kind: 'count', bound: 1 }, { key: `${name}.sum`, kind: 'sum', bound: x.magnitude }, { key: `${name}.sumsq`, kind: 'sum', bound: x.magnitude ** 2 });
      return { kind: 'numeric', x, at };
    });
    const touches = parts.reduce((n, p) => n + (p.kind === 'numeric' ? 3 : 1), 0);
    return {
      query,
      cells,
      touches,
      contribute(record, out) {
        for (const p of parts) {
          if (p.kind === 'categorical') {
            const level = p.c.read(record[p.c.name]);
            if (level !== null) out[p.at + level]! += 1;
            continue;
          }
          const v = p.x.read(record[p.x.name]);
          if (v === null) continue;
          out[p.at]! += 1;
          out[p.at + 1]! += v;
          out[p.at + 2]! += v * v;
        }
      },
      release(totals, context) {
        const values: ReleasedValue[] = [];
        for (const p of parts) {
          if (p.kind === 'categorical') {
            p.c.levels.forEach((l, j) => values.push(released(`${p.c.name}=${l}.count`, totals[p.at + j]!, belowMinimum(totals[p.at + j]!, context))));
            continue;
          }
          const n = totals[p.at]!;
          const suppressed = belowMinimum(n, context);
          const { mean, variance } = moments(n, totals[p.at + 1]!, totals[p.at + 2]!);
          const name = p.x.name;
          values.push(released(`${name}.count`, n, suppressed), released(`${name}.mean`, mean, suppressed), released(`${name}.variance`, variance, suppressed), released(`${name}.std`, Math.sqrt(variance), suppressed));
        }
        return { values, presentation: { kind: 'scalar' } };
      },
    };
  },
};
