// The dashboard's pages. Each fetches what it shows from the operator API and fetches it
// again when the change stream reports a change of that kind (the `versions` counters).
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, type AuditEntry, type ChainVerification, type Member, type PrivacyDataset, type Round, type Run } from './api.js';

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
export const pct = (v: number | undefined | null) => (v === undefined || v === null ? '–' : `${(v * 100).toFixed(1)}%`);
const runName = (run: Run) => run.config.name ?? run.runId;
/** 42 s, 3 min 5 s, 1 h 12 min. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

type Status = 'training' | 'online' | 'offline' | 'revoked';
/** A member online while some run is running is taking part in it (every round asks all available members). */
function memberStatus(member: Member, anyRunning: boolean): Status {
  if (member.revoked) return 'revoked';
  if (!member.online) return 'offline';
  return anyRunning ? 'training' : 'online';
}

export function Badge(props: { value: string }) {
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
                      {[...members].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((m) => (
                        <tr>
                          <td class="ident"><a href={`#/members/${encodeURIComponent(m.memberId)}`}>{m.name}</a></td>
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

/** The runs, newest first, each with its final accuracy and how long it took (or has taken). */
export function MemberPage(props: PageProps & { memberId: string }) {
  const loaded = useData(
    props,
    async () => {
      const [{ members }, { runs }] = await Promise.all([get<{ members: Member[] }>(props.token, '/v1/members'), get<{ runs: Run[] }>(props.token, '/v1/runs')]);
      return { member: members.find((m) => m.memberId === props.memberId) ?? null, running: runs.some((r) => r.status === 'running' || r.status === 'pending') };
    },
    [props.memberId, props.versions.members, props.versions.runs],
  );
  return (
    <section aria-labelledby="member-title">
      <p><a href="#/">← Consortium</a></p>
      <Show loaded={loaded}>
        {({ member, running }) =>
          member === null ? (
            <>
              <h1 id="member-title">Unknown member</h1>
              <p class="error" role="alert">No member has the id <code>{props.memberId}</code>.</p>
            </>
          ) : (
            <>
              <h1 id="member-title">{member.name} <Badge value={memberStatus(member, running)} /></h1>
              <dl class="clauses">
                <dt>Member id</dt><dd><code>{member.memberId}</code></dd>
                <dt>Dataset</dt><dd>{member.dataset.name}{member.dataset.classes ? ` · ${member.dataset.classes} classes` : ''}{member.dataset.inputShape ? ` · input ${member.dataset.inputShape.join('×')}` : ''}</dd>
                <dt>Examples</dt><dd>{member.dataset.numExamples.toLocaleString('en')} training, {member.dataset.numHoldout?.toLocaleString('en') ?? '–'} holdout</dd>
                <dt>Enrolled</dt><dd>{time(member.enrolledAt)}</dd>
                <dt>Last seen</dt><dd>{ago(member.lastSeenAt)}</dd>
              </dl>
            </>
          )
        }
      </Show>
    </section>
  );
}

export function RunsPage(props: PageProps) {
  const loaded = useData(
    props,
    async () => {
      const { runs } = await get<{ runs: Run[] }>(props.token, '/v1/runs');
      const newest = [...runs].reverse().slice(0, 100);
      const details = await Promise.all(newest.map((r) => get<{ rounds: Round[] }>(props.token, `/v1/runs/${encodeURIComponent(r.runId)}`).catch(() => ({ rounds: [] as Round[] }))));
      return newest.map((run, i) => ({ run, rounds: details[i]!.rounds }));
    },
    [props.versions.runs, props.versions.round],
  );
  return (
    <section aria-labelledby="runs-title">
      <h1 id="runs-title">Runs</h1>
      <Show loaded={loaded}>
        {(rows) =>
          rows.length === 0 ? (
            <p class="empty">No runs yet. Start one with <code>concord run start</code> or <code>npm start</code>.</p>
          ) : (
            <div class="table-wrap as-cards">
              <table aria-label="Runs">
                <thead>
                  <tr><th>Run</th><th>Status</th><th class="num">Accuracy</th><th class="num">Rounds</th><th class="num">Duration</th><th>Strategy</th><th>Privacy</th><th>Started</th><th>Failure or stop reason</th></tr>
                </thead>
                <tbody>
                  {rows.map(({ run: r, rounds }) => {
                    const last = rounds.at(-1);
                    const live = r.status === 'running' || r.status === 'pending';
                    return (
                      <tr>
                        <td class="ident">
                          <a href={`#/runs/${encodeURIComponent(r.runId)}`}>{runName(r)}</a>
                          <span class="id mono">{r.runId}</span>
                        </td>
                        <td data-label="Status"><Badge value={r.status} /></td>
                        <td class="num" data-label="Accuracy">{pct(last ? (last.serverEval?.metrics.accuracy ?? last.evalMetrics.accuracy) : null)}</td>
                        <td class="num" data-label="Rounds">{last?.round ?? 0}/{r.config.rounds}</td>
                        <td class="num" data-label="Duration">{duration(((live ? Date.now() : r.updatedAt) - r.createdAt) / 1000)}</td>
                        <td data-label="Strategy">{r.config.strategy.name}</td>
                        <td data-label="Privacy">{[r.config.secureAggregation ? 'secure aggregation' : null, r.config.differentialPrivacy ? 'DP' : null].filter(Boolean).join(', ') || 'none'}</td>
                        <td class="nowrap" data-label="Started">{time(r.createdAt)}</td>
                        <td class="reason" data-label="Reason">{r.error ?? '–'}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )
        }
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
                {[...datasets].sort((a, b) => (a.datasetId < b.datasetId ? -1 : 1)).map((d) => {
                  const scale = Math.max(d.budget ?? 0, d.epsilon) || 1;
                  // Amber from 80 % of the budget, red once it is spent.
                  const used = d.budget ? d.epsilon / d.budget : 0;
                  const level = used >= 1 ? 'over' : used >= 0.8 ? 'near' : '';
                  return (
                    <li aria-label={`${d.datasetId}: epsilon ${d.epsilon.toFixed(3)} spent of ${d.budget === null ? 'no budget' : d.budget}`}>
                      <span class="bar-label">{d.datasetId}</span>
                      <span class="bar-track">
                        <span class={`bar-fill ${level}`} data-level={level || 'ok'} style={{ width: `${(100 * d.epsilon) / scale}%` }} />
                        {d.budget !== null ? <span class="bar-budget" style={{ left: `${(100 * d.budget) / scale}%` }} title="budget" /> : null}
                      </span>
                      <span class="bar-value">
                        ε {d.epsilon.toFixed(2)} / {d.budget === null ? '–' : d.budget}{d.budget ? ` (${Math.round(used * 100)} %)` : ''} · δ {d.delta}
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
                    <tr><th>Run</th><th><abbr title="secure aggregation">SecAgg</abbr></th><th><abbr title="differential privacy">DP</abbr></th></tr>
                  </thead>
                  <tbody>
                    {[...runs].reverse().map((r) => (
                      <tr>
                        <td class="ident"><a href={`#/runs/${encodeURIComponent(r.runId)}`}>{runName(r)}</a></td>
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

type Refs = Map<string, { name: string; href: string; kind: 'member' | 'run' }>;

/** A member or run id as its name, linked to its page; anything else (operator, a token, a plan) as it is. */
function Ref({ id, refs }: { id: string; refs: Refs }) {
  const ref = refs.get(id);
  if (!ref) return <span class="mono ident">{id}</span>;
  return (
    <a class="ident" href={ref.href} title={`${ref.kind} ${id}`}>
      {ref.name}
    </a>
  );
}

/** The round an entry is about, where its data says. */
function roundOf(data: unknown): number | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const round = (data as { round?: unknown }).round;
  return typeof round === 'number' ? round : undefined;
}

export function AuditPage(props: PageProps) {
  const loaded = useData(
    props,
    async () => {
      const { count } = await get<{ count: number }>(props.token, '/v1/audit?limit=1');
      const [{ entries }, check, members, runs] = await Promise.all([
        get<{ entries: AuditEntry[] }>(props.token, `/v1/audit?fromSeq=${Math.max(1, count - AUDIT_PAGE + 1)}&limit=${AUDIT_PAGE}`),
        get<{ verification: ChainVerification }>(props.token, '/v1/audit/verification').catch(() => null),
        get<{ members: Member[] }>(props.token, '/v1/members').catch(() => ({ members: [] as Member[] })),
        get<{ runs: Run[] }>(props.token, '/v1/runs').catch(() => ({ runs: [] as Run[] })),
      ]);
      const refs: Refs = new Map();
      for (const m of members.members) refs.set(m.memberId, { name: m.name, href: `#/members/${encodeURIComponent(m.memberId)}`, kind: 'member' });
      for (const r of runs.runs) refs.set(r.runId, { name: runName(r), href: `#/runs/${encodeURIComponent(r.runId)}`, kind: 'run' });
      return { count, entries, verification: check?.verification ?? null, refs };
    },
    [props.versions.audit],
  );
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <Show loaded={loaded}>
        {({ count, entries, verification, refs }) => (
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
                <div class="table-wrap as-cards">
                  <table aria-label="Audit log entries">
                    <thead>
                      <tr><th class="num">#</th><th>Event</th><th class="num">Round</th><th>Subject</th><th>Actor</th><th>Time</th></tr>
                    </thead>
                    <tbody>
                      {[...entries].reverse().map((e) => (
                        <tr>
                          <td class="num" data-label="#">{e.seq}</td>
                          <td class="nowrap" data-label="Event">{e.kind}</td>
                          <td class="num" data-label="Round">{roundOf(e.data) ?? '–'}</td>
                          <td data-label="Subject"><Ref id={e.subject} refs={refs} /></td>
                          <td data-label="Actor"><Ref id={e.actor} refs={refs} /></td>
                          <td class="nowrap" data-label="Time">{time(e.at)}</td>
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
