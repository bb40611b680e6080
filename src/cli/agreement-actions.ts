// What `concord agreement …` and `concord plans …` do (registered in agreement-commands.ts).
// Signing happens here, on the owner's machine; the coordinator only ever sees signatures.

import { writeFile } from 'node:fs/promises';
import { agreementHash, parseAgreement, signAgreement, validateAgreement, type Agreement, type AgreementSignature } from '../governance/agreement.js';
import { loadIdentity } from '../governance/identity.js';
import { PlanSchema, approvePlan, planHash, type Plan, type PlanApproval, type PlanStatus } from '../governance/plans.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { PlanRecord } from '../storage/storage.js';
import { operatorRequest, operatorToken } from './operator-api.js';
import { coordinatorUrl, parseJson, readConfigFile, readInputFile } from './options.js';
import type { Conn } from './run-commands.js';

/** A proposed agreement version travelling between data owners for signatures. */
interface Proposal {
  agreement: Agreement;
  hash: string;
  signatures: AgreementSignature[];
}

type PlanView = PlanRecord & { status: PlanStatus | null };

type Decision = Conn & { identity: string; member: string; reason?: string };

const print = (json: boolean | undefined, value: unknown, human: string): void => {
  process.stdout.write(json ? JSON.stringify(value) + '\n' : human + '\n');
};

const call = <T>(opts: Conn, method: string, path: string, body?: unknown): Promise<T> => operatorRequest<T>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), method, path, body);

/** A proposal file (JSON from `propose`) or a bare agreement in YAML. */
async function readProposal(file: string): Promise<Proposal> {
  const text = await readInputFile(file, 'proposal');
  if (text.trimStart().startsWith('{')) {
    const raw = (await parseJson(text, file)) as Partial<Proposal>;
    const agreement = validateAgreement(raw.agreement, { source: file });
    return { agreement, hash: agreementHash(agreement), signatures: raw.signatures ?? [] };
  }
  const agreement = parseAgreement(text, { source: file });
  return { agreement, hash: agreementHash(agreement), signatures: [] };
}

function describePlan(view: PlanView): string {
  const s = view.status;
  const state = s ? `${s.state} (${s.approvedBy.length}/${s.needed} approvals${s.waitingFor.length ? `; waiting for ${s.waitingFor.join(', ')}` : ''}${s.rejectedBy.length ? `; rejected by ${s.rejectedBy.map((r) => r.member).join(', ')}` : ''})` : 'no agreement in force';
  return `${view.planId}  ${view.plan.title}  purpose ${view.plan.purpose}  datasets ${view.plan.datasets.join(', ')}  ${state}${view.runId ? `  run ${view.runId}` : ''}`;
}

export async function agreementShow(opts: Conn): Promise<void> {
  const shown = await call<{ agreement: Agreement | null; hash: string | null; history: { version: number; hash: string; signers: string[]; adoptedAt: number }[] }>(opts, 'GET', '/v1/agreement');
  const human = shown.agreement
    ? [`${shown.agreement.consortium}, version ${shown.agreement.version} (${shown.hash})`, ...shown.history.map((v) => `  v${v.version} ${v.hash.slice(0, 16)}… ${new Date(v.adoptedAt).toISOString()} signed by ${v.signers.join(', ') || '(loaded by the operator)'}`)].join('\n')
    : 'no cooperation agreement is in force';
  print(opts.json, shown, human);
}

export async function agreementPropose(file: string, opts: { out?: string; json?: boolean }): Promise<void> {
  const proposal = await readProposal(file);
  const text = JSON.stringify(proposal, null, 2) + '\n';
  if (opts.out) {
    await writeFile(opts.out, text);
    print(opts.json, { out: opts.out, version: proposal.agreement.version, hash: proposal.hash }, `proposal for version ${proposal.agreement.version} (${proposal.hash}) written to ${opts.out}`);
  } else process.stdout.write(text);
}

export async function agreementSign(file: string, opts: { identity: string; member: string; json?: boolean }): Promise<void> {
  const proposal = await readProposal(file);
  const signature = signAgreement(proposal.agreement, opts.member, await loadIdentity(opts.identity));
  proposal.signatures = [...proposal.signatures.filter((s) => s.member !== opts.member), signature];
  await writeFile(file, JSON.stringify(proposal, null, 2) + '\n');
  print(opts.json, { member: opts.member, hash: proposal.hash, signatures: proposal.signatures.map((s) => s.member) }, `${opts.member} signed version ${proposal.agreement.version} (${proposal.hash.slice(0, 16)}…); signatures: ${proposal.signatures.map((s) => s.member).join(', ')}`);
}

export async function agreementSubmit(file: string, opts: Conn): Promise<void> {
  const proposal = await readProposal(file);
  const adopted = await call<{ version: number; hash: string; signers: string[] }>(opts, 'POST', '/v1/agreement', { agreement: proposal.agreement, signatures: proposal.signatures });
  print(opts.json, adopted, `agreement version ${adopted.version} (${adopted.hash.slice(0, 16)}…) is in force, signed by ${adopted.signers.join(', ')}`);
}

export async function plansSubmit(opts: Conn & { file: string }): Promise<void> {
  // Checked here too, so every problem is named with its line in the file.
  const plan = await readConfigFile(opts.file, '--file', PlanSchema, (value) => ({ createdAt: Date.now(), ...(value as object) }));
  const view = await call<PlanView>(opts, 'POST', '/v1/plans', plan);
  print(opts.json, view, `submitted ${describePlan(view)}\nplan hash ${view.planHash}`);
}

export async function plansList(opts: Conn): Promise<void> {
  const { plans: all } = await call<{ plans: PlanView[] }>(opts, 'GET', '/v1/plans');
  print(opts.json, all, all.length === 0 ? 'no plans' : all.map(describePlan).join('\n'));
}

export async function plansShow(planId: string, opts: Conn): Promise<void> {
  const view = await call<PlanView>(opts, 'GET', `/v1/plans/${encodeURIComponent(planId)}`);
  print(opts.json, view, `${describePlan(view)}\nplan hash ${view.planHash}\n${JSON.stringify(view.plan, null, 2)}`);
}

export const plansApprove = (planId: string, opts: Decision): Promise<void> => decide('approve', planId, opts);
export const plansReject = (planId: string, opts: Decision): Promise<void> => decide('reject', planId, opts);

async function decide(decision: 'approve' | 'reject', planId: string, opts: Decision): Promise<void> {
  const view = await call<PlanView>(opts, 'GET', `/v1/plans/${encodeURIComponent(planId)}`);
  // The owner signs the hash of the plan as received and re-hashed here, not the coordinator's word for it.
  const hash = planHash(view.plan as Plan);
  if (hash !== view.planHash) {
    throw new ConcordError(ErrorCode.CONFLICT, `the coordinator reports plan hash ${view.planHash}, but the plan it sent hashes to ${hash}`, { details: { field: 'planHash', expected: hash, received: view.planHash } });
  }
  const approval: PlanApproval = approvePlan(view.plan, { member: opts.member, identity: await loadIdentity(opts.identity) }, { decision, ...(opts.reason ? { reason: opts.reason } : {}) });
  const updated = await call<PlanView>(opts, 'POST', `/v1/plans/${encodeURIComponent(planId)}/approvals`, approval);
  print(opts.json, updated, `${opts.member} ${decision === 'approve' ? 'approved' : 'rejected'} plan ${hash.slice(0, 16)}…\n${describePlan(updated)}`);
}

export async function plansStart(planId: string, opts: Conn): Promise<void> {
  const started = await call<{ runId: string; planHash: string }>(opts, 'POST', `/v1/plans/${encodeURIComponent(planId)}/start`, {});
  print(opts.json, started, `started run ${started.runId} from plan ${planId} (${started.planHash.slice(0, 16)}…)`);
}

