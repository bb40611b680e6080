// The run report as one self-contained HTML page: inline CSS and inline SVG charts
// (svg.ts), no script, font or network access, so it can be mailed, archived or opened
// offline. Sections: accuracy per round, the plan and its execution, privacy spent,
// contributions and benefit shares, energy and CO₂.

import type { ContributionReport } from '../coordinator/contributions.js';
import type { RunReport } from '../coordinator/run-report.js';
import { memberColors, sortedMembers } from './colors.js';
import { barChart, escapeXml, lineChart, type LineSeries } from './svg.js';

/** Fields the valuation may add (95 % intervals, pairs it cannot tell apart); the report shows them when present. */
type Valued = ContributionReport & {
  uncertainty?: Record<string, { standardError: number; low: number; high: number }>;
  indistinguishable?: Array<[string, string]>;
};
/** A CO₂ estimate with its low/high range where the footprint gives one. */
type Grams = { co2Grams: number; co2GramsLow?: number; co2GramsHigh?: number };

export const STYLE = `
  body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #111827; margin: 0; background: #f3f4f6; }
  main { max-width: 880px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
  h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 8px; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }
  .meta { color: #4b5563; font-size: 13px; } .note { color: #4b5563; font-size: 13px; margin: 6px 0; }
  .cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 16px 0 4px; }
  .card { border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px 14px; min-width: 120px; }
  .card b { display: block; font-size: 20px; } .card span { color: #4b5563; font-size: 12px; }
  table { border-collapse: collapse; margin: 10px 0; font-size: 13px; } th, td { padding: 4px 10px; border-bottom: 1px solid #e5e7eb; text-align: right; }
  th:first-child, td:first-child { text-align: left; } th { background: #f9fafb; }
  svg.chart { display: block; margin: 8px 0; max-width: 100%; height: auto; font-family: inherit; }
  svg .chart-title { font-size: 14px; font-weight: 600; fill: #111827; } svg .tick { font-size: 11px; fill: #4b5563; }
  svg .axis-label, svg .legend-item text { font-size: 12px; fill: #374151; } svg .grid { stroke: #e5e7eb; stroke-width: 1; } svg .zero { stroke: #6b7280; stroke-width: 1; }
  .unavailable { border-left: 4px solid #d97706; background: #fffbeb; padding: 8px 12px; margin: 8px 0; }
  .table-wrap { overflow-x: auto; max-width: 100%; } .table-wrap td:first-child, .table-wrap th:first-child { position: sticky; left: 0; background: #fff; }
  .table-wrap th:first-child { background: #f9fafb; } td, th { white-space: nowrap; } code { overflow-wrap: anywhere; }
  @media (max-width: 600px) {
    body { font-size: 14px; } main { padding: 14px 12px 32px; } h1 { font-size: 20px; } h2 { font-size: 17px; }
    .cards { gap: 8px; } .card { min-width: 0; flex: 1 1 40%; padding: 6px 10px; } .card b { font-size: 17px; }
    table { font-size: 12px; } th, td { padding: 3px 6px; }
  }
`;

const pct = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(2)} %`);
const num = (x: number | undefined, digits = 3) => (x === undefined || !Number.isFinite(x) ? '–' : Number(x.toPrecision(digits)).toLocaleString('en-US', { maximumFractionDigits: 6 }));
const grams = (g: number) => (g >= 1000 ? `${(g / 1000).toFixed(2)} kg` : `${g.toFixed(g < 10 ? 2 : 1)} g`);
/** "4.1 g (2.0–9.3 g)" where the footprint gives a range, one number otherwise. */
const gramsRange = (g: Grams) =>
  g.co2GramsLow !== undefined && g.co2GramsHigh !== undefined && grams(g.co2GramsLow) !== grams(g.co2GramsHigh) ? `${grams(g.co2Grams)} (${grams(g.co2GramsLow)}–${grams(g.co2GramsHigh)})` : grams(g.co2Grams);

function table(head: string[], rows: (string | number)[][]): string {
  const th = head.map((h) => `<th>${escapeXml(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeXml(String(c))}</td>`).join('')}</tr>`).join('');
  return `<div class="table-wrap"><table><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table></div>`;
}

function accuracySection(report: RunReport): string {
  const rounds = report.rounds;
  const series: LineSeries[] = [];
  const server = rounds.filter((r) => r.serverEval?.metrics.accuracy !== undefined).map((r): [number, number] => [r.round, r.serverEval!.metrics.accuracy!]);
  if (server.length > 0) series.push({ name: 'global model, coordinator test set', points: server, color: '#111827', width: 3 });
  const federated = rounds.filter((r) => r.evalMetrics.accuracy !== undefined).map((r): [number, number] => [r.round, r.evalMetrics.accuracy!]);
  if (federated.length > 0) series.push({ name: "members' holdouts (weighted)", points: federated, color: '#6b7280', dashed: true, width: 2 });
  const colors = colorsOf(report);
  for (const name of sortedMembers(report.memberAccuracy.map((m) => m.name))) {
    const m = report.memberAccuracy.find((a) => a.name === name)!;
    series.push({ name, points: m.points.map((p): [number, number] => [p.round, p.accuracy]), color: colors.get(name)!, width: 1.25 });
  }
  if (series.length === 0) return `<h2>Accuracy per round</h2><p class="note">No round has been evaluated yet.</p>`;
  return (
    `<h2>Accuracy per round</h2>` +
    lineChart({ title: 'Accuracy of the global model after each round', xLabel: 'round', yLabel: 'accuracy', series, formatY: (y) => `${Math.round(y * 100)} %` }) +
    `<p class="note">Per-member lines: each member's accuracy of the round's global model on its own holdout.</p>`
  );
}

function planSection(report: RunReport): string {
  const plan = report.plan;
  const work = report.footprint.members.filter((m) => m.examplesProcessed > 0);
  if (!plan) {
    const chart = work.length
      ? barChart({ title: 'Work done per member (examples processed, all rounds)', yLabel: 'examples', categories: work.map((m) => m.name), series: [{ name: 'examples processed', values: work.map((m) => m.examplesProcessed) }] })
      : '';
    return `<h2>Plan and execution</h2><p class="note">This run had no resource plan: every selected member trained the run's local epochs.</p>${chart}`;
  }
  const names = plan.plan.allocation.map((a) => a.name);
  const planned = new Map<string, number>();
  const actual = new Map<string, number>();
  for (const r of plan.rounds) {
    for (const m of r.members) {
      planned.set(m.name, (planned.get(m.name) ?? 0) + m.planned);
      actual.set(m.name, (actual.get(m.name) ?? 0) + m.actual);
    }
  }
  const perMember = barChart({
    title: 'Planned and actual work per member (examples processed, all rounds)',
    yLabel: 'examples',
    categories: names,
    series: [
      { name: 'planned', values: names.map((n) => planned.get(n) ?? 0), color: '#93c5fd' },
      { name: 'actual', values: names.map((n) => actual.get(n) ?? 0), color: '#2563eb' },
    ],
  });
  const perRound = lineChart({
    title: 'Planned and actual work per round',
    xLabel: 'round',
    yLabel: 'examples',
    yMin: 0,
    series: [
      { name: 'planned', points: plan.rounds.map((r): [number, number] => [r.round, r.planned]), color: '#93c5fd', dashed: true },
      { name: 'actual', points: plan.rounds.map((r): [number, number] => [r.round, r.actual]), color: '#2563eb' },
    ],
  });
  const rows = plan.plan.allocation.map((a) => [a.name, num(plan.unitsPerRound[a.name] ?? 0, 6), num(a.effectiveCompute, 6), num(a.cost, 6), num(a.carbonGrams, 4), num(planned.get(a.name) ?? 0, 8), num(actual.get(a.name) ?? 0, 8)]);
  return (
    `<h2>Plan and execution</h2><p class="note">Objective ${escapeXml(plan.plan.objectiveName)}: ${num(plan.plan.objective ?? NaN, 6)}; allocation per ${plan.period}; binding: ${escapeXml(plan.plan.binding.join(', ') || 'none')}. Units are examples processed in local training.</p>` +
    table(['member', 'units / round', 'effective compute', 'cost', 'planned gCO2e', 'planned (run)', 'actual (run)'], rows) +
    perMember +
    (plan.rounds.length > 0 ? perRound : '')
  );
}

function privacySection(report: RunReport): string {
  if (report.privacy.length === 0) return `<h2>Privacy spent</h2><p class="note">No differential privacy in this run: no ε was spent (and none is guaranteed).</p>`;
  const series = report.privacy.map((d): LineSeries => ({ name: d.datasetId, points: d.points.map((p): [number, number] => [p.round, p.epsilon]) }));
  const dp = report.run.config.differentialPrivacy;
  const rows = report.privacy.map((d) => [d.datasetId, num(d.points[d.points.length - 1]?.epsilon, 4), String(d.delta), dp ? String((dp.budgets[d.datasetId.split('/')[0]!] ?? dp.budget).epsilon) : '–']);
  return (
    `<h2>Privacy spent</h2>` +
    lineChart({ title: 'ε spent per member dataset after each round', xLabel: 'round', yLabel: 'ε', yMin: 0, series }) +
    table(['dataset', 'ε spent', 'δ', 'ε budget'], rows)
  );
}

function contributionSection(report: RunReport): string {
  const c = report.contributions;
  if (!c) return `<h2>Contributions and benefit sharing</h2><p class="note">Contributions were not requested for this report.</p>`;
  const participation = table(
    ['member', 'rounds aggregated', 'examples contributed'],
    c.participation.map((p) => [p.name, p.rounds, p.examples]),
  );
  if (!c.available) {
    const chart = c.participation.length
      ? barChart({ title: 'What is known: examples contributed per member', yLabel: 'examples', categories: c.participation.map((p) => p.name), series: [{ name: 'examples', values: c.participation.map((p) => p.examples) }] })
      : '';
    return `<h2>Contributions and benefit sharing</h2><div class="unavailable">Contributions unavailable: ${escapeXml(c.reason ?? '')}</div>${chart}${participation}`;
  }
  const v = c as Valued;
  const names = sortedMembers(Object.keys(c.values!));
  const colors = colorsOf(report);
  const intervals = v.uncertainty ? names.map((n) => (v.uncertainty![n] ? ([v.uncertainty![n].low * 100, v.uncertainty![n].high * 100] as [number, number]) : undefined)) : undefined;
  const errors = !intervals && c.standardErrors ? names.map((n) => c.standardErrors![n] ?? 0) : undefined;
  const values = barChart({
    title: `Contribution per member (${c.method} ${c.method === 'loo' ? 'leave-one-out' : 'Shapley values'}, accuracy points)`,
    yLabel: 'Δ accuracy (points)',
    categories: names,
    series: [{ name: 'φ', values: names.map((n) => c.values![n]! * 100), ...(intervals ? { intervals } : errors ? { errors: errors.map((e) => e * 100) } : {}), color: '#7c3aed', colors: names.map((n) => colors.get(n)) }],
  });
  const shares = c.shares
    ? barChart({ title: `Benefit shares of a pool of ${num(c.shares.pool, 8)}`, yLabel: 'share', categories: names, series: [{ name: 'share', values: names.map((n) => c.shares!.shares[n] ?? 0), color: '#16a34a', colors: names.map((n) => colors.get(n)) }] }) +
      `<p class="note">Rule: ${escapeXml(c.shares.rule)}.${c.shares.undistributed > 0 ? ` Undistributed: ${num(c.shares.undistributed, 8)} (no positive contribution).` : ''}</p>`
    : '<p class="note">No reward pool given: pass --reward-pool to see benefit shares.</p>';
  const byName = new Map(c.participation.map((p) => [p.name, p]));
  const spread = (i: number) => (intervals?.[i] ? `${num(intervals[i]![0], 3)} to ${num(intervals[i]![1], 3)}` : errors ? `± ${num(errors[i]! * 100, 2)}` : '–');
  const rows = names.map((n, i) => [n, num(c.values![n]! * 100, 4), spread(i), c.shares ? num(c.shares.shares[n] ?? 0, 6) : '–', byName.get(n)?.rounds ?? 0, byName.get(n)?.examples ?? 0]);
  const bars = intervals ? 'Error bars: 95 % intervals (validation-set sampling and Monte Carlo error).' : 'Error bars: ± one standard error (Monte Carlo only).';
  const pairs = v.indistinguishable?.length
    ? `<p class="note">Not distinguishable at this precision: ${v.indistinguishable.map(([a, b]) => `${escapeXml(a)} and ${escapeXml(b)}`).join('; ')}.</p>`
    : '';
  return (
    `<h2>Contributions and benefit sharing</h2><p class="note">Utility: ${escapeXml(c.utility)}. ${c.roundsValued} rounds valued with ${c.evaluations} model evaluations in ${num(c.seconds, 3)} s. ${bars}</p>` +
    values +
    pairs +
    shares +
    table(['member', 'φ (accuracy points)', intervals ? '95 % interval' : '± s.e.', 'share', 'rounds', 'examples'], rows)
  );
}

/** Every member the report names, for one colour assignment across its charts (report/colors.ts). */
function colorsOf(report: RunReport): Map<string, string> {
  return memberColors([...report.memberAccuracy.map((m) => m.name), ...report.footprint.members.map((m) => m.name), ...(report.contributions?.participation.map((p) => p.name) ?? [])]);
}

function footprintSection(report: RunReport): string {
  const f = report.footprint;
  if (f.members.length === 0) return `<h2>Energy and CO₂</h2><p class="note">No round has completed yet.</p>`;
  const names = f.members.map((m) => m.name);
  const perMember = barChart({
    title: 'CO₂e per member (grams)',
    yLabel: 'gCO2e',
    categories: names,
    series: [
      { name: 'training', values: f.members.map((m) => m.trainCo2Grams), color: '#d97706' },
      { name: 'network', values: f.members.map((m) => m.networkCo2Grams), color: '#0891b2' },
    ],
  });
  const comparison = barChart({
    title: 'Federated run versus the centralized alternative (estimate)',
    yLabel: 'gCO2e',
    categories: ['federated (this run)', 'centralized'],
    series: [{ name: 'gCO2e', values: [f.total.co2Grams, f.centralized.co2Grams], color: '#475569' }],
  });
  const rows = f.members.map((m) => [m.name, m.energySource, num(m.trainKWh * 1000, 4), num(m.networkBytes / 1e6, 4), num(m.carbonIntensity, 4), grams(m.co2Grams)]);
  rows.push(['total', '', num(f.total.trainKWh * 1000, 4), num(f.total.networkBytes / 1e6, 4), '', gramsRange(f.total)]);
  return (
    `<h2>Energy and CO₂</h2>` +
    perMember +
    table(['member', 'energy source', 'training Wh', 'network MB', 'gCO2e/kWh', 'CO2e'], rows) +
    comparison +
    `<p class="note">Centralized: the same ${num(f.centralized.trainKWh * 1000, 4)} Wh of training on one site plus shipping ${num(f.centralized.dataBytes / 1e6, 4)} MB of raw data once: ${gramsRange(f.centralized)}; this run: ${gramsRange(f.total)}.</p>` +
    `<p class="note">Assumptions: ${f.assumptions.map(escapeXml).join('; ')}.</p>`
  );
}

export function renderRunReport(report: RunReport): string {
  const run = report.run;
  const last = report.rounds[report.rounds.length - 1];
  const finalAccuracy = last?.serverEval?.metrics.accuracy ?? last?.evalMetrics.accuracy;
  const members = new Set(report.footprint.members.map((m) => m.name)).size;
  const cards = [
    ['final accuracy', pct(finalAccuracy)],
    ['rounds', `${report.rounds.length} / ${run.config.rounds}`],
    ['members', String(members)],
    ['CO₂e', gramsRange(report.footprint.total)],
    ['energy', `${num(report.footprint.total.kWh * 1000, 4)} Wh`],
  ]
    .map(([label, value]) => `<div class="card"><b>${escapeXml(value!)}</b><span>${escapeXml(label!)}</span></div>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Concord run ${escapeXml(run.config.name)} (${escapeXml(run.runId)})</title><style>${STYLE}</style></head>
<body><main>
<h1>Run ${escapeXml(run.config.name)}</h1>
<div class="meta">${escapeXml(run.runId)} · ${escapeXml(run.status)}${run.error ? ` (${escapeXml(run.error)})` : ''} · strategy ${escapeXml(run.config.strategy.name)}${run.config.secureAggregation ? ' · secure aggregation' : ''}${run.config.differentialPrivacy ? ` · DP (${run.config.differentialPrivacy.level} level)` : ''} · report of ${new Date(report.generatedAt).toISOString()}</div>
<div class="cards">${cards}</div>
${accuracySection(report)}
${planSection(report)}
${privacySection(report)}
${contributionSection(report)}
${footprintSection(report)}
</main></body></html>
`;
}
