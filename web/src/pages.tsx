// The dashboard's pages. Each fetches what it shows from the operator API and fetches it
// again when the change stream reports a change of that kind (the `versions` counters).
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, type AuditEntry, type ChainVerification, type Member, type MemberMetric, type ModelSummary, type PrivacyDataset, type Round, type Run } from './api.js';
import { LineChart } from './chart.js';

export interface Versions {
  runs: number;
  round: number;
  members: number;
  audit: number;
}
export interface PageProps {
  token: string;
  versions: Versions;
  onUnauthorized: (reason: string) => void;
}

type Loaded<T> = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ok'; data: T };

/** Loads on mount and whenever `deps` change; keeps showing the last data while refetching. */
export function useData<T>(props: PageProps, load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [result, setResult] = useState<Loaded<T>>({ state: 'loading' });
  useEffect(() => {
    let current = true;
    load().then(
      (data) => current && setResult({ state: 'ok', data }),
      (error: unknown) => {
        if (!current) return;
        if (error instanceof ApiError && error.status === 401) props.onUnauthorized(error.message);
        setResult({ state: 'error', message: error instanceof Error ? error.message : String(error) });
      },
    );
    return () => {
      current = false;
    };
  }, deps);
  return result;
}

export function Show<T>(props: { loaded: Loaded<T>; children: (data: T) => ComponentChildren }) {
  if (props.loaded.state === 'loading') return <p class="note" role="status">Loading…</p>;
  if (props.loaded.state === 'error') return <p class="error" role="alert">Could not load: {props.loaded.message}</p>;
  return <>{props.children(props.loaded.data)}</>;
}

export const time = (ms: number | null) => (ms === null ? 'never' : new Date(ms).toLocaleString());
const ago = (ms: number | null) => {
  if (ms === null) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : time(ms);
};
const bytes = (n: number) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);
const pct = (v: number | undefined | null) => (v === undefined || v === null ? '–' : `${(v * 100).toFixed(1)}%`);
const runName = (run: Run) => run.config.name ?? run.runId;

type Status = 'training' | 'online' | 'offline' | 'revoked';
/** A member online while some run is running is taking part in it (every round asks all available members). */
function memberStatus(member: Member, anyRunning: boolean): Status {
  if (member.revoked) return 'revoked';
  if (!member.online) return 'offline';
  return anyRunning ? 'training' : 'online';
}

function Badge(props: { value: string }) {
  return <span class={`badge ${props.value}`}>{props.value}</span>;
}

export function OverviewPage(props: PageProps) {
  const loaded = useData(
    props,
    async () => {
      const [{ members }, { runs }] = await Promise.all([get<{ members: Member[] }>(props.token, '/v1/members'), get<{ runs: Run[] }>(props.token, '/v1/runs')]);
      return { members, runs };
    },
    [props.versions.members, props.versions.runs, props.versions.round],
  );
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Consortium</h1>
      <Show loaded={loaded}>
        {({ members, runs }) => {
          const running = runs.filter((r) => r.status === 'running' || r.status === 'pending');
          const online = members.filter((m) => m.online && !m.revoked).length;
          return (
            <>
              <div class="cards">
                <div class="card"><span class="big">{members.length}</span> members</div>
                <div class="card"><span class="big">{online}</span> online</div>
                <div class="card"><span class="big">{runs.length}</span> runs</div>
                <div class="card"><span class="big">{running.length}</span> running</div>
              </div>
              {running.map((r) => (
                <p class="note">
                  Run <a href={`#/runs/${encodeURIComponent(r.runId)}`}>{runName(r)}</a> is {r.status}.
                </p>
              ))}
              <h2>Members</h2>
              {members.length === 0 ? (
                <p class="empty">No member has enrolled yet. Members join with <code>concord node --coordinator &lt;url&gt;</code>.</p>
              ) : (
                <div class="table-wrap">
                  <table aria-label="Members">
                    <thead>
                      <tr><th>Member</th><th>Status</th><th>Last seen</th><th>Dataset</th><th class="num">Training</th><th class="num">Holdout</th></tr>
                    </thead>
                    <tbody>
                      {members.map((m) => (
                        <tr>
                          <td>{m.name}</td>
                          <td><Badge value={memberStatus(m, running.length > 0)} /></td>
                          <td>{ago(m.lastSeenAt)}</td>
                          <td>{m.dataset.name}{m.dataset.classes ? ` · ${m.dataset.classes} classes` : ''}</td>
                          <td class="num">{m.dataset.numExamples}</td>
                          <td class="num">{m.dataset.numHoldout ?? '–'}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </>
          );
        }}
      </Show>
    </section>
  );
}

export function RunsPage(props: PageProps) {
  const loaded = useData(props, () => get<{ runs: Run[] }>(props.token, '/v1/runs'), [props.versions.runs, props.versions.round]);
  return (
    <section aria-labelledby="runs-title">
      <h1 id="runs-title">Runs</h1>
      <Show loaded={loaded}>
        {({ runs }) =>
          runs.length === 0 ? (
            <p class="empty">No runs yet. Start one with <code>concord runs start</code> or <code>npm start</code>.</p>
          ) : (
            <div class="table-wrap">
              <table aria-label="Runs">
                <thead>
                  <tr><th>Run</th><th>Status</th><th>Strategy</th><th class="num">Rounds</th><th>Privacy</th><th>Started</th></tr>
                </thead>
                <tbody>
                  {[...runs].reverse().map((r) => (
                    <tr>
                      <td><a href={`#/runs/${encodeURIComponent(r.runId)}`}>{runName(r)}</a></td>
                      <td><Badge value={r.status} /></td>
                      <td>{r.config.strategy.name}</td>
                      <td class="num">{r.config.rounds}</td>
                      <td>{[r.config.secureAggregation ? 'secure aggregation' : null, r.config.differentialPrivacy ? 'DP' : null].filter(Boolean).join(', ') || 'none'}</td>
                      <td>{time(r.createdAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Show>
    </section>
  );
}

/** The run's model: family and size in one line, its layers (as Keras' summary lists them) on demand. */
function ModelSection({ model }: { model: ModelSummary }) {
  return (
    <details class="model" data-testid="model-summary">
      <summary>
        Model: <strong>{model.family}</strong> · {model.parameters.toLocaleString('en')} parameters · {model.layers.length} layers
      </summary>
      <div class="table-wrap">
        <table aria-label="Model layers">
          <thead>
            <tr><th>Layer</th><th>Type</th><th>Output</th><th class="num">Params</th></tr>
          </thead>
          <tbody>
            {model.layers.map((l) => (
              <tr>
                <td>{l.name}</td>
                <td>{l.type}</td>
                <td>{l.outputShape.map((s) => s.join('×')).join(', ')}</td>
                <td class="num">{l.parameters.toLocaleString('en')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

export function RunPage(props: PageProps & { runId: string }) {
  const id = encodeURIComponent(props.runId);
  const loaded = useData(
    props,
    async () => {
      const [detail, metrics, members, model] = await Promise.all([
        get<{ run: Run; rounds: Round[] }>(props.token, `/v1/runs/${id}`),
        get<{ members: MemberMetric[] }>(props.token, `/v1/runs/${id}/metrics`),
        get<{ members: Member[] }>(props.token, '/v1/members').catch(() => ({ members: [] as Member[] })),
        get<ModelSummary>(props.token, `/v1/runs/${id}/architecture`).catch(() => null),
      ]);
      return { ...detail, metrics: metrics.members, names: new Map(members.members.map((m) => [m.memberId, m.name])), model };
    },
    [props.runId, props.versions.round, props.versions.runs],
  );
  return (
    <section aria-labelledby="run-title">
      <p><a href="#/runs">← All runs</a></p>
      <Show loaded={loaded}>
        {({ run, rounds, metrics, names, model }) => {
          const x = rounds.map((r) => r.round);
          const name = (memberId: string) => names.get(memberId) ?? memberId;
          const evaluations = metrics.filter((m) => m.phase === 'evaluate');
          const memberIds = [...new Set(evaluations.map((m) => m.memberId))];
          const last = rounds.at(-1);
          return (
            <>
              <h1 id="run-title">{runName(run)} <Badge value={run.status} /></h1>
              <p class="note">
                <span data-testid="round-count" aria-live="polite">Round {last?.round ?? 0} of {run.config.rounds}</span> · {run.config.strategy.name} · secure aggregation {run.config.secureAggregation ? 'on' : 'off'} · differential privacy {run.config.differentialPrivacy ? 'on' : 'off'}
                {last ? ` · accuracy ${pct(last.serverEval?.metrics.accuracy ?? last.evalMetrics.accuracy)}` : ''}
              </p>
              {run.error ? <p class="error" role="alert">{run.error}</p> : null}
              {model ? <ModelSection model={model} /> : null}
              <div class="charts">
                <LineChart
                  title="Global accuracy"
                  yLabel="accuracy"
                  percent
                  x={x}
                  series={[
                    { label: 'server test', values: rounds.map((r) => r.serverEval?.metrics.accuracy ?? null) },
                    { label: 'federated holdout', values: rounds.map((r) => r.evalMetrics.accuracy ?? null) },
                  ]}
                />
                <LineChart
                  title="Loss"
                  yLabel="loss"
                  x={x}
                  series={[
                    { label: 'server test', values: rounds.map((r) => r.serverEval?.loss ?? null) },
                    { label: 'federated holdout', values: rounds.map((r) => r.evalLoss) },
                    { label: 'training', values: rounds.map((r) => r.trainMetrics.loss ?? null) },
                  ]}
                />
                <LineChart
                  title="Holdout accuracy per member"
                  yLabel="accuracy"
                  percent
                  x={x}
                  series={memberIds.map((memberId) => ({
                    label: name(memberId),
                    values: rounds.map((r) => evaluations.find((m) => m.round === r.round && m.memberId === memberId)?.metrics.accuracy ?? null),
                  }))}
                />
              </div>
              <h2>Rounds</h2>
              {rounds.length === 0 ? (
                <p class="empty">No round has completed yet.</p>
              ) : (
                <div class="table-wrap">
                  <table aria-label="Round timeline">
                    <thead>
                      <tr><th class="num">Round</th><th>Reported</th><th>Dropped</th><th class="num">Bytes moved</th><th class="num">Seconds</th></tr>
                    </thead>
                    <tbody>
                      {[...rounds].reverse().map((r) => {
                        const moved = metrics.filter((m) => m.round === r.round).reduce((s, m) => s + m.bytesIn + m.bytesOut, 0);
                        return (
                          <tr>
                            <td class="num">{r.round}</td>
                            <td>{r.participants.map(name).sort().join(', ') || '–'}</td>
                            <td>{r.failures.length === 0 ? '–' : r.failures.map((f) => `${name(f.memberId)}: ${f.reason}`).join('; ')}</td>
                            <td class="num">{bytes(moved)}</td>
                            <td class="num">{((r.completedAt - r.startedAt) / 1000).toFixed(1)}</td>
                          </tr>
                        );
                      })}
                    </tbody>
                  </table>
                </div>
              )}
            </>
          );
        }}
      </Show>
    </section>
  );
}

export function PrivacyPage(props: PageProps) {
  const loaded = useData(
    props,
    async () => {
      const [{ datasets }, { runs }] = await Promise.all([get<{ datasets: PrivacyDataset[] }>(props.token, '/v1/privacy'), get<{ runs: Run[] }>(props.token, '/v1/runs')]);
      return { datasets, runs };
    },
    [props.versions.round, props.versions.runs],
  );
  return (
    <section aria-labelledby="privacy-title">
      <h1 id="privacy-title">Privacy</h1>
      <Show loaded={loaded}>
        {({ datasets, runs }) => (
          <>
            <h2>Privacy budget (ε) per dataset</h2>
            {datasets.length === 0 ? (
              <p class="empty">No dataset has spent privacy budget: no run used differential privacy.</p>
            ) : (
              <ul class="bars" aria-label="Epsilon spent against budget per dataset">
                {datasets.map((d) => {
                  const scale = Math.max(d.budget ?? 0, d.epsilon) || 1;
                  const over = d.budget !== null && d.epsilon > d.budget;
                  return (
                    <li aria-label={`${d.datasetId}: epsilon ${d.epsilon.toFixed(3)} spent of ${d.budget === null ? 'no budget' : d.budget}`}>
                      <span class="bar-label">{d.datasetId}</span>
                      <span class="bar-track">
                        <span class={`bar-fill ${over ? 'over' : ''}`} style={{ width: `${(100 * d.epsilon) / scale}%` }} />
                        {d.budget !== null ? <span class="bar-budget" style={{ left: `${(100 * d.budget) / scale}%` }} title="budget" /> : null}
                      </span>
                      <span class="bar-value">
                        ε {d.epsilon.toFixed(2)} / {d.budget === null ? '–' : d.budget} · δ {d.delta}
                      </span>
                    </li>
                  );
                })}
              </ul>
            )}
            <h2>Protection per run</h2>
            {runs.length === 0 ? (
              <p class="empty">No runs yet.</p>
            ) : (
              <div class="table-wrap">
                <table aria-label="Privacy protections per run">
                  <thead>
                    <tr><th>Run</th><th>Secure aggregation</th><th>Differential privacy</th></tr>
                  </thead>
                  <tbody>
                    {[...runs].reverse().map((r) => (
                      <tr>
                        <td><a href={`#/runs/${encodeURIComponent(r.runId)}`}>{runName(r)}</a></td>
                        <td><Badge value={r.config.secureAggregation ? 'on' : 'off'} /></td>
                        <td><Badge value={r.config.differentialPrivacy ? 'on' : 'off'} /></td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </>
        )}
      </Show>
    </section>
  );
}

const AUDIT_PAGE = 200;

export function AuditPage(props: PageProps) {
  const loaded = useData(
    props,
    async () => {
      const { count } = await get<{ count: number }>(props.token, '/v1/audit?limit=1');
      const [{ entries }, check] = await Promise.all([
        get<{ entries: AuditEntry[] }>(props.token, `/v1/audit?fromSeq=${Math.max(1, count - AUDIT_PAGE + 1)}&limit=${AUDIT_PAGE}`),
        get<{ verification: ChainVerification }>(props.token, '/v1/audit/verification').catch(() => null),
      ]);
      return { count, entries, verification: check?.verification ?? null };
    },
    [props.versions.audit],
  );
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <Show loaded={loaded}>
        {({ count, entries, verification }) => (
          <>
            {verification === null ? (
              <p class="note">Chain verification is not available to this token.</p>
            ) : verification.ok ? (
              <p class="verified" role="status">✔ Chain verified: {verification.verified ?? count} signed, hash-linked entries.</p>
            ) : (
              <p class="error" role="alert">✘ Chain broken at entry {verification.firstBad}: {verification.reason}</p>
            )}
            {entries.length === 0 ? (
              <p class="empty">The audit log is empty.</p>
            ) : (
              <>
                <p class="note">Newest {entries.length} of {count} entries.</p>
                <div class="table-wrap">
                  <table aria-label="Audit log entries">
                    <thead>
                      <tr><th class="num">#</th><th>Time</th><th>Actor</th><th>Event</th><th>Subject</th></tr>
                    </thead>
                    <tbody>
                      {[...entries].reverse().map((e) => (
                        <tr>
                          <td class="num">{e.seq}</td>
                          <td>{time(e.at)}</td>
                          <td class="mono">{e.actor}</td>
                          <td>{e.kind}</td>
                          <td class="mono">{e.subject}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </>
            )}
          </>
        )}
      </Show>
    </section>
  );
}
