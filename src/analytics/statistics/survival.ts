// Kaplan–Meier survival over agreed time bins (the life-table form of Kaplan & Meier 1958
// used when sites share counts, not event times): per bin j, d_j events and e_j exits
// (events plus censorings) among records whose time falls in it, plus the records that
// outlast the last edge. With N = Σ exits, n_j = N − Σ_{i<j} e_i are at risk at the start of
// bin j and S(t_{j+1}) = Π_{i≤j} (1 − d_i / n_i). A record adds to one bin's two cells.
// Under the minimum count the curve stops at the first bin with fewer than K at risk.

import type { DataSchema } from '../../data/schema/schema.js';
import { categoricalField, numericField } from '../fields.js';
import { type CellPlan, type QueryPlan, type ReleasedValue, type StatisticModule, belowMinimum, released } from '../plan.js';
import { type QueryOf, binEdges, queryError } from '../query.js';
import { binOf } from './bins.js';

export const survivalStatistics: StatisticModule<QueryOf<'survival'>> = {
  types: ['survival'],
  compile(query, schema: DataSchema): QueryPlan {
    const edges = binEdges(query.bins);
    if (edges[0]! < 0) throw queryError('bins', 'edges >= 0', edges[0], 'survival times start at 0 or later');
    const time = numericField(schema, query.time, 'time', [edges[0]!, Number.MAX_VALUE]);
    const event = categoricalField(schema, query.event, 'event');
    if (event.levels.length !== 2 || event.levels[1] !== 'true') throw queryError('event', 'a boolean field', query.event, 'event must be a boolean field (true: the event happened)');
    const m = edges.length - 1;
    const cells: CellPlan[] = [
      ...Array.from({ length: m }, (_, j) => ({ key: `events[${j}]`, kind: 'count' as const, bound: 1 })),
      ...Array.from({ length: m + 1 }, (_, j) => ({ key: `exits[${j}]`, kind: 'count' as const, bound: 1 })),
    ];
    const last = edges[m]!;
    return {
      query,
      cells,
      touches: 2,
      contribute(record, out) {
        const t = time.read(record[time.name]);
        const e = event.read(record[event.name]);
        if (t === null || e === null) return;
        if (t >= last) {
          out[m + m]! += 1;
          return;
        }
        const j = binOf(edges, t);
        out[m + j]! += 1;
        if (e === 1) out[j]! += 1;
      },
      release(totals, context) {
        const exits = Array.from({ length: m + 1 }, (_, j) => totals[m + j]!);
        const total = exits.reduce((a, b) => a + b, 0);
        const values: ReleasedValue[] = [];
        const survival: (number | null)[] = [];
        const atRiskShown: (number | null)[] = [];
        let s = 1;
        let atRisk = total;
        let stopped: string | undefined;
        for (let j = 0; j < m; j++) {
          stopped ??= belowMinimum(atRisk, context) && `fewer than ${context.minCount} at risk`;
          const d = Math.max(0, totals[j]!);
          if (atRisk > 0) s *= 1 - Math.min(1, d / atRisk);
          values.push(released(`atRisk[${j}]`, atRisk, stopped), released(`survival[${j}]`, s, stopped));
          survival.push(stopped ? null : s);
          atRiskShown.push(stopped ? null : atRisk);
          atRisk -= exits[j]!;
        }
        return { values, presentation: { kind: 'survival', times: edges.slice(1), survival, atRisk: atRiskShown } };
      },
    };
  },
};
