// A line chart over rounds, drawn by uPlot. The chart is made once and given new data
// as rounds arrive, so live updates do not flicker; it follows its container's width.
// Hovering (or touching) a round shows every series' value there in a tooltip. Member
// series take their colour from memberColors (src/report/colors.ts), as the report does.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { PALETTE } from '../../src/report/colors.js';

export interface Series {
  label: string;
  values: (number | null)[];
  /** Fixed colour (a member's, or a global series'); default: palette by position. */
  color?: string;
  dashed?: boolean;
}

const HEIGHT = 250;
const STEPS = [1, 2, 2.5, 5].flatMap((m) => [-4, -3, -2, -1, 0, 1, 2, 3, 4, 5].map((e) => m * 10 ** e)).sort((a, b) => a - b);

/** A tooltip that follows the cursor with the round and each series' value there. */
function tooltipPlugin(format: (v: number | null) => string): uPlot.Plugin {
  let tip: HTMLDivElement;
  return {
    hooks: {
      init: (u) => {
        tip = document.createElement('div');
        tip.className = 'chart-tip';
        tip.setAttribute('role', 'tooltip');
        tip.style.display = 'none';
        u.over.appendChild(tip);
        u.over.addEventListener('mouseleave', () => (tip.style.display = 'none'));
      },
      setCursor: (u) => {
        const i = u.cursor.idx;
        if (i === null || i === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
          tip.style.display = 'none';
          return;
        }
        const rows = u.series
          .slice(1)
          .map((s, k) => ({ label: String(s.label), color: typeof s.stroke === 'function' ? '#000' : String(s.stroke), value: u.data[k + 1]![i] as number | null }))
          .filter((r) => r.value !== null && r.value !== undefined);
        tip.replaceChildren();
        const head = document.createElement('b');
        head.textContent = `round ${u.data[0]![i]}`;
        tip.appendChild(head);
        for (const r of rows) {
          const line = document.createElement('div');
          const dot = document.createElement('span');
          dot.className = 'dot';
          dot.style.background = r.color;
          line.append(dot, `${r.label}: ${format(r.value)}`);
          tip.appendChild(line);
        }
        tip.style.display = rows.length ? 'block' : 'none';
        // Keep it inside the plot: flip to the left of the cursor in the right half.
        const left = u.cursor.left;
        const flip = left > u.over.clientWidth / 2;
        tip.style.left = flip ? '' : `${left + 12}px`;
        tip.style.right = flip ? `${u.over.clientWidth - left + 12}px` : '';
        tip.style.top = `${Math.max(0, (u.cursor.top ?? 0) - 10)}px`;
      },
    },
  };
}

export function LineChart(all: { title: string; x: number[]; series: Series[]; yLabel: string; percent?: boolean; testId?: string }) {
  // A series this coordinator never reports (no server test set, say) is left out, not drawn empty.
  const props = { ...all, series: all.series.filter((s) => s.values.some((v) => v !== null && v !== undefined)) };
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = props.series.map((s) => `${s.label}:${s.color ?? ''}`).join('\u0000');
  const points = props.x.length;

  useEffect(() => {
    const el = box.current!;
    const format = (v: number | null) => (v === null ? '–' : props.percent ? `${(v * 100).toFixed(1)}%` : v.toFixed(3));
    const tick = (v: number) => (props.percent ? `${Math.round(v * 1000) / 10}%` : Number(v.toPrecision(3)).toString());
    const options: uPlot.Options = {
      width: Math.max(el.clientWidth, 240),
      height: HEIGHT,
      scales: { x: { time: false } },
      axes: [
        // Whole rounds only; a tick every ~50 px.
        { label: 'round', stroke: '#475569', grid: { stroke: '#e2e8f0' }, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], space: 36, values: (_u, vals) => vals.map((v) => (Number.isInteger(v) ? String(v) : '')) },
        // Finer steps than uPlot's default, so a chart spanning a few points still shows 4–6 ticks.
        { label: props.yLabel, stroke: '#475569', grid: { stroke: '#e2e8f0' }, size: 56, space: 24, incrs: STEPS, values: (_u, vals) => vals.map(tick) },
      ],
      series: [
        { label: 'round' },
        ...props.series.map((s, i) => ({
          label: s.label,
          stroke: s.color ?? PALETTE[i % PALETTE.length],
          width: 2,
          ...(s.dashed ? { dash: [6, 4] } : {}),
          points: { show: true, size: 5 },
          value: (_u: uPlot, v: number | null) => format(v),
          spanGaps: true,
        })),
      ],
      cursor: { points: { size: 7 }, drag: { x: false, y: false } },
      legend: { live: false },
      plugins: [tooltipPlugin(format)],
    };
    plot.current = new uPlot(options, [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(el.clientWidth, 240), height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuilt only when the set of series changes; data updates go through setData below.
  }, [shape, props.yLabel, props.percent]);

  useEffect(() => {
    plot.current?.setData([props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData);
  });

  const summary = `${props.title}: ${points} round${points === 1 ? '' : 's'}, ${props.series.map((s) => `${s.label} ${lastValue(s.values, props.percent)}`).join(', ')}`;
  return (
    <figure class="chart" role="img" aria-label={summary} data-points={points} data-testid={props.testId}>
      <figcaption>{props.title}</figcaption>
      {points === 0 || props.series.length === 0 ? <p class="empty">{points === 0 ? 'No completed rounds yet.' : 'No member reported this metric.'}</p> : null}
      <div ref={box} class="plot" aria-hidden="true" />
    </figure>
  );
}

function lastValue(values: (number | null)[], percent?: boolean): string {
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i];
    if (v !== null && v !== undefined) return percent ? `${(v * 100).toFixed(1)}%` : v.toFixed(3);
  }
  return 'no data';
}
