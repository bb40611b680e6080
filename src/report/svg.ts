// Small, dependency-free SVG charts for self-contained reports: a line chart and a grouped
// bar chart (negative values and error bars included), with "nice" axis ticks
// (Heckbert 1990, "Nice numbers for graph labels", Graphics Gems). Output is a string of
// inline SVG that needs no script, font or network to display.

import { PALETTE } from './colors.js';

export interface LineSeries {
  name: string;
  /** [x, y] pairs; points with non-finite y are skipped. */
  points: [number, number][];
  color?: string;
  dashed?: boolean;
  /** Stroke width; default 2. */
  width?: number;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** Fixed y range; default from the data. */
  yMin?: number;
  yMax?: number;
  formatY?: (y: number) => string;
}

export interface BarSeries {
  name: string;
  values: number[];
  /** ± error bar per value (e.g. a standard error). */
  errors?: number[];
  /** An interval per value (e.g. a 95 % interval), drawn as its error bar instead of ± errors. */
  intervals?: ([number, number] | undefined)[];
  color?: string;
  /** A colour per category (members keep their colour across charts); default `color`. */
  colors?: (string | undefined)[];
}

export interface BarChartOptions {
  title: string;
  yLabel: string;
  categories: string[];
  series: BarSeries[];
  formatY?: (y: number) => string;
}

export { PALETTE } from './colors.js';

const WIDTH = 720;
const HEIGHT = 300;
const MARGIN = { left: 64, right: 16, top: 36, bottom: 52 };

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function niceNumber(x: number, round: boolean): number {
  const exponent = Math.floor(Math.log10(x));
  const fraction = x / 10 ** exponent;
  const nice = round ? (fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10) : fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * 10 ** exponent;
}

/** About `count` round tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): { ticks: number[]; min: number; max: number } {
  if (!(max > min)) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    return niceTicks(min - pad, max + pad, count);
  }
  const step = niceNumber(niceNumber(max - min, false) / (count - 1), true);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let t = lo; t <= hi + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return { ticks, min: lo, max: hi };
}

function defaultFormat(y: number): string {
  const abs = Math.abs(y);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return y.toExponential(1);
  return Number(y.toPrecision(4)).toString();
}

function frame(title: string, body: string, legend: { name: string; color: string; dashed?: boolean }[]): string {
  const shown = legend.slice(0, 12);
  const perRow = 3;
  const rows = Math.ceil(shown.length / perRow);
  const height = HEIGHT + (rows > 0 ? rows * 18 + 4 : 0);
  const items = shown
    .map((l, i) => {
      const x = MARGIN.left + (i % perRow) * 215;
      const y = HEIGHT + 12 + Math.floor(i / perRow) * 18;
      const name = l.name.length > 30 ? l.name.slice(0, 29) + '…' : l.name;
      return `<g class="legend-item" transform="translate(${x},${y})"><line x1="0" y1="-4" x2="18" y2="-4" stroke="${l.color}" stroke-width="3"${l.dashed ? ' stroke-dasharray="5 3"' : ''}/><text x="24" y="0">${escapeXml(name)}</text></g>`;
    })
    .join('');
  return (
    `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="${escapeXml(title)}">` +
    `<text class="chart-title" x="${MARGIN.left}" y="20">${escapeXml(title)}</text>${body}${items}</svg>`
  );
}

function yAxis(ticks: number[], y: (v: number) => number, label: string, format: (v: number) => string): string {
  const right = WIDTH - MARGIN.right;
  const lines = ticks
    .map((t) => `<line class="grid" x1="${MARGIN.left}" x2="${right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}"/><text class="tick" x="${MARGIN.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${escapeXml(format(t))}</text>`)
    .join('');
  const mid = (MARGIN.top + HEIGHT - MARGIN.bottom) / 2;
  return `${lines}<text class="axis-label" transform="translate(14,${mid}) rotate(-90)" text-anchor="middle">${escapeXml(label)}</text>`;
}

export function lineChart(options: LineChartOptions): string {
  const format = options.formatY ?? defaultFormat;
  const series = options.series.map((s, i) => ({ ...s, color: s.color ?? PALETTE[i % PALETTE.length]!, points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)) }));
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return frame(options.title, `<text class="empty" x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle">no data</text>`, []);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs) === xMin ? xMin + 1 : Math.max(...xs);
  const yRange = niceTicks(options.yMin ?? Math.min(...ys), options.yMax ?? Math.max(...ys));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (v: number) => MARGIN.left + ((v - xMin) / (xMax - xMin)) * plotW;
  const y = (v: number) => MARGIN.top + (1 - (v - yRange.min) / (yRange.max - yRange.min)) * plotH;
  // Whole rounds at a round step, plus the first one.
  const xStep = Math.max(1, niceNumber((xMax - xMin) / 5, true));
  const xTicks = [xMin, ...Array.from({ length: Math.floor(xMax / xStep) + 1 }, (_, k) => k * xStep)].filter((t, i, all) => t >= xMin && t <= xMax && Number.isInteger(t) && all.indexOf(t) === i && (i === 0 || t - xMin >= xStep / 2));
  const xAxis =
    xTicks.map((t) => `<text class="tick" x="${x(t).toFixed(1)}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${t}</text>`).join('') +
    `<text class="axis-label" x="${MARGIN.left + plotW / 2}" y="${HEIGHT - MARGIN.bottom + 32}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`;
  const paths = series
    .map((s) => {
      if (s.points.length === 0) return '';
      const d = s.points.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ');
      const dots = s.points.length <= 40 ? s.points.map(([px, py]) => `<circle cx="${x(px).toFixed(1)}" cy="${y(py).toFixed(1)}" r="2.5" fill="${s.color}"/>`).join('') : '';
      return `<g class="series"><title>${escapeXml(s.name)}</title><path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>${dots}</g>`;
    })
    .join('');
  return frame(options.title, yAxis(yRange.ticks, y, options.yLabel, format) + xAxis + paths, series);
}

export function barChart(options: BarChartOptions): string {
  const format = options.formatY ?? defaultFormat;
  const series = options.series.map((s, i) => ({ ...s, color: s.color ?? PALETTE[i % PALETTE.length]! }));
  const values = series.flatMap((s) => s.values.flatMap((v, i) => [v + (s.errors?.[i] ?? 0), v - (s.errors?.[i] ?? 0), ...(s.intervals?.[i] ?? [])])).filter(Number.isFinite);
  if (values.length === 0 || options.categories.length === 0) return frame(options.title, `<text class="empty" x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle">no data</text>`, []);
  const yRange = niceTicks(Math.min(0, ...values), Math.max(0, ...values));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const y = (v: number) => MARGIN.top + (1 - (v - yRange.min) / (yRange.max - yRange.min)) * plotH;
  const band = plotW / options.categories.length;
  const barW = Math.min(48, (band * 0.8) / series.length);
  const groupW = barW * series.length;
  const bars = options.categories
    .map((category, c) => {
      const left = MARGIN.left + c * band + (band - groupW) / 2;
      const rects = series
        .map((s, k) => {
          const v = s.values[c];
          if (v === undefined || !Number.isFinite(v)) return '';
          const top = Math.min(y(v), y(0));
          const height = Math.max(Math.abs(y(v) - y(0)), v === 0 ? 0 : 1);
          const bx = left + k * barW;
          const error = s.errors?.[c];
          const interval = s.intervals?.[c] ?? (error !== undefined && Number.isFinite(error) && error > 0 ? ([v - error, v + error] as [number, number]) : undefined);
          const cx = bx + barW / 2;
          const whisker =
            interval && Number.isFinite(interval[0]) && Number.isFinite(interval[1]) && interval[1] > interval[0]
              ? `<path class="error-bar" d="M${cx.toFixed(1)},${y(interval[1]).toFixed(1)} V${y(interval[0]).toFixed(1)} M${(cx - 4).toFixed(1)},${y(interval[1]).toFixed(1)} h8 M${(cx - 4).toFixed(1)},${y(interval[0]).toFixed(1)} h8" stroke="#111827" stroke-width="1.2" fill="none"/>`
              : '';
          const range = s.intervals?.[c] ? ` (${format(s.intervals[c]![0])} to ${format(s.intervals[c]![1])})` : '';
          return `<rect class="bar" x="${(bx + 1).toFixed(1)}" y="${top.toFixed(1)}" width="${Math.max(1, barW - 2).toFixed(1)}" height="${height.toFixed(1)}" fill="${s.colors?.[c] ?? s.color}"><title>${escapeXml(`${s.name} · ${category}: ${format(v)}${range}`)}</title></rect>${whisker}`;
        })
        .join('');
      const fits = Math.max(6, Math.floor(band / 7));
      const label = category.length > fits ? category.slice(0, fits - 1) + '…' : category;
      return `${rects}<text class="tick" x="${(MARGIN.left + c * band + band / 2).toFixed(1)}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${escapeXml(label)}</text>`;
    })
    .join('');
  const zero = `<line class="zero" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}"/>`;
  return frame(options.title, yAxis(yRange.ticks, y, options.yLabel, format) + bars + zero, series.length > 1 ? series : []);
}
