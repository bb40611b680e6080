// The analytics report: every query with what it released — its statistics (suppressed
// cells said so), how each was protected (exact with the minimum count under secure
// aggregation, or DP with ε, δ and the noise std per cell) and its chart — as one
// self-contained HTML page (no script, font or network), like the run report (html.ts).

import type { AnalyticsResult } from '../analytics/release.js';
import type { AnalyticsQueryRecord } from '../storage/storage.js';
import { analyticsChart } from './analytics-charts.js';
import { STYLE } from './html.js';
import { escapeXml } from './svg.js';

const EXTRA_STYLE = `.suppressed{color:#9ca3af;font-style:italic}table.contingency td,table.contingency th{padding:4px 8px;border:1px solid #e5e7eb;text-align:right}svg.heatmap{max-width:100%;height:auto}`;

function protection(result: AnalyticsResult): string {
  const secure = result.secureAggregation ? 'secure aggregation (the coordinator saw only totals)' : 'no secure aggregation';
  if (result.exact) return `exact · cells under ${result.minCount} records suppressed · ${secure}`;
  const p = result.privacy!;
  return `differential privacy ε = ${p.epsilon}, δ = ${p.delta} (${p.mechanism === 'discrete-gaussian' ? 'discrete Gaussian' : 'Gaussian'}, noise multiplier ${p.noiseMultiplier.toFixed(3)}, sensitivity ${p.sensitivity.toFixed(3)}) · ${secure}`;
}

export function analyticsSection(record: AnalyticsQueryRecord): string {
  const title = String(record.query.name ?? record.query.type);
  if (record.status !== 'completed' || !record.result) {
    return `<section><h2>${escapeXml(title)}</h2><p class="meta">${escapeXml(record.queryId)} · ${escapeXml(record.status)}${record.error ? `: ${escapeXml(record.error)}` : ''}</p></section>`;
  }
  const result = record.result as unknown as AnalyticsResult;
  const rows = result.values
    .map((v) => `<tr><td>${escapeXml(v.key)}</td><td>${v.value === null ? `<span class="suppressed">suppressed: ${escapeXml(v.suppressed ?? '')}</span>` : escapeXml(String(Number(v.value.toPrecision(8))))}</td></tr>`)
    .join('');
  const noise = result.privacy ? `<p class="meta">noise std per cell: ${result.privacy.cells.slice(0, 8).map((c) => `${escapeXml(c.key)} ${c.std.toPrecision(3)}`).join(', ')}${result.privacy.cells.length > 8 ? ', …' : ''}</p>` : '';
  const chart = analyticsChart(title, result.presentation) ?? '';
  return `<section><h2>${escapeXml(title)}</h2><p class="meta">${escapeXml(record.queryId)} · ${escapeXml(result.type)} · ${result.contributors} members · ${escapeXml(protection(result))}</p>${noise}${chart}<details${chart ? "" : " open"}><summary>${result.values.length} released values</summary><table>${rows}</table></details></section>`;
}

export function renderAnalyticsReport(records: readonly AnalyticsQueryRecord[], generatedAt = Date.now()): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Concord analytics</title><style>${STYLE}${EXTRA_STYLE}</style></head>
<body><main>
<h1>Federated analytics</h1>
<div class="meta">${records.length} queries · every released number is exact with the minimum count or differentially private with the ε stated · report of ${new Date(generatedAt).toISOString()}</div>
${records.map(analyticsSection).join('\n')}
</main></body></html>
`;
}
