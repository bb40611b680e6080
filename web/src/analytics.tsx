// The analytics page (#/analytics): every federated query with what it released, how it
// was protected, and its chart — histograms, Kaplan–Meier curves, correlation heat-maps —
// drawn by the same SVG code as the HTML report (src/report/analytics-charts.ts), so the
// dashboard and the report never disagree.
import { get } from './api.js';
import { type PageProps, Show, time, useData } from './pages.js';
import { analyticsChart } from '../../src/report/analytics-charts.js';
import type { AnalyticsResult } from '../../src/analytics/release.js';
import './analytics.css';

interface AnalyticsRecord {
  queryId: string;
  query: { type: string; name?: string };
  submittedBy: string;
  status: 'running' | 'completed' | 'failed';
  error: string | null;
  createdAt: number;
  /** What the coordinator released (src/analytics/release.ts). */
  result: AnalyticsResult | null;
}

function Protection(props: { result: NonNullable<AnalyticsRecord['result']> }) {
  const r = props.result;
  const secure = r.secureAggregation ? 'secure aggregation' : 'no secure aggregation';
  return <p class="note">{r.exact ? `exact · cells under ${r.minCount} records suppressed · ${secure}` : `DP ε ${r.privacy!.epsilon}, δ ${r.privacy!.delta} · ${secure}`} · {r.contributors} members</p>;
}

function QueryCard(props: { record: AnalyticsRecord }) {
  const { record } = props;
  const title = record.query.name ?? record.query.type;
  if (record.status !== 'completed' || !record.result) {
    return (
      <article class="analytics-query" aria-label={`${title}: ${record.status}`}>
        <h2>{title}</h2>
        <p class={record.status === 'failed' ? 'error' : 'note'}>{record.status}{record.error ? `: ${record.error}` : ''}</p>
      </article>
    );
  }
  const chart = analyticsChart(title, record.result.presentation);
  const suppressed = record.result.values.filter((v) => v.value === null).length;
  return (
    <article class="analytics-query" aria-label={`${title}: ${record.result.values.length} values, ${suppressed} suppressed`}>
      <h2>{title}</h2>
      <Protection result={record.result} />
      {chart ? <div class="analytics-chart" dangerouslySetInnerHTML={{ __html: chart }} /> : null}
      <details open={!chart}>
        <summary>{record.result.values.length} released values{suppressed ? `, ${suppressed} suppressed` : ''}</summary>
        <table class="values">
          <tbody>
            {record.result.values.map((v) => (
              <tr>
                <td>{v.key}</td>
                <td>{v.value === null ? <span class="suppressed">suppressed: {v.suppressed}</span> : Number(v.value.toPrecision(6))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
      <p class="note">
        {record.queryId} · {record.submittedBy} · {time(record.createdAt)}
      </p>
    </article>
  );
}

export function AnalyticsPage(props: PageProps) {
  const loaded = useData(props, () => get<{ queries: AnalyticsRecord[] }>(props.token, '/v1/analytics'), [props.versions.audit]);
  return (
    <section aria-labelledby="analytics-title" class="analytics">
      <h1 id="analytics-title">Analytics</h1>
      <p class="note">
        Statistics over every member’s data that no one pooled: each released number is exact with the minimum count, or differentially private with the ε stated. <a href="/v1/analytics/report">HTML report</a>
      </p>
      <Show loaded={loaded}>{({ queries }) => (queries.length === 0 ? <p class="empty">No queries yet: run one with concord analytics run --query q.json.</p> : [...queries].reverse().map((r) => <QueryCard record={r} />))}</Show>
    </section>
  );
}
