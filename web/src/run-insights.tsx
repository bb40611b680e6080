// A finished run's contributions (values with their 95 % intervals where the valuation
// gives them, and pairs it cannot tell apart) and every run's energy and CO₂ (as a range
// where the footprint states one). Bars are HTML, coloured per member like the charts.
import { sortedMembers } from '../../src/report/colors.js';
import { get, type Co2, type Contributions, type Footprint } from './api.js';
import { Show, useData, type PageProps } from './pages.js';

const points = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v * 100).toFixed(2)}`;
export const grams = (g: number) => (g >= 1000 ? `${(g / 1000).toFixed(2)} kg` : g >= 10 ? `${g.toFixed(1)} g` : g >= 1 ? `${g.toFixed(2)} g` : `${Number(g.toPrecision(2))} g`);
/** "4.10 g (2.00–9.30 g)" with a range, one number without. */
export const co2Text = (c: Co2) =>
  c.co2GramsLow !== undefined && c.co2GramsHigh !== undefined && grams(c.co2GramsLow) !== grams(c.co2GramsHigh) ? `${grams(c.co2Grams)} (${grams(c.co2GramsLow)}–${grams(c.co2GramsHigh)})` : grams(c.co2Grams);

export function ContributionBars(props: PageProps & { runId: string; colors: Map<string, string> }) {
  const loaded = useData(props, () => get<Contributions>(props.token, `/v1/runs/${encodeURIComponent(props.runId)}/contributions`), [props.runId]);
  return (
    <Show loaded={loaded}>
      {(c) => {
        if (!c.available || !c.values) {
          return (
            <>
              <p class="note" data-testid="contributions-unavailable">Contribution values are unavailable: {c.reason ?? 'no reason given'}.</p>
              {c.participation.length ? (
                <p class="note">What is known: {sortedMembers(c.participation.map((p) => p.name)).map((n) => { const p = c.participation.find((q) => q.name === n)!; return `${n} ${p.examples.toLocaleString('en')} examples in ${p.rounds} rounds`; }).join(' · ')}.</p>
              ) : null}
            </>
          );
        }
        const names = sortedMembers(Object.keys(c.values));
        const interval = (n: string): [number, number] | null => {
          const u = c.uncertainty?.[n];
          // An interval of no width (no sampling error measured) is not drawn.
          if (u) return u.high - u.low > 1e-6 ? [u.low, u.high] : null;
          const se = c.standardErrors?.[n];
          return se ? [c.values![n]! - 1.96 * se, c.values![n]! + 1.96 * se] : null;
        };
        const all = names.flatMap((n) => [c.values![n]!, ...(interval(n) ?? [])]);
        const lo = Math.min(0, ...all);
        const hi = Math.max(0, ...all);
        const span = hi - lo || 1;
        const at = (v: number) => `${((v - lo) / span) * 100}%`;
        return (
          <>
            <p class="note">
              Method: {c.method ?? 'default'} · accuracy points each member added
              {!names.some((n) => interval(n)) ? ' (no sampling error measured)' : c.uncertainty ? ', with 95 % intervals' : ', ±1.96 standard errors (Monte Carlo)'}.
            </p>
            <ul class="value-bars" aria-label="Contribution per member">
              {names.map((n) => {
                const v = c.values![n]!;
                const range = interval(n);
                return (
                  <li aria-label={`${n}: ${points(v)} points${range ? `, 95 % interval ${points(range[0])} to ${points(range[1])}` : ''}`}>
                    <span class="bar-label">{n}</span>
                    <span class="bar-track zeroed">
                      <span class="zero-line" style={{ left: at(0) }} />
                      <span class="bar-fill" style={{ left: at(Math.min(0, v)), width: `${(Math.abs(v) / span) * 100}%`, background: props.colors.get(n) }} />
                      {range ? <span class="whisker" style={{ left: at(range[0]), width: `${((range[1] - range[0]) / span) * 100}%` }} /> : null}
                    </span>
                    <span class="bar-value">
                      {points(v)}
                      {range ? ` (${points(range[0])} to ${points(range[1])})` : ''}
                    </span>
                  </li>
                );
              })}
            </ul>
            {c.indistinguishable?.length ? (
              <p class="note" data-testid="indistinguishable">Not distinguishable at this precision: {c.indistinguishable.map(([a, b]) => `${a} and ${b}`).join('; ')}.</p>
            ) : null}
          </>
        );
      }}
    </Show>
  );
}

export function EnergySection({ footprint, colors }: { footprint: Footprint | null; colors: Map<string, string> }) {
  if (!footprint || footprint.members.length === 0) return <p class="note">No energy reported yet: it appears when a round completes.</p>;
  const f = footprint;
  const members = sortedMembers(f.members.map((m) => m.name)).map((n) => f.members.find((m) => m.name === n)!);
  const most = Math.max(...members.map((m) => m.co2Grams)) || 1;
  return (
    <>
      <p class="note" data-testid="footprint-total">
        This run: <strong>{co2Text(f.total)}</strong> CO₂e for {(f.total.kWh * 1000).toFixed(2)} Wh ({(f.total.trainKWh * 1000).toFixed(2)} Wh training, {(f.total.networkKWh * 1000).toFixed(2)} Wh network) · centralised alternative {co2Text(f.centralized)}.
      </p>
      <ul class="bars" aria-label="CO2e per member">
        {members.map((m) => (
          <li aria-label={`${m.name}: ${grams(m.co2Grams)} CO2e`}>
            <span class="bar-label">{m.name}</span>
            <span class="bar-track">
              <span class="bar-fill" style={{ width: `${(100 * m.co2Grams) / most}%`, background: colors.get(m.name) }} />
            </span>
            <span class="bar-value">
              {grams(m.co2Grams)} · {(m.trainKWh * 1000).toFixed(2)} Wh {m.energySource}
            </span>
          </li>
        ))}
      </ul>
      <details class="model">
        <summary>Assumptions</summary>
        <ul class="note">
          {f.assumptions.map((a) => (
            <li>{a}</li>
          ))}
        </ul>
      </details>
    </>
  );
}
