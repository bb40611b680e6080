// The zero-install member at /join: first what the visitor is joining (the consortium, the
// runs under way and the input their models take), then local data (a CSV file, a ratings
// file for recommendation runs, a folder of labelled images or the built-in demo data that
// fits the run), then enrollment with an invitation code (or under open enrollment), then
// rounds with the Node member's own task handlers (member-loop.ts): plain, FedProx, DP-SGD,
// client-level DP and SecAgg+ rounds, matrix factorisation with the family's learner,
// followed on a small chart. Only model updates (masked under secure aggregation) and
// metrics leave the page; with a data owner's key, only approved plans train.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { JoinContext, JoinRun } from '../../../src/coordinator/join-context.js';
import { LineChart } from '../chart.js';
import '../style.css';
import './join.css';
import { ownerKeyBytes } from './approval.js';
import { pickBackend } from './backend.js';
import { chooseDemoShard } from './demo-shards.js';
import { loadImageFolder } from './images.js';
import { inputMismatch } from './data-fit.js';
import { classCounts, describe, parseCsv, type LocalData } from './local-data.js';
import { parseRatings } from './ratings-file.js';
import { serve } from './member-loop.js';
import { BrowserClient, loadIdentity, loadMember, saveMember } from './wire.js';

/** Makes a file input pick a whole folder; spread because Preact's JSX types lack the attribute. */
const FOLDER_PICKER = { webkitdirectory: true };
/** δ of the member's own privacy budget, as the node's --privacy-budget default. */
const DELTA = 1e-5;
const address = new URL(window.location.href);

type Context = { state: 'loading' } | { state: 'ok'; context: JoinContext } | { state: 'error'; message: string; invitationRequired: boolean };

/** Why `data` cannot train `run`'s model (the same check as the member makes of each task), or null. */
function misfit(data: LocalData, run: JoinRun): string | null {
  const why = inputMismatch(data, run.model);
  return why && `run ${run.name}: ${why}`;
}

/** What the data is, in a line: rows, shape and classes; for a ratings file users, items and stars. */
function summary(data: LocalData): string {
  const holdout = data.y.length - data.train;
  if (data.ratings) {
    const { users, items, vocabulary } = data.ratings;
    return `${data.name}: ${data.train} training ratings, ${holdout} holdout ratings, by ${users} users of ${items} items (item ids below ${vocabulary}), up to ${data.classes - 1} stars`;
  }
  return `${data.name}: ${data.train} training rows, ${holdout} holdout rows, ${data.features} features, ${data.classes} classes`;
}

/** A run's input as the table of runs shows it: the shape, and for id models how far ids go. */
const inputOf = (model: JoinRun['model']): string => (model.input === 'ids' ? `${model.inputShape.join('×')} ids < ${model.vocabulary}` : model.inputShape.join('×'));

function Joining({ context, invitation }: { context: Context; invitation: string }) {
  if (context.state === 'loading') return <p class="note" role="status">Asking the coordinator what you would join…</p>;
  if (context.state === 'error') return <p class="error" role="alert" data-testid="context-error">{context.message}</p>;
  const c = context.context;
  return (
    <div class="joining" data-testid="joining">
      <p>
        Consortium: <strong data-testid="consortium">{c.consortium ?? 'a local consortium without an agreement'}</strong> ·{' '}
        {c.invitation ? `invited${c.invitation.memberName ? ` as ${c.invitation.memberName}` : ''}, valid until ${new Date(c.invitation.expiresAt).toLocaleString()}` : c.openEnrollment ? 'open enrollment: no invitation needed' : invitation ? 'invitation given' : 'an invitation is needed'}
      </p>
      {c.runs.length === 0 ? (
        <p class="note" data-testid="no-runs">No run is under way: once you join, you take part in the next run the operator starts.</p>
      ) : (
        <div class="table-wrap">
          <table aria-label="Runs under way">
            <thead>
              <tr><th>Run</th><th>Status</th><th class="num">Round</th><th>Model</th><th>Input</th><th class="num">Classes</th></tr>
            </thead>
            <tbody>
              {c.runs.map((r) => (
                <tr data-testid="joining-run">
                  <td class="ident">{r.name}</td>
                  <td><span class={`badge ${r.status}`}>{r.status}</span></td>
                  <td class="num">{r.roundsDone}/{r.rounds}</td>
                  <td>{r.model.family}</td>
                  <td class="nowrap">{inputOf(r.model)}</td>
                  <td class="num">{r.model.classes}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

interface Point {
  round: number;
  loss?: number;
  accuracy?: number;
  /** Holdout RMSE, which recommenders report instead of accuracy. */
  rmse?: number;
}

function Join() {
  const [context, setContext] = useState<Context>({ state: 'loading' });
  const [data, setData] = useState<LocalData | null>(null);
  const [loadingData, setLoadingData] = useState(false);
  const [error, setError] = useState('');
  const [name, setName] = useState('');
  const [invitation, setInvitation] = useState(address.searchParams.get('invitation') ?? '');
  /** The data owner's public key (base64url): when set, only plans it approved may train here. */
  const [ownerKey, setOwnerKey] = useState('');
  /** This member's own privacy budget ε (δ = 1e-5): when set, it trains only under DP and within it. */
  const [budget, setBudget] = useState('');
  const [memberId, setMemberId] = useState('');
  const [joining, setJoining] = useState(false);
  const [lines, setLines] = useState<string[]>([]);
  const [progress, setProgress] = useState('');
  const [trained, setTrained] = useState(0);
  const [points, setPoints] = useState<Point[]>([]);
  const log = (line: string) => setLines((l) => [...l.slice(-49), line]);

  useEffect(() => {
    const code = address.searchParams.get('invitation');
    fetch(`/v1/join/context${code ? `?invitation=${encodeURIComponent(code)}` : ''}`)
      .then(async (response) => {
        const body = (await response.json().catch(() => null)) as (JoinContext & { error?: { message?: string; details?: { reason?: string } } }) | null;
        if (response.ok) return setContext({ state: 'ok', context: body! });
        const message = body?.error?.message ?? `${response.status} ${response.statusText}`;
        setContext({ state: 'error', message: `Could not learn what you would join: ${message}`, invitationRequired: body?.error?.details?.reason === 'invitation-required' });
      })
      .catch((e: Error) => setContext({ state: 'error', message: `Could not reach the coordinator: ${e.message}`, invitationRequired: false }));
  }, []);

  const runs = context.state === 'ok' ? context.context.runs : [];
  const target = runs[0] ?? null;
  const demo = chooseDemoShard(address.searchParams.get('shard'), target ? target.model : null);
  const fit = data && target ? misfit(data, target) : null;
  const invitationRequired = context.state === 'ok' ? !context.context.openEnrollment : context.state === 'error' && context.invitationRequired;
  const needsInvitation = invitationRequired && !invitation.trim();
  const joinBlocked = memberId
    ? 'You have joined: this page is now a member.'
    : joining
      ? 'Enrolling…'
      : !data
        ? 'Pick your data first (step 1): a CSV file, a ratings file, a folder of images or the built-in demo data.'
        : fit
          ? `Your data does not fit the run under way: ${fit}.`
          : needsInvitation
            ? 'This coordinator admits members only with an invitation: paste the code the operator sent you.'
            : null;

  const pick = async (load: () => Promise<LocalData> | LocalData) => {
    setLoadingData(true);
    try {
      setData(await load());
      setError('');
    } catch (e) {
      setData(null);
      setError((e as Error).message);
    } finally {
      setLoadingData(false);
    }
  };

  const join = async () => {
    if (!data) return;
    setError('');
    const key = ownerKey.trim();
    try {
      if (key) ownerKeyBytes(key, "the data owner's public key");
    } catch {
      setError(`the data owner's public key must be a raw Ed25519 public key in base64url, 43 characters (A–Z, a–z, 0–9, "-", "_"), as in the "publicKey" of the owner's identity file; "${key.slice(0, 60)}" (${key.length} characters) is not one`);
      return;
    }
    const epsilon = budget.trim() === '' ? undefined : Number(budget);
    if (epsilon !== undefined && !(Number.isFinite(epsilon) && epsilon > 0)) {
      setError(`the privacy budget must be a positive number (ε, with δ = ${DELTA}); "${budget.trim().slice(0, 60)}" is not one`);
      return;
    }
    setJoining(true);
    try {
      const identity = await loadIdentity();
      const client = new BrowserClient(window.location.origin, identity);
      const saved = await loadMember();
      const memberName = name.trim() || saved?.name || `browser-${identity.publicKey.slice(0, 8).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
      const id = await client.enroll(memberName, describe(data), invitation.trim() || undefined);
      await saveMember({ memberId: id, name: memberName, url: client.url, ...(key ? { ownerKey: key } : {}) });
      setMemberId(id);
      log(`enrolled as ${memberName} (${id}); TensorFlow.js backend: ${await pickBackend()}${key ? "; only plans approved by the data owner's key will train here" : ''}`);
      setProgress('waiting for the next task');
      if (epsilon !== undefined) log(`privacy budget ε = ${epsilon} (δ = ${DELTA}): only differentially private tasks within it will train here`);
      serve({
        client,
        data,
        memberId: id,
        memberName,
        ...(key ? { ownerKey: key } : {}),
        ...(epsilon !== undefined ? { privacyBudget: { epsilon, delta: DELTA } } : {}),
        log,
        progress: setProgress,
        onTrained: () => setTrained((n) => n + 1),
        onResult: (r) =>
          setPoints((all) => {
            const rest = all.filter((p) => p.round !== r.round);
            const point = { ...(all.find((p) => p.round === r.round) ?? { round: r.round }) };
            if (r.kind === 'train' && r.loss !== undefined) point.loss = r.loss;
            if (r.kind === 'evaluate' && r.accuracy !== undefined) point.accuracy = r.accuracy;
            if (r.kind === 'evaluate' && r.rmse !== undefined) point.rmse = r.rmse;
            return [...rest, point].sort((a, b) => a.round - b.round).slice(-200);
          }),
      }).catch((e: Error) => setError(`the member stopped: ${e.message}`));
    } catch (e) {
      setError(`enrollment failed: ${(e as Error).message}`);
    } finally {
      setJoining(false);
    }
  };

  return (
    <div class="shell">
      <header class="top">
        <span class="brand">Concord</span>
        <span class="top-title">Join as a member</span>
      </header>
      <main class="join">
        <h1>Join the consortium from this browser</h1>
        <p class="note">Your data stays in this page: only its size and shape are sent at enrollment, and only model weights (masked under secure aggregation) and metrics after each round.</p>
        <section aria-label="What you are joining" class="step">
          <h2>You are joining</h2>
          <Joining context={context} invitation={invitation} />
        </section>
        <section aria-label="Local data" class="step">
          <h2>1. Your data</h2>
          <div class="pickers">
            <label class="picker">
              <span>CSV file (numeric features, label in the last column)</span>
              <input type="file" accept=".csv,text/csv" data-testid="csv-file" disabled={!!memberId} onChange={(e) => { const f = (e.target as HTMLInputElement).files?.[0]; if (f) void pick(async () => parseCsv(await f.text(), f.name)); }} />
            </label>
            <label class="picker">
              <span>Ratings file (user,item,rating), for recommendation runs</span>
              <input type="file" accept=".csv,text/csv" data-testid="ratings-file" disabled={!!memberId} onChange={(e) => { const f = (e.target as HTMLInputElement).files?.[0]; if (f) void pick(async () => parseRatings(await f.text(), f.name)); }} />
              <span class="hint">Your users' own factors stay in this page; only item factors are sent.</span>
            </label>
            <label class="picker">
              <span>Folder of images, one subfolder per class (0/, 1/, …)</span>
              <input type="file" {...FOLDER_PICKER} multiple data-testid="image-folder" disabled={!!memberId} onChange={(e) => { const files = (e.target as HTMLInputElement).files; if (files) void pick(() => loadImageFolder([...files])); }} />
            </label>
            <div class="picker">
              <span>No data at hand? Train on built-in demo data.</span>
              <button type="button" class="secondary" data-testid="demo-shard" disabled={!!memberId || !demo.shard || loadingData} title={demo.why} onClick={() => demo.shard && void pick(() => demo.shard!.load(target?.model.inputShape))}>
                {demo.shard ? `Use the built-in ${demo.shard.label}` : 'No built-in demo data fits'}
              </button>
              <span class="hint" data-testid="demo-why">{demo.shard ? `${demo.shard.label}: ${demo.why}` : demo.why}</span>
            </div>
          </div>
          {loadingData ? <p class="note" role="status">Loading the data…</p> : null}
          {data && <p data-testid="data-summary">{summary(data)}</p>}
          {data && data.inputShape.length > 1 && (
            <p data-testid="class-counts" class="note">
              Images of shape {data.inputShape.join('×')}; per class: {classCounts(data).map((n, label) => `${label}: ${n}`).join(', ')}
            </p>
          )}
          {data && target && !fit ? (
            <p class="verified" data-testid="data-fits">
              {data.ratings ? `Fits run ${target.name}: ${target.model.family} over item ids below ${target.model.vocabulary}, up to ${target.model.classes - 1} stars.` : `Fits run ${target.name}: ${target.model.inputShape.join('×')} inputs, ${target.model.classes} classes.`}
            </p>
          ) : null}
        </section>
        <section aria-label="Enrollment" class="step">
          <h2>2. Enroll</h2>
          <div class="fields">
            <label>Member name <input data-testid="member-name" value={name} disabled={!!memberId} placeholder="e.g. my-lab" onInput={(e) => setName((e.target as HTMLInputElement).value)} /></label>
            <label>Invitation code <input data-testid="invitation" value={invitation} disabled={!!memberId} placeholder={context.state === 'ok' && context.context.openEnrollment ? 'not needed under open enrollment' : 'from the operator'} onInput={(e) => setInvitation((e.target as HTMLInputElement).value)} /></label>
            <label>Data owner's public key <input data-testid="owner-key" value={ownerKey} disabled={!!memberId} placeholder="optional: require plans approved by this key" onInput={(e) => setOwnerKey((e.target as HTMLInputElement).value)} /></label>
            <label>Privacy budget ε <input data-testid="privacy-budget" inputMode="decimal" value={budget} disabled={!!memberId} placeholder="optional: train only under DP, within it" onInput={(e) => setBudget((e.target as HTMLInputElement).value)} /></label>
          </div>
          <div class="actions">
            <button type="button" class="approve" data-testid="join" disabled={joinBlocked !== null} aria-describedby="join-why" onClick={() => void join()}>
              {joining ? 'Joining…' : 'Join'}
            </button>
          </div>
          {joinBlocked && !memberId ? <p class="note" id="join-why" data-testid="join-why">{joinBlocked}</p> : null}
        </section>
        {error && <p role="alert" class="error">{error}</p>}
        {memberId && (
          <section aria-label="Rounds" class="step">
            <h2>3. Rounds</h2>
            <p>
              Member <code data-testid="member-id">{memberId}</code> — <span data-testid="rounds-trained">{trained}</span> rounds trained
            </p>
            <p role="status" data-testid="progress" class="status-line">{progress}</p>
            {points.length > 0 ? (
              <div class="charts">
                {data?.ratings ? (
                  <LineChart title="Your holdout RMSE (stars)" yLabel="RMSE" x={points.map((p) => p.round)} series={[{ label: 'holdout RMSE', values: points.map((p) => p.rmse ?? null), color: '#2563eb' }]} testId="rmse-chart" />
                ) : (
                  <LineChart title="Your holdout accuracy" yLabel="accuracy" percent x={points.map((p) => p.round)} series={[{ label: 'holdout accuracy', values: points.map((p) => p.accuracy ?? null), color: '#2563eb' }]} testId="accuracy-chart" />
                )}
                <LineChart title="Your training loss" yLabel="loss" x={points.map((p) => p.round)} series={[{ label: 'training loss', values: points.map((p) => p.loss ?? null), color: '#d97706' }]} testId="loss-chart" />
              </div>
            ) : (
              <p class="note">A chart of your {data?.ratings ? 'RMSE' : 'accuracy'} and loss appears after your first round.</p>
            )}
            <h3 class="activity-title">Activity</h3>
            <ol data-testid="log" class="activity" reversed>
              {[...lines].reverse().map((l, i) => <li key={lines.length - i}>{l}</li>)}
            </ol>
          </section>
        )}
      </main>
    </div>
  );
}

render(<Join />, document.getElementById('join')!);
