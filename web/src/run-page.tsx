// The run page is the run's result page: a headline (final and best accuracy against the
// centralised baseline, duration, ETA), the current round live (who trains, who has
// reported), what the run was configured with, its charts and rounds, contributions and
// energy, and the operator's Stop, Export and Report buttons.
import { useEffect, useState } from 'preact/hooks';
import { memberColors, sortedMembers } from '../../src/report/colors.js';
import { ApiError, get, getBlob, post, type Footprint, type Member, type MemberMetric, type ModelSummary, type Round, type Run, type RunProgress } from './api.js';
import { LineChart } from './chart.js';
import { ContributionBars, EnergySection } from './run-insights.js';
import { Badge, duration, pct, Show, useData, type PageProps } from './pages.js';

const bytes = (n: number) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);
const finished = (run: Run) => run.status === 'completed' || run.status === 'failed' || run.status === 'stopped';
const accuracyOf = (r: Round) => r.serverEval?.metrics.accuracy ?? r.evalMetrics.accuracy;

/** The model's family and size in one line, its layers (as Keras' summary lists them) on demand. */
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

/** Final (or latest) and best accuracy, the baseline, time taken and time left. */
function Headline({ run, rounds, progress }: { run: Run; rounds: Round[]; progress: RunProgress | null }) {
  const scored = rounds.filter((r) => accuracyOf(r) !== undefined);
  const last = scored.at(-1);
  const best = scored.reduce<Round | undefined>((b, r) => (b === undefined || accuracyOf(r)! > accuracyOf(b)! ? r : b), undefined);
  const baseline = progress?.baseline ?? null;
  const done = finished(run);
  const gap = last && baseline ? (accuracyOf(last)! - baseline.value) * 100 : null;
  const roundsDone = rounds.at(-1)?.round ?? 0;
  return (
    <div class="headline" data-testid="run-headline">
      <div class="card">
        <span class="label">{done ? 'Final accuracy' : 'Accuracy so far'}</span>
        <span class="big" data-testid="final-accuracy">{last ? pct(accuracyOf(last)) : '–'}</span>
        <span class="sub">{last ? `after round ${last.round}${last.serverEval ? ', coordinator test set' : ', members’ holdouts'}` : 'no round evaluated yet'}</span>
      </div>
      <div class="card">
        <span class="label">Best accuracy</span>
        <span class="big" data-testid="best-accuracy">{best ? pct(accuracyOf(best)) : '–'}</span>
        <span class="sub">{best ? `round ${best.round}` : 'no round evaluated yet'}</span>
      </div>
      <div class="card" data-testid="baseline">
        <span class="label">Centralised baseline</span>
        {baseline ? (
          <>
            <span class="big">{pct(baseline.value)}</span>
            <span class="sub" title={baseline.description}>
              {gap === null ? baseline.description : `federated ${gap >= 0 ? '+' : '−'}${Math.abs(gap).toFixed(1)} points`}
            </span>
          </>
        ) : (
          <>
            <span class="big muted">none</span>
            <span class="sub">no baseline recorded for this run</span>
          </>
        )}
      </div>
      <div class="card">
        <span class="label">{done ? 'Duration' : 'Running for'}</span>
        <span class="big" data-testid="duration">{progress ? duration(progress.elapsedSeconds) : '–'}</span>
        <span class="sub" data-testid="eta">
          {done ? `${roundsDone} of ${run.config.rounds} rounds` : progress?.etaSeconds !== null && progress?.etaSeconds !== undefined ? `about ${duration(progress.etaSeconds)} left` : 'ETA after the first round'}
        </span>
      </div>
    </div>
  );
}

const STATE_LABEL = { queued: 'waiting', working: 'training', reported: 'reported', failed: 'failed' } as const;

/** The round under way: each member's task state, so the first round is not four empty panels. */
function LiveRound({ run, progress, members }: { run: Run; progress: RunProgress | null; members: Member[] }) {
  const next = (progress?.roundsDone ?? 0) + 1;
  const current = progress?.current ?? null;
  const online = members.filter((m) => m.online && !m.revoked).length;
  const needed = run.config.minAvailableMembers ?? 2;
  const stage = current ? (current.stage === 'train' ? 'training' : current.stage === 'evaluate' ? 'evaluating' : `secure aggregation: ${current.stage}`) : null;
  const reported = current?.members.filter((m) => m.state === 'reported').length ?? 0;
  return (
    <section class="live-round" aria-label="Current round" data-testid="live-round">
      <h2>
        Round {next} of {run.config.rounds} in progress{stage ? ` · ${stage}` : ''}
        <span class="spinner" aria-hidden="true" />
      </h2>
      {current ? (
        <>
          <p class="note">
            {reported} of {current.members.length} members reported · started {duration((Date.now() - current.startedAt) / 1000)} ago
          </p>
          <ul class="member-states">
            {current.members.map((m) => (
              <li class={`state ${m.state}`} title={m.reason ?? ''}>
                <span class="name">{m.name}</span> <span class={`badge ${m.state}`}>{STATE_LABEL[m.state]}</span>
                {m.reason ? <span class="reason">{m.reason}</span> : null}
              </li>
            ))}
          </ul>
        </>
      ) : online < needed ? (
        <p class="note">Waiting for members: {online} online, the run needs {needed}.</p>
      ) : (
        <p class="note">Round {next} is under way; who has reported shows here as results come in.</p>
      )}
    </section>
  );
}

function Configuration({ run, model }: { run: Run; model: ModelSummary | null }) {
  const c = run.config;
  const dp = c.differentialPrivacy;
  const t = c.train ?? {};
  const rows: [string, string][] = [
    ['Model', `${c.model.family}${model ? ` · ${model.parameters.toLocaleString('en')} parameters` : ''}${c.model.inputShape ? ` · input ${c.model.inputShape.join('×')}` : ''}${c.model.classes ? ` · ${c.model.classes} classes` : ''}`],
    ['Strategy', c.strategy.name],
    ['Rounds', String(c.rounds)],
    ['Local training', `${t.epochs ?? 1} epoch${(t.epochs ?? 1) === 1 ? '' : 's'} · batch ${t.batchSize ?? 32} · learning rate ${t.learningRate ?? 0.05}${t.optimizer ? ` · ${t.optimizer}` : ''}`],
    ['Members per round', `at least ${c.minTrainMembers ?? 2} training, ${c.minAvailableMembers ?? 2} online to start`],
    ['Secure aggregation', c.secureAggregation ? 'on: the coordinator sees only sums' : 'off'],
    [
      'Differential privacy',
      dp ? `${dp.level ?? 'sample'} level${dp.mode ? ` (${dp.mode})` : ''} · noise z = ${dp.noiseMultiplier ?? '–'} · clipping ${dp.clippingNorm ?? '–'}${dp.budget ? ` · budget ε ${dp.budget.epsilon}, δ ${dp.budget.delta}` : ''}` : 'off',
    ],
  ];
  return (
    <dl class="clauses config" aria-label="Run configuration" data-testid="run-config">
      {rows.map(([k, v]) => (
        <>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </>
      ))}
    </dl>
  );
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Stop (a live run), Export (the model as a Concord frame) and Report (the HTML report). */
function Actions({ token, run, rounds, onStopped }: { token: string; run: Run; rounds: number; onStopped: () => void }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [message, setMessage] = useState<{ error: boolean; text: string } | null>(null);
  const id = encodeURIComponent(run.runId);
  const act = async (what: string, work: () => Promise<string>) => {
    setBusy(what);
    setMessage(null);
    try {
      setMessage({ error: false, text: await work() });
    } catch (error) {
      setMessage({ error: true, text: `${what} failed: ${error instanceof ApiError || error instanceof Error ? error.message : String(error)}` });
    } finally {
      setBusy(null);
    }
  };
  const live = !finished(run);
  return (
    <div class="run-actions">
      <div class="actions">
        {live ? (
          <button
            type="button"
            class="stop"
            disabled={busy !== null}
            onClick={() => {
              const reason = window.prompt('Stop this run? Members finish nothing more of it. Reason (kept in the audit log):', 'stopped from the dashboard');
              if (reason === null) return;
              void act('Stop', async () => {
                await post(token, `/v1/runs/${id}/stop`, reason.trim() ? { reason: reason.trim() } : {});
                onStopped();
                return 'The run was stopped.';
              });
            }}
          >
            {busy === 'Stop' ? 'Stopping…' : 'Stop run'}
          </button>
        ) : null}
        <button
          type="button"
          class="secondary"
          disabled={busy !== null || rounds === 0}
          title={rounds === 0 ? 'No round has completed: there is no trained model yet' : 'Download the global model of the last round (Concord frame: manifest + float32 tensors)'}
          onClick={() => void act('Export', async () => (download(await getBlob(token, `/v1/runs/${id}/model`), `${run.runId}-round${rounds}.concord`), 'Model downloaded.'))}
        >
          {busy === 'Export' ? 'Exporting…' : 'Export model'}
        </button>
        <button
          type="button"
          class="secondary"
          disabled={busy !== null}
          title="The self-contained HTML report of this run (charts, plan, privacy, contributions, energy)"
          onClick={() => {
            // Opened before the fetch so the browser treats it as the click's own window.
            const win = window.open('', '_blank');
            void act('Report', async () => {
              const blob = await getBlob(token, `/v1/runs/${id}/report.html${finished(run) ? '' : '?contributions=false'}`);
              const url = URL.createObjectURL(new Blob([blob], { type: 'text/html' }));
              if (win) win.location.href = url;
              else window.location.href = url;
              return 'Report opened in a new tab.';
            });
          }}
        >
          {busy === 'Report' ? 'Building report…' : 'Report'}
        </button>
      </div>
      {message ? <p class={message.error ? 'error' : 'note'} role={message.error ? 'alert' : 'status'}>{message.text}</p> : null}
    </div>
  );
}

export function RunPage(props: PageProps & { runId: string }) {
  const id = encodeURIComponent(props.runId);
  const [stops, setStops] = useState(0);
  const loaded = useData(
    props,
    async () => {
      const [detail, metrics, members, model, footprint] = await Promise.all([
        get<{ run: Run; rounds: Round[] }>(props.token, `/v1/runs/${id}`),
        get<{ members: MemberMetric[] }>(props.token, `/v1/runs/${id}/metrics`),
        get<{ members: Member[] }>(props.token, '/v1/members').catch(() => ({ members: [] as Member[] })),
        get<ModelSummary>(props.token, `/v1/runs/${id}/architecture`).catch(() => null),
        get<Footprint>(props.token, `/v1/runs/${id}/footprint`).catch(() => null),
      ]);
      return { ...detail, metrics: metrics.members, members: members.members, model, footprint };
    },
    [props.runId, props.versions.round, props.versions.runs, props.versions.members, stops],
  );
  const live = loaded.state === 'ok' && !finished(loaded.data.run);
  // Task states change without a stored change the stream would report: poll while the run is live.
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(() => setTick((n) => n + 1), 1000);
    return () => clearInterval(timer);
  }, [live]);
  const progressLoaded = useData(props, () => get<RunProgress>(props.token, `/v1/runs/${id}/progress`).catch(() => null), [props.runId, props.versions.round, props.versions.runs, stops, tick]);
  const progress = progressLoaded.state === 'ok' ? progressLoaded.data : null;
  return (
    <section aria-labelledby="run-title">
      <p><a href="#/runs">← All runs</a></p>
      <Show loaded={loaded}>
        {({ run, rounds, metrics, members, model, footprint }) => {
          const x = rounds.map((r) => r.round);
          const names = new Map(members.map((m) => [m.memberId, m.name]));
          const name = (memberId: string) => names.get(memberId) ?? memberId;
          const colors = memberColors(members.map((m) => m.name));
          const evaluations = metrics.filter((m) => m.phase === 'evaluate');
          const evaluated = sortedMembers(evaluations.map((m) => name(m.memberId)));
          const roundsDone = rounds.at(-1)?.round ?? 0;
          return (
            <>
              <h1 id="run-title">
                {run.config.name ?? run.runId} <Badge value={run.status} />
              </h1>
              <p class="note">
                <code>{run.runId}</code> · <span data-testid="round-count" aria-live="polite">{roundsDone} of {run.config.rounds} rounds done</span> · started {new Date(run.createdAt).toLocaleString()}
              </p>
              {run.error ? <p class={run.status === 'stopped' ? 'note stopped-reason' : 'error'} role={run.status === 'failed' ? 'alert' : undefined}>{run.status === 'stopped' ? `Stopped: ${run.error}` : run.error}</p> : null}
              <Headline run={run} rounds={rounds} progress={progress} />
              <Actions token={props.token} run={run} rounds={roundsDone} onStopped={() => setStops((n) => n + 1)} />
              {!finished(run) ? <LiveRound run={run} progress={progress} members={members} /> : null}
              <h2>Configuration</h2>
              <Configuration run={run} model={model} />
              {model ? <ModelSection model={model} /> : null}
              {rounds.length === 0 ? (
                <p class="empty" data-testid="no-rounds">{finished(run) ? 'The run ended before any round completed.' : 'Charts appear when the first round completes.'}</p>
              ) : (
                <div class="charts">
                  <LineChart
                    title="Global accuracy"
                    yLabel="accuracy"
                    percent
                    x={x}
                    series={[
                      { label: 'server test', values: rounds.map((r) => r.serverEval?.metrics.accuracy ?? null), color: '#0f172a' },
                      { label: 'federated holdout', values: rounds.map((r) => r.evalMetrics.accuracy ?? null), color: '#64748b', dashed: true },
                      ...(progress?.baseline ? [{ label: 'centralised baseline', values: rounds.map(() => progress.baseline!.value), color: '#16a34a', dashed: true }] : []),
                    ]}
                  />
                  <LineChart
                    title="Loss"
                    yLabel="loss"
                    x={x}
                    series={[
                      { label: 'server test', values: rounds.map((r) => r.serverEval?.loss ?? null), color: '#0f172a' },
                      { label: 'federated holdout', values: rounds.map((r) => r.evalLoss), color: '#64748b', dashed: true },
                      { label: 'training', values: rounds.map((r) => r.trainMetrics.loss ?? null), color: '#d97706' },
                    ]}
                  />
                  <LineChart
                    title="Holdout accuracy per member"
                    yLabel="accuracy"
                    percent
                    x={x}
                    series={evaluated.map((memberName) => ({
                      label: memberName,
                      color: colors.get(memberName),
                      values: rounds.map((r) => evaluations.find((m) => m.round === r.round && name(m.memberId) === memberName)?.metrics.accuracy ?? null),
                    }))}
                  />
                </div>
              )}
              <h2>Contributions</h2>
              {finished(run) ? <ContributionBars {...props} runId={props.runId} colors={colors} /> : <p class="note">Contributions are valued once the run has ended.</p>}
              <h2>Energy and CO₂</h2>
              <EnergySection footprint={footprint} colors={colors} />
              {rounds.length === 0 ? null : (
                <h2>Rounds</h2>
              )}
              {rounds.length === 0 ? null : (
                <div class="table-wrap sticky">
                  <table aria-label="Round timeline">
                    <thead>
                      <tr><th class="num">Round</th><th class="num">Accuracy</th><th>Reported</th><th>Dropped</th><th class="num">Bytes moved</th><th class="num">Seconds</th></tr>
                    </thead>
                    <tbody>
                      {[...rounds].reverse().map((r) => {
                        const moved = metrics.filter((m) => m.round === r.round).reduce((s, m) => s + m.bytesIn + m.bytesOut, 0);
                        return (
                          <tr>
                            <td class="num">{r.round}</td>
                            <td class="num">{pct(accuracyOf(r))}</td>
                            <td class="names">{r.participants.length ? sortedMembers(r.participants.map(name)).map((n, i) => <>{i ? ', ' : ''}<span class="nowrap">{n}</span></>) : '–'}</td>
                            <td class="reason">{r.failures.length === 0 ? '–' : r.failures.map((f, i) => <>{i ? '; ' : ''}<span class="nowrap">{name(f.memberId)}</span>: {f.reason}</>)}</td>
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
