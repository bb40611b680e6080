// A line chart over rounds, drawn by uPlot. The chart is made once and given new data
// as rounds arrive, so live updates do not flicker; it follows its container's width.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  values: (number | null)[];
}

const COLORS = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#db2777', '#0891b2', '#65a30d'];

export function LineChart(all: { title: string; x: number[]; series: Series[]; yLabel: string; percent?: boolean }) {
  // A series this coordinator never reports (no server test set, say) is left out, not drawn empty.
  const props = { ...all, series: all.series.filter((s) => s.values.some((v) => v !== null && v !== undefined)) };
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = props.series.map((s) => s.label).join('\u0000');
  const points = props.x.length;

  useEffect(() => {
    const el = box.current!;
    const format = (v: number | null) => (v === null ? '–' : props.percent ? `${(v * 100).toFixed(1)}%` : v.toFixed(3));
    const options: uPlot.Options = {
      width: Math.max(el.clientWidth, 240),
      height: 220,
      scales: { x: { time: false } },
      axes: [
        { label: 'round', stroke: '#475569', grid: { stroke: '#e2e8f0' }, incrs: [1, 2, 5, 10, 20, 50, 100] },
        { label: props.yLabel, stroke: '#475569', grid: { stroke: '#e2e8f0' }, size: 64, values: (_u, vals) => vals.map((v) => format(v)) },
      ],
      series: [{ label: 'round' }, ...props.series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 2, points: { show: true, size: 5 }, value: (_u: uPlot, v: number | null) => format(v), spanGaps: true }))],
      legend: { live: false },
    };
    plot.current = new uPlot(options, [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(el.clientWidth, 240), height: 220 }));
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
    <figure class="chart" role="img" aria-label={summary} data-points={points}>
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
