// Charts of released analytics results, as inline SVG (svg.ts) for the HTML report and the
// dashboard alike: a histogram as bars, a Kaplan–Meier curve as a step line, a correlation
// or covariance matrix as a heat-map, group statistics as bars, a contingency table as a
// table. Suppressed cells are drawn as gaps and named as suppressed, never as zero.

import type { Presentation } from '../analytics/plan.js';
import { barChart, escapeXml, lineChart } from './svg.js';

const fmt = (v: number): string => (Math.abs(v) >= 1000 || Number.isInteger(v) ? String(Math.round(v * 100) / 100) : v.toPrecision(4));

/** An SVG (or, for a table, HTML) view of a result; null for a result of plain values. */
export function analyticsChart(title: string, p: Presentation): string | null {
  switch (p.kind) {
    case 'histogram': {
      const categories = p.edges.slice(0, -1).map((e, i) => `${fmt(e)}–${fmt(p.edges[i + 1]!)}`);
      return barChart({ title, yLabel: `records (${p.field})`, categories, series: [{ name: p.field, values: p.counts.map((c) => (c === null ? NaN : c)) }] });
    }
    case 'groups':
      return barChart({ title, yLabel: p.statistic, categories: p.groups, series: [{ name: p.statistic, values: p.values.map((v) => (v === null ? NaN : v)) }] });
    case 'survival': {
      // A step function: S holds over each bin and drops at its end.
      const points: [number, number][] = [[0, 1]];
      let last = 1;
      p.times.forEach((t, j) => {
        const s = p.survival[j];
        if (s === null || s === undefined) return;
        points.push([t, last], [t, s]);
        last = s;
      });
      return lineChart({ title, xLabel: 'time', yLabel: 'survival S(t)', series: [{ name: 'Kaplan–Meier', points }], yMin: 0, yMax: 1, formatY: (y) => y.toFixed(2) });
    }
    case 'matrix':
      return heatmap(title, p.fields, p.values, p.statistic === 'correlation');
    case 'table': {
      const head = `<tr><th>${escapeXml(p.rows.field)} \\ ${escapeXml(p.columns.field)}</th>${p.columns.values.map((c) => `<th>${escapeXml(c)}</th>`).join('')}</tr>`;
      const rows = p.rows.values.map((r, i) => `<tr><th>${escapeXml(r)}</th>${p.counts[i]!.map((c) => `<td>${c === null ? '<span class="suppressed">suppressed</span>' : escapeXml(fmt(c))}</td>`).join('')}</tr>`).join('');
      return `<table class="contingency" aria-label="${escapeXml(title)}"><caption>${escapeXml(title)}</caption>${head}${rows}</table>`;
    }
    case 'scalar':
      return null;
  }
}

/** A square heat-map; for correlations the colour runs blue (−1) – white (0) – red (+1). */
export function heatmap(title: string, fields: string[], values: (number | null)[][], correlation: boolean): string {
  const n = fields.length;
  const cell = Math.max(28, Math.min(64, Math.floor(480 / Math.max(1, n))));
  const left = 120;
  const top = 40;
  const size = left + n * cell + 16;
  const height = top + n * cell + 90;
  const max = correlation ? 1 : Math.max(1e-12, ...values.flat().filter((v): v is number => v !== null).map(Math.abs));
  const colour = (v: number): string => {
    const t = Math.max(-1, Math.min(1, v / max));
    const [r, g, b] = t >= 0 ? [255, Math.round(255 * (1 - t)), Math.round(255 * (1 - t))] : [Math.round(255 * (1 + t)), Math.round(255 * (1 + t)), 255];
    return `rgb(${r},${g},${b})`;
  };
  const cells = values
    .map((row, i) =>
      row
        .map((v, j) => {
          const x = left + j * cell;
          const y = top + i * cell;
          const label = v === null ? 'suppressed' : v.toFixed(2);
          return `<rect x="${x}" y="${y}" width="${cell - 1}" height="${cell - 1}" fill="${v === null ? '#e5e7eb' : colour(v)}"><title>${escapeXml(`${fields[i]} × ${fields[j]}: ${label}`)}</title></rect>${n <= 8 ? `<text class="tick" x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle"${v !== null && Math.abs(v / max) > 0.6 ? ' style="fill:#fff"' : ''}>${v === null ? '–' : escapeXml(v.toFixed(2))}</text>` : ''}`;
        })
        .join(''),
    )
    .join('');
  const rowLabels = fields.map((f, i) => `<text class="tick" x="${left - 6}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end">${escapeXml(f)}</text>`).join('');
  const colLabels = fields.map((f, j) => `<text class="tick" transform="translate(${left + j * cell + cell / 2},${top + n * cell + 10}) rotate(45)" text-anchor="start">${escapeXml(f)}</text>`).join('');
  const scaleY = height - 18;
  const steps = Array.from({ length: 11 }, (_, k) => -1 + k / 5);
  const scale = steps.map((t, k) => `<rect x="${left + k * 16}" y="${scaleY - 10}" width="16" height="10" fill="${colour(t * max)}"/>`).join('');
  const scaleLabels = `<text class="tick" x="${left - 6}" y="${scaleY - 1}" text-anchor="end">${escapeXml(fmt(-max))}</text><text class="tick" x="${left + 11 * 16 + 6}" y="${scaleY - 1}">${escapeXml(fmt(max))}</text>`;
  return `<svg class="chart heatmap" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${height}" width="${size}" height="${height}" role="img" aria-label="${escapeXml(title)}"><text class="chart-title" x="8" y="20">${escapeXml(title)}</text>${cells}${rowLabels}${colLabels}${scale}${scaleLabels}</svg>`;
}
