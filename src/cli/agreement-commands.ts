// `concord agreement …` and `concord plans …`: the cooperation agreement in force and its
// amendment by signed proposals, and training plans that researchers submit and data
// owners approve or reject with their own keys. Signing happens here, on the owner's
// machine; the coordinator only ever sees signatures.

import type { Command } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import { agreementHash, parseAgreement, signAgreement, validateAgreement, type Agreement, type AgreementSignature } from '../governance/agreement.js';
import { loadIdentity } from '../governance/identity.js';
import { approvePlan, planHash, type Plan, type PlanApproval, type PlanStatus } from '../governance/plans.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { PlanRecord } from '../storage/storage.js';
import { coordinatorUrl, fail, operatorRequest, operatorToken } from './options.js';
import { withConn } from './run-commands.js';

interface Conn {
  coordinator?: string;
  token?: string;
  json?: boolean;
}

/** A proposed agreement version travelling between data owners for signatures. */
interface Proposal {
  agreement: Agreement;
  hash: string;
  signatures: AgreementSignature[];
}

type PlanView = PlanRecord & { status: PlanStatus | null };

const print = (json: boolean | undefined, value: unknown, human: string): void => {
  process.stdout.write(json ? JSON.stringify(value) + '\n' : human + '\n');
};

const call = <T>(opts: Conn, method: string, path: string, body?: unknown): Promise<T> => operatorRequest<T>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), method, path, body);

async function readText(file: string, field: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    throw new ConcordError(ErrorCode.NOT_FOUND, `cannot read ${file}: ${(cause as Error).message}`, { details: { field, received: file }, cause });
  }
}

/** A proposal file (JSON from `propose`) or a bare agreement in YAML. */
async function readProposal(file: string): Promise<Proposal> {
  const text = await readText(file, 'proposal');
  if (text.trimStart().startsWith('{')) {
    const raw = JSON.parse(text) as Partial<Proposal>;
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

export function registerAgreementCommands(program: Command): void {
  const agreement = program.command('agreement').description('the cooperation agreement in force, and amendments signed by data owners');

  withConn(agreement.command('show'))
    .description('the agreement in force and its history (versions, hashes, signers)')
    .action(async (opts: Conn) => {
      try {
        const shown = await call<{ agreement: Agreement | null; hash: string | null; history: { version: number; hash: string; signers: string[]; adoptedAt: number }[] }>(opts, 'GET', '/v1/agreement');
        const human = shown.agreement
          ? [`${shown.agreement.consortium}, version ${shown.agreement.version} (${shown.hash})`, ...shown.history.map((v) => `  v${v.version} ${v.hash.slice(0, 16)}… ${new Date(v.adoptedAt).toISOString()} signed by ${v.signers.join(', ') || '(loaded by the operator)'}`)].join('\n')
          : 'no cooperation agreement is in force';
        print(opts.json, shown, human);
      } catch (error) {
        fail(error, Boolean(opts.json));
      }
    });

  agreement
    .command('propose <file>')
    .description('validate a new agreement version (YAML) and write a proposal for data owners to sign')
    .option('--out <file>', 'where to write the proposal (JSON; default: stdout)')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { out?: string; json?: boolean }) => {
      try {
        const proposal = await readProposal(file);
        const text = JSON.stringify(proposal, null, 2) + '\n';
        if (opts.out) {
          await writeFile(opts.out, text);
          print(opts.json, { out: opts.out, version: proposal.agreement.version, hash: proposal.hash }, `proposal for version ${proposal.agreement.version} (${proposal.hash}) written to ${opts.out}`);
        } else process.stdout.write(text);
      } catch (error) {
        fail(error, Boolean(opts.json));
      }
    });

  agreement
    .command('sign <proposal>')
    .description("sign a proposal with a data owner's key; the signature is added to the proposal file")
    .requiredOption('--identity <file>', "the data owner's identity file (Ed25519 key)")
    .requiredOption('--member <name>', 'the member whose owner signs')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { identity: string; member: string; json?: boolean }) => {
      try {
        const proposal = await readProposal(file);
        const signature = signAgreement(proposal.agreement, opts.member, await loadIdentity(opts.identity));
        proposal.signatures = [...proposal.signatures.filter((s) => s.member !== opts.member), signature];
        await writeFile(file, JSON.stringify(proposal, null, 2) + '\n');
        print(opts.json, { member: opts.member, hash: proposal.hash, signatures: proposal.signatures.map((s) => s.member) }, `${opts.member} signed version ${proposal.agreement.version} (${proposal.hash.slice(0, 16)}…); signatures: ${proposal.signatures.map((s) => s.member).join(', ')}`);
      } catch (error) {
        fail(error, Boolean(opts.json));
      }
    });

  withConn(agreement.command('submit <proposal>'))
    .description('adopt a signed proposal; refused, naming them, without the signatures the current version requires')
    .action(async (file: string, opts: Conn) => {
      try {
        const proposal = await readProposal(file);
        const adopted = await call<{ version: number; hash: string; signers: string[] }>(opts, 'POST', '/v1/agreement', { agreement: proposal.agreement, signatures: proposal.signatures });
        print(opts.json, adopted, `agreement version ${adopted.version} (${adopted.hash.slice(0, 16)}…) is in force, signed by ${adopted.signers.join(', ')}`);
      } catch (error) {
        fail(error, Boolean(opts.json));
      }
    });

  const plans = program.command('plans').description('training plans: submitted by researchers, approved or rejected by each data owner');

  withConn(plans.command('submit'))
    .description('submit a training plan (JSON: title, researcher, purpose, datasets, config, privacy)')
    .requiredOption('--file <plan.json>', 'the plan')
    .action(async (opts: Conn & { file: string }) => {
      try {
        const raw = JSON.parse(await readText(opts.file, '--file')) as Record<string, unknown>;
        const view = await call<PlanView>(opts, 'POST', '/v1/plans', { createdAt: Date.now(), ...raw });
        print(opts.json, view, `submitted ${describePlan(view)}\nplan hash ${view.planHash}`);
      } catch (error) {
        fail(error, Boolean(opts.json));
      }
    });

  withConn(plans.command('list'))
    .description('every plan and its approval state')
    .action(async (opts: Conn) => {
      try {
        const { plans: all } = await call<{ plans: PlanView[] }>(opts, 'GET', '/v1/plans');
        print(opts.json, all, all.length === 0 ? 'no plans' : all.map(describePlan).join('\n'));
      } catch (error) {
        fail(error, Boolean(opts.json));
      }
    });

  withConn(plans.command('show <planId>'))
    .description('a plan in full, with its hash and decisions')
    .action(async (planId: string, opts: Conn) => {
      try {
        const view = await call<PlanView>(opts, 'GET', `/v1/plans/${encodeURIComponent(planId)}`);
        print(opts.json, view, `${describePlan(view)}\nplan hash ${view.planHash}\n${JSON.stringify(view.plan, null, 2)}`);
      } catch (error) {
        fail(error, Boolean(opts.json));
      }
    });

  for (const decision of ['approve', 'reject'] as const) {
    withConn(plans.command(`${decision} <planId>`))
      .description(`${decision} a plan as a member's data owner, signed with the owner's key (checked against the agreement)`)
      .requiredOption('--identity <file>', "the data owner's identity file (Ed25519 key)")
      .requiredOption('--member <name>', 'the member whose owner decides')
      .option('--reason <text>', 'why (shown to the researcher and kept in the audit log)')
      .action(async (planId: string, opts: Conn & { identity: string; member: string; reason?: string }) => {
        try {
          const view = await call<PlanView>(opts, 'GET', `/v1/plans/${encodeURIComponent(planId)}`);
          // The owner signs the hash of the plan as received and re-hashed here, not the coordinator's word for it.
          const hash = planHash(view.plan as Plan);
          if (hash !== view.planHash) {
            throw new ConcordError(ErrorCode.CONFLICT, `the coordinator reports plan hash ${view.planHash}, but the plan it sent hashes to ${hash}`, { details: { field: 'planHash', expected: hash, received: view.planHash } });
          }
          const approval: PlanApproval = approvePlan(view.plan, { member: opts.member, identity: await loadIdentity(opts.identity) }, { decision, ...(opts.reason ? { reason: opts.reason } : {}) });
          const updated = await call<PlanView>(opts, 'POST', `/v1/plans/${encodeURIComponent(planId)}/approvals`, approval);
          print(opts.json, updated, `${opts.member} ${decision === 'approve' ? 'approved' : 'rejected'} plan ${hash.slice(0, 16)}…\n${describePlan(updated)}`);
        } catch (error) {
          fail(error, Boolean(opts.json));
        }
      });
  }

  withConn(plans.command('start <planId>'))
    .description('start the run of an approved plan; refused, naming who still has to approve')
    .action(async (planId: string, opts: Conn) => {
      try {
        const started = await call<{ runId: string; planHash: string }>(opts, 'POST', `/v1/plans/${encodeURIComponent(planId)}/start`, {});
        print(opts.json, started, `started run ${started.runId} from plan ${planId} (${started.planHash.slice(0, 16)}…)`);
      } catch (error) {
        fail(error, Boolean(opts.json));
      }
    });
}
