import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AnalyticsQueryRecord } from '../storage/storage.js';
import { renderAnalyticsReport } from './analytics-html.js';
import { heatmap } from './analytics-charts.js';

const record = (queryId: string, result: Record<string, unknown> | null, status: AnalyticsQueryRecord['status'] = 'completed', error: string | null = null): AnalyticsQueryRecord => ({
  queryId,
  query: { type: String(result?.type ?? 'mean'), name: `q ${queryId}` },
  submittedBy: 'operator',
  status,
  result,
  error,
  createdAt: 1,
  updatedAt: 2,
});

test('the analytics report draws each result, names suppressed cells and the protection of each release', () => {
  const html = renderAnalyticsReport([
    record('qry_h', { type: 'histogram', contributors: 3, secureAggregation: true, exact: true, minCount: 10, values: [{ key: 'bin[0]', value: null, suppressed: 'fewer than 10 records' }, { key: 'bin[1]', value: 42 }], presentation: { kind: 'histogram', field: 'age', edges: [0, 50, 100], counts: [null, 42] } }),
    record('qry_s', { type: 'survival', contributors: 3, secureAggregation: true, exact: true, minCount: 10, values: [{ key: 'survival[0]', value: 0.9 }], presentation: { kind: 'survival', times: [100], survival: [0.9], atRisk: [50] } }),
    record('qry_c', { type: 'correlation', contributors: 3, secureAggregation: true, exact: false, minCount: null, values: [], presentation: { kind: 'matrix', statistic: 'correlation', fields: ['a', 'b'], values: [[1, -0.5], [-0.5, 1]] }, privacy: { epsilon: 1, delta: 1e-6, noiseMultiplier: 4.5, sensitivity: 2, cells: [{ key: 'n', value: 10, std: 9 }] } }),
    record('qry_f', null, 'failed', 'CONCORD_ERR_NOT_ENOUGH_MEMBERS: only 1 member'),
  ]);
  assert.equal((html.match(/<svg/g) ?? []).length, 3);
  assert.match(html, /suppressed: fewer than 10 records/);
  assert.match(html, /exact · cells under 10 records suppressed · secure aggregation/);
  assert.match(html, /differential privacy ε = 1, δ = 0.000001/);
  assert.match(html, /failed: CONCORD_ERR_NOT_ENOUGH_MEMBERS: only 1 member/);
  assert.ok(!/<script/i.test(html), 'self-contained, no script');
  assert.match(heatmap('m', ['a<b'], [[null]], true), /a&lt;b × a&lt;b: suppressed/);
});
