// The same statistics computed directly on pooled records, the way a single site with all
// the data would (two-pass moments, direct bin counts, Kaplan–Meier from at-risk sets): the
// reference the demo and the tests compare every federated release with. It shares with the
// federated path only the query's definitions (bins, bounds, levels), not its arithmetic.

import type { DataSchema } from '../data/schema/schema.js';
import type { HarmonisedRecord } from '../data/schema/validate.js';
import { categoricalField, numericField } from './fields.js';
import { type Query, binEdges } from './query.js';
import { quantileFromCounts } from './statistics/bins.js';

export function pooledStatistics(query: Query, schema: DataSchema, records: readonly HarmonisedRecord[]): Map<string, number> {
  const out = new Map<string, number>();
  const moments = (prefix: string, xs: number[], statistic: string) => {
    const n = xs.length;
    out.set(`${prefix}count`, n);
    const mean = xs.reduce((a, b) => a + b, 0) / n;
    if (statistic === 'sum') out.set(`${prefix}sum`, xs.reduce((a, b) => a + b, 0));
    if (statistic === 'mean' || statistic === 'variance') out.set(`${prefix}mean`, mean);
    if (statistic === 'variance') {
      const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1);
      out.set(`${prefix}variance`, variance);
      out.set(`${prefix}std`, Math.sqrt(variance));
    }
  };
  switch (query.type) {
    case 'count':
      out.set('count', query.field ? records.filter((r) => r[query.field!] !== null && r[query.field!] !== undefined).length : records.length);
      break;
    case 'sum':
    case 'mean':
    case 'variance': {
      const x = numericField(schema, query.field, 'field', query.bounds);
      moments('', records.map((r) => x.read(r[x.name])).filter((v): v is number => v !== null), query.type);
      break;
    }
    case 'groupby': {
      const g = categoricalField(schema, query.by, 'by');
      const x = numericField(schema, query.field, 'field', query.bounds);
      for (const [i, level] of g.levels.entries()) {
        const xs = records.filter((r) => g.read(r[g.name]) === i).map((r) => x.read(r[x.name])).filter((v): v is number => v !== null);
        moments(`${g.name}=${level}.`, xs, query.statistic);
      }
      break;
    }
    case 'histogram':
    case 'quantiles':
    case 'minmax': {
      const edges = binEdges(query.bins);
      const x = numericField(schema, query.field, 'field', [edges[0]!, edges[edges.length - 1]!]);
      const counts = new Array<number>(edges.length - 1).fill(0);
      for (const r of records) {
        const v = x.read(r[x.name]);
        if (v === null) continue;
        let j = 0;
        while (j < counts.length - 1 && v >= edges[j + 1]!) j++;
        counts[j]!++;
      }
      if (query.type === 'histogram') counts.forEach((c, j) => out.set(`bin[${j}]`, c));
      else if (query.type === 'quantiles') for (const p of query.probabilities) out.set(`q${p}`, quantileFromCounts(edges, counts, p).value);
      else {
        const values = records.map((r) => x.read(r[x.name])).filter((v): v is number => v !== null);
        out.set('min', Math.min(...values));
        out.set('max', Math.max(...values));
      }
      break;
    }
    case 'covariance':
    case 'correlation': {
      const xs = query.fields.map((f, i) => numericField(schema, f, `fields[${i}]`, query.bounds?.[f]));
      const rows = records.map((r) => xs.map((x) => x.read(r[x.name]))).filter((row): row is number[] => row.every((v) => v !== null));
      const n = rows.length;
      const mean = xs.map((_, i) => rows.reduce((a, row) => a + row[i]!, 0) / n);
      const cov = (i: number, j: number) => rows.reduce((a, row) => a + (row[i]! - mean[i]!) * (row[j]! - mean[j]!), 0) / (n - 1);
      out.set('count', n);
      xs.forEach((x, i) => out.set(`mean[${x.name}]`, mean[i]!));
      xs.forEach((a, i) => xs.forEach((b, j) => out.set(`${query.type}[${a.name},${b.name}]`, query.type === 'covariance' ? cov(i, j) : i === j ? 1 : cov(i, j) / Math.sqrt(cov(i, i) * cov(j, j)))));
      break;
    }
    case 'contingency': {
      const [a, b] = [categoricalField(schema, query.fields[0], 'fields[0]'), categoricalField(schema, query.fields[1], 'fields[1]')];
      for (const x of a.levels) for (const y of b.levels) out.set(`${a.name}=${x},${b.name}=${y}`, records.filter((r) => String(r[a.name]) === x && String(r[b.name]) === y).length);
      break;
    }
    case 'summary': {
      for (const [i, name] of query.fields.entries()) {
        const field = schema.fields.find((f) => f.name === name);
        if (field?.type === 'category') {
          for (const level of field.values) out.set(`${name}=${level}.count`, records.filter((r) => r[name] === level).length);
          continue;
        }
        const x = numericField(schema, name, `fields[${i}]`, query.bounds?.[name]);
        moments(`${name}.`, records.map((r) => x.read(r[name])).filter((v): v is number => v !== null), 'variance');
      }
      break;
    }
    case 'survival': {
      const edges = binEdges(query.bins);
      const subjects = records.filter((r) => r[query.time] !== null && r[query.time] !== undefined && r[query.event] !== null && r[query.event] !== undefined).map((r) => ({ t: Math.max(edges[0]!, Number(r[query.time])), event: r[query.event] === true }));
      let s = 1;
      for (let j = 0; j < edges.length - 1; j++) {
        const atRisk = subjects.filter((x) => x.t >= edges[j]!).length;
        const events = subjects.filter((x) => x.event && x.t >= edges[j]! && x.t < edges[j + 1]!).length;
        if (atRisk > 0) s *= 1 - events / atRisk;
        out.set(`atRisk[${j}]`, atRisk);
        out.set(`survival[${j}]`, s);
      }
      break;
    }
  }
  return out;
}

/** Largest |released − pooled| / max(|pooled|, tiny) over the values both have (suppressed values skipped). */
export function maxRelativeError(released: readonly { key: string; value: number | null }[], pooled: Map<string, number>): { maxRelativeError: number; compared: number; worst: string | null } {
  let worst: string | null = null;
  let max = 0;
  let compared = 0;
  for (const v of released) {
    if (v.value === null) continue;
    const p = pooled.get(v.key);
    if (p === undefined) continue;
    compared++;
    const e = Math.abs(v.value - p) / Math.max(Math.abs(p), 1e-300);
    if (v.value === p) continue;
    if (e > max) [max, worst] = [e, v.key];
  }
  return { maxRelativeError: max, compared, worst };
}
