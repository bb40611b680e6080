// The Governance page: the cooperation agreement in force, the training plans submitted
// under it, and — for a data owner — approving or rejecting a plan with a signature made
// in this browser. The coordinator takes the signature itself as the credential, so the
// page checks before signing what the owner would otherwise have to trust: that the plan
// shown hashes to the hash being signed, and that the key loaded is the one the agreement
// lists for the member chosen.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, post, type Agreement, type AgreementView, type PlanApproval, type PlanView } from './api.js';
import { parseIdentity, planHashInBrowser, signApproval, type OwnerIdentity } from './owner-signing.js';
import { Show, time, useData, type PageProps } from './pages.js';

const short = (hash: string) => `${hash.slice(0, 12)}…`;

export function GovernancePage(props: PageProps & { planId?: string }) {
  const loaded = useData(
    props,
    async () => {
      const [agreement, { plans }] = await Promise.all([get<AgreementView>(props.token, '/v1/agreement'), get<{ plans: PlanView[] }>(props.token, '/v1/plans')]);
      return { agreement, plans };
    },
    // Every plan submission and decision is audited, so an audit change means plans may have changed.
    [props.versions.audit],
  );
  return (
    <section aria-labelledby="governance-title">
      <h1 id="governance-title">Governance</h1>
      <Show loaded={loaded}>
        {({ agreement, plans }) => {
          const selected = props.planId === undefined ? undefined : plans.find((p) => p.planId === props.planId);
          return (
            <>
              {props.planId !== undefined ? (
                selected && agreement.agreement ? (
                  <PlanDetail {...props} record={selected} agreement={agreement.agreement} />
                ) : (
                  <p class="error" role="alert">No plan {props.planId}.</p>
                )
              ) : null}
              <AgreementSummary view={agreement} />
              <PlanList plans={plans} />
            </>
          );
        }}
      </Show>
    </section>
  );
}

function AgreementSummary({ view }: { view: AgreementView }) {
  const a = view.agreement;
  if (!a) return <p class="empty">No cooperation agreement is in force; the coordinator was started without --agreement.</p>;
  const dp = a.differentialPrivacy;
  const budgets = Object.entries(dp.budgets).map(([id, b]) => `${id}: ε ${b.epsilon}, δ ${b.delta}`);
  return (
    <>
      <h2>Agreement in force</h2>
      <p>
        <strong>{a.consortium}</strong>, version {a.version} · hash <code title={view.hash ?? ''}>{view.hash ? short(view.hash) : '–'}</code>
      </p>
      <div class="table-wrap">
        <table aria-label="Agreement members">
          <thead>
            <tr><th>Member</th><th>Jurisdiction</th><th>Datasets</th><th>What may leave</th></tr>
          </thead>
          <tbody>
            {a.members.map((m) => (
              <tr>
                <td>{m.name}</td>
                <td>{m.jurisdiction}</td>
                <td class="mono">{m.datasets.map((d) => d.id).join(', ')}</td>
                <td>{a.residency[m.name] ?? '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <dl class="clauses" aria-label="Key clauses">
        <dt>Purposes</dt><dd>{a.purposes.join('; ')}</dd>
        <dt>Strategies</dt><dd>{a.allowedStrategies.join(', ')}</dd>
        <dt>Model families</dt><dd>{a.allowedModelFamilies.join(', ')}</dd>
        <dt>Minimum contributors</dt><dd>{a.minContributors}</dd>
        <dt>Secure aggregation</dt><dd>{a.secureAggregation}</dd>
        <dt>Differential privacy</dt><dd>{dp.required ? 'required' : 'optional'}{budgets.length ? ` (${budgets.join('; ')})` : ''}</dd>
        <dt>Plans need</dt><dd>{a.approvals.plansNeed === 'all-data-owners' ? 'approval by every data owner of the datasets used' : `${a.approvals.plansNeed} approvals`}</dd>
        <dt>Amendments need</dt><dd>{a.amendments.signaturesRequired === 'all' ? 'signatures of all members' : `signatures of ${a.amendments.signaturesRequired.join(', ')}`}</dd>
      </dl>
    </>
  );
}

function StateBadge({ record }: { record: PlanView }) {
  const state = record.runId ? 'started' : (record.status?.state ?? 'pending');
  return <span class={`badge ${state}`}>{state}</span>;
}

function PlanList({ plans }: { plans: PlanView[] }) {
  return (
    <>
      <h2>Plans</h2>
      {plans.length === 0 ? (
        <p class="empty">No plans have been submitted.</p>
      ) : (
        <div class="table-wrap">
          <table aria-label="Plans">
            <thead>
              <tr><th>Plan</th><th>Researcher</th><th>State</th><th>Approvals</th><th>Submitted</th></tr>
            </thead>
            <tbody>
              {[...plans].reverse().map((p) => (
                <tr>
                  <td><a href={`#/governance/${encodeURIComponent(p.planId)}`}>{p.plan.title}</a></td>
                  <td>{p.plan.researcher}</td>
                  <td><StateBadge record={p} /></td>
                  <td class="num">{p.status ? `${p.status.approvedBy.length} of ${p.status.needed}` : '–'}</td>
                  <td>{time(p.submittedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

/** Each member's latest decision (a rejection wins a tie), as the coordinator tallies them. */
function latestDecision(approvals: PlanApproval[], member: string): PlanApproval | undefined {
  let latest: PlanApproval | undefined;
  for (const a of approvals) {
    if (a.member !== member) continue;
    if (!latest || a.at > latest.at || (a.at === latest.at && a.decision === 'reject')) latest = a;
  }
  return latest;
}

function PlanDetail(props: PageProps & { record: PlanView; agreement: Agreement }) {
  const { record } = props;
  const { plan, status } = record;
  const [shownHash, setShownHash] = useState<string | null>(null);
  useEffect(() => {
    let current = true;
    planHashInBrowser(plan).then((h) => current && setShownHash(h), () => current && setShownHash('unavailable'));
    return () => {
      current = false;
    };
  }, [record.planHash]);
  const hashOk = shownHash === record.planHash;
  return (
    <article class="plan" aria-labelledby="plan-title">
      <h2 id="plan-title">
        {plan.title} <StateBadge record={record} />
      </h2>
      <dl class="clauses" aria-label="Plan">
        <dt>Plan hash</dt>
        <dd>
          <code data-testid="plan-hash">{record.planHash}</code>{' '}
          {shownHash === null ? null : hashOk ? <span class="badge completed">recomputed here</span> : <span class="badge failed">does not match the plan shown</span>}
        </dd>
        <dt>Researcher</dt><dd>{plan.researcher} (submitted by {record.submittedBy}, {time(record.submittedAt)})</dd>
        <dt>Purpose</dt><dd>{plan.purpose}</dd>
        <dt>Datasets</dt><dd class="mono">{plan.datasets.join(', ')}</dd>
        <dt>Privacy</dt>
        <dd>
          secure aggregation {plan.privacy.secureAggregation ? 'on' : 'off'}; differential privacy{' '}
          {plan.privacy.differentialPrivacy ? `ε ${plan.privacy.differentialPrivacy.epsilon}, δ ${plan.privacy.differentialPrivacy.delta}` : 'off'}
        </dd>
        {record.runId ? <><dt>Run</dt><dd><a href={`#/runs/${encodeURIComponent(record.runId)}`}>{record.runId}</a></dd></> : null}
      </dl>
      <details>
        <summary>Model, strategy and training settings</summary>
        <pre class="json">{JSON.stringify(plan.config, null, 2)}</pre>
      </details>
      {status ? (
        <ul class="decisions" aria-label="Decisions">
          <li>Approved by: {status.approvedBy.length ? status.approvedBy.join(', ') : 'nobody yet'} ({status.approvedBy.length} of {status.needed} needed)</li>
          {status.rejectedBy.length ? <li>Rejected by: {status.rejectedBy.map((r) => `${r.member}${r.reason ? ` (“${r.reason}”)` : ''}`).join(', ')}</li> : null}
          <li>Still to approve: {status.waitingFor.length ? status.waitingFor.join(', ') : 'nobody'}</li>
          {status.ignored.length ? <li>Ignored decisions: {status.ignored.map((i) => `${i.member}: ${i.reason}`).join('; ')}</li> : null}
        </ul>
      ) : null}
      <OwnerDecision {...props} hashOk={hashOk} />
    </article>
  );
}

type Outcome = { kind: 'idle' } | { kind: 'signing' } | { kind: 'done'; message: string } | { kind: 'refused'; message: string };

function OwnerDecision(props: PageProps & { record: PlanView; agreement: Agreement; hashOk: boolean }) {
  const { record, agreement } = props;
  const [identityText, setIdentityText] = useState('');
  const [identity, setIdentity] = useState<OwnerIdentity | null>(null);
  const [identityError, setIdentityError] = useState<string | null>(null);
  const [member, setMember] = useState('');
  const [reason, setReason] = useState('');
  const [outcome, setOutcome] = useState<Outcome>({ kind: 'idle' });

  const load = (text: string) => {
    setIdentityText(text);
    setOutcome({ kind: 'idle' });
    if (!text.trim()) {
      setIdentity(null);
      setIdentityError(null);
      return;
    }
    try {
      const parsed = parseIdentity(text);
      setIdentity(parsed);
      setIdentityError(null);
      // The member whose data owner holds this key is the natural choice.
      const owned = agreement.members.find((m) => m.publicKey === parsed.publicKey);
      if (owned) setMember(owned.name);
    } catch (error) {
      setIdentity(null);
      setIdentityError(error instanceof Error ? error.message : String(error));
    }
  };

  const chosen = agreement.members.find((m) => m.name === member);
  const previous = chosen ? latestDecision(record.approvals, chosen.name) : undefined;
  let blocker: string | null = null;
  if (record.runId) blocker = 'This plan has already been started as a run; decisions can no longer change it.';
  else if (!props.hashOk) blocker = 'The plan shown does not hash to the plan hash; nothing is signed.';
  else if (!identity) blocker = 'Load your identity file to sign a decision.';
  else if (!chosen) blocker = 'Choose the member you decide for.';
  else if (chosen.publicKey !== identity.publicKey) blocker = `This key is not the data owner key the agreement lists for ${chosen.name}.`;

  const decide = async (decision: 'approve' | 'reject') => {
    if (!identity || !chosen || blocker) return;
    setOutcome({ kind: 'signing' });
    try {
      const approval = await signApproval(identity, { planHash: record.planHash, member: chosen.name, decision, reason: reason.trim() || null, at: Date.now() });
      await post<PlanView>(props.token, `/v1/plans/${encodeURIComponent(record.planId)}/approvals`, approval);
      setOutcome({ kind: 'done', message: `${decision === 'approve' ? 'Approval' : 'Rejection'} signed for ${chosen.name} and recorded.` });
    } catch (error) {
      const message = error instanceof ApiError ? `The coordinator refused the signature: ${error.message}` : `Could not sign in this browser: ${error instanceof Error ? error.message : String(error)}`;
      setOutcome({ kind: 'refused', message });
    }
  };

  return (
    <form class="owner" aria-labelledby="owner-title" onSubmit={(e) => e.preventDefault()}>
      <h3 id="owner-title">Decide as a data owner</h3>
      <p class="note">The decision is signed here with your key; the key stays in this page's memory and is never sent.</p>
      <label for="identity">Identity file (JSON with publicKey and privateKey)</label>
      <textarea id="identity" rows={3} spellcheck={false} autocomplete="off" value={identityText} onInput={(e) => load((e.target as HTMLTextAreaElement).value)} />
      <input
        type="file"
        accept=".json,application/json"
        aria-label="Load identity file"
        onChange={(e) => {
          const file = (e.target as HTMLInputElement).files?.[0];
          if (file) void file.text().then(load);
        }}
      />
      {identityError ? <p class="error" role="alert">{identityError}</p> : null}
      <label for="member">Member</label>
      <select id="member" value={member} onChange={(e) => setMember((e.target as HTMLSelectElement).value)}>
        <option value="">— choose —</option>
        {agreement.members.map((m) => (
          <option value={m.name}>{m.name}</option>
        ))}
      </select>
      <label for="reason">Reason (optional)</label>
      <input id="reason" type="text" value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
      {previous ? (
        <p class="note" data-testid="previous-decision">
          {previous.member} already {previous.decision === 'approve' ? 'approved' : 'rejected'} this plan ({time(previous.at)}); a new decision replaces it.
        </p>
      ) : null}
      {blocker ? <p class="note" data-testid="sign-blocker">{blocker}</p> : null}
      <div class="actions">
        <button type="button" class="approve" aria-label="Approve plan" disabled={blocker !== null || outcome.kind === 'signing' || previous?.decision === 'approve'} onClick={() => void decide('approve')}>
          Approve
        </button>
        <button type="button" class="reject" aria-label="Reject plan" disabled={blocker !== null || outcome.kind === 'signing' || previous?.decision === 'reject'} onClick={() => void decide('reject')}>
          Reject
        </button>
      </div>
      {outcome.kind === 'signing' ? <p class="note" role="status">Signing…</p> : null}
      {outcome.kind === 'done' ? <p class="verified" role="status">{outcome.message}</p> : null}
      {outcome.kind === 'refused' ? <p class="error" role="alert">{outcome.message}</p> : null}
    </form>
  );
}
