// The cooperation agreement in force and the training plans run under it. The agreement
// (loaded with `concord coordinator --agreement`, amended only with the signatures its
// current version demands) is kept with its history in storage; every run is checked
// against it before anything touches data, and members it does not name can neither
// enroll nor receive tasks. Plans are submitted by researchers, approved or rejected by
// data owners with signatures the coordinator checks against the agreement's keys, and
// started as runs whose tasks carry the plan and each member's own approval, so a member
// node can check them itself (node/approval-guard.ts). Security notes: docs/security.md.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { agreementHash, amendAgreement, checkRun, findMember, type Agreement, type AgreementSignature, type RunRequest, type Violation } from '../governance/agreement.js';
import { checkPlan, parsePlan, planHash, planStatus, verifyApproval, type PlanApproval } from '../governance/plans.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { PlanApprovalSchema, parseMessage, type RunConfig } from '../protocol/messages.js';
import { newId } from '../storage/ids.js';
import type { AgreementVersionRecord, PlanRecord, RunRecord, GovernanceStore, MemberStore } from '../storage/storage.js';
import type { MemberRef } from '../strategies/strategy.js';
import type { AuditTrail } from './audit-trail.js';
import type { Authenticator } from './auth.js';
import type { Grid } from './grid.js';

export interface AgreementGovernanceOptions {
  storage: GovernanceStore & Pick<MemberStore, 'listMembers'>;
  audit: AuditTrail;
  /** The agreement file given at start. Default: whatever version storage holds (none: nothing enforced). */
  initial?: Agreement;
  /** Default Date.now. */
  now?: () => number;
}

export interface AgreementGovernance {
  /** The agreement in force, if any. */
  current(): Agreement | undefined;
  /** Reads the version in force again (replicas: another one may have adopted an amendment). */
  refresh(): Promise<void>;
  /** Throws FORBIDDEN when an agreement is in force and does not name `name`. */
  assertMayEnroll(name: string): void;
  /** Throws FORBIDDEN listing every violated clause (and records the refusal) unless the run is allowed. */
  assertRunAllowed(config: RunConfig, actor: string, planId?: string): Promise<void>;
  /** The grid a run sees: only members the agreement (and the run's plan) admit, tasks carrying plan and approval. */
  gridFor(run: RunRecord, grid: Grid): Grid;
  register(app: FastifyInstance, auth: Authenticator, startRun: (config: RunConfig, actor: string, planId: string) => Promise<string>): void;
}

const AmendRequestSchema = z.object({
  agreement: z.record(z.unknown()),
  signatures: z.array(z.object({ member: z.string().min(1).max(128), signature: z.string().min(1).max(200) })).default([]),
});

export async function createAgreementGovernance(options: AgreementGovernanceOptions): Promise<AgreementGovernance> {
  const { storage, audit } = options;
  const now = options.now ?? Date.now;
  let inForce = await adoptInitial();

  async function adoptInitial(): Promise<Agreement | undefined> {
    const history = await storage.listAgreementVersions();
    const latest = history.at(-1);
    if (!options.initial) return latest?.agreement;
    const hash = agreementHash(options.initial);
    if (!latest) {
      await storage.addAgreementVersion({ version: options.initial.version, hash, agreement: options.initial, signatures: [], signers: [], adoptedAt: now(), adoptedBy: 'operator' });
      await audit.record({ actor: 'operator', kind: 'agreement.adopted', subject: `v${options.initial.version}`, data: { version: options.initial.version, hash, via: 'file' } });
      return options.initial;
    }
    // Amended since the file was written: the signed amendment stays in force.
    if (history.some((v) => v.hash === hash)) return latest.agreement;
    throw new ConcordError(
      ErrorCode.CONFLICT,
      `the database holds agreement version ${latest.version} (${latest.hash.slice(0, 12)}…), which differs from the given file (version ${options.initial.version}, ${hash.slice(0, 12)}…); change the agreement by a signed amendment ("concord agreement propose/sign"), not by starting with another file`,
      { details: { field: 'agreement', expected: latest.hash, received: hash } },
    );
  }

  /** Enrolled, unrevoked members the agreement names. */
  async function participants(agreement: Agreement): Promise<string[]> {
    return (await storage.listMembers()).filter((m) => !m.revoked && findMember(agreement, m.name)).map((m) => m.name);
  }

  function runRequest(config: RunConfig, names: string[], datasets?: string[]): RunRequest {
    const dp = config.differentialPrivacy;
    return {
      purpose: config.purpose ?? '',
      config,
      participants: names,
      secureAggregation: config.secureAggregation,
      differentialPrivacy: dp ? { epsilon: dp.budget.epsilon, delta: dp.budget.delta } : null,
      ...(datasets ? { datasets } : {}),
    };
  }

  async function refuse(actor: string, subject: string, kind: string, agreement: Agreement, violations: Violation[], what: string): Promise<never> {
    await audit.record({ actor, kind, subject, data: { agreementVersion: agreement.version, clauses: violations.map((v) => v.clause), violations: violations.map((v) => v.message) } });
    throw new ConcordError(ErrorCode.FORBIDDEN, `the cooperation agreement (version ${agreement.version}) does not allow ${what}:\n${violations.map((v) => `  ${v.message}`).join('\n')}`, {
      details: { field: violations[0]!.clause, violations },
    });
  }

  async function planRecord(planId: string): Promise<PlanRecord> {
    const record = await storage.getPlan(planId);
    if (!record) throw new ConcordError(ErrorCode.NOT_FOUND, `no plan ${planId}`, { details: { field: 'planId', received: planId } });
    return record;
  }

  function requireAgreement(): Agreement {
    if (!inForce) {
      throw new ConcordError(ErrorCode.CONFLICT, 'no cooperation agreement is in force; start the coordinator with --agreement FILE.yaml', { details: { field: 'agreement', reason: 'no-agreement' } });
    }
    return inForce;
  }

  const view = (record: PlanRecord) => ({ ...record, status: inForce ? planStatus(record.plan, record.approvals, inForce) : null });

  return {
    current: () => inForce,

    async refresh() {
      const latest = (await storage.listAgreementVersions()).at(-1);
      if (latest && (!inForce || latest.version > inForce.version)) inForce = latest.agreement;
    },

    assertMayEnroll(name) {
      if (inForce && !findMember(inForce, name)) {
        throw new ConcordError(ErrorCode.FORBIDDEN, `${name} is not a member of ${inForce.consortium} under agreement version ${inForce.version}; members: ${inForce.members.map((m) => m.name).join(', ')}`, {
          details: { field: 'name', received: name, reason: 'not-in-agreement' },
        });
      }
    },

    async assertRunAllowed(config, actor, planId) {
      const agreement = inForce;
      if (!agreement) return;
      const record = planId === undefined ? undefined : await planRecord(planId);
      let names = await participants(agreement);
      if (record) {
        const status = planStatus(record.plan, record.approvals, agreement);
        names = names.filter((n) => status.approvedBy.includes(n));
      }
      const violations = checkRun(agreement, { ...runRequest(config, names, record?.plan.datasets), fromPlan: record !== undefined });
      if (violations.length > 0) await refuse(actor, planId ?? config.name, 'run.refused', agreement, violations, 'this run');
    },

    gridFor(run, grid) {
      if (!inForce && run.config.planId === undefined) return grid;
      const planId = run.config.planId;
      let plan: Promise<PlanRecord | undefined> | undefined;
      const loadPlan = () => (plan ??= planId === undefined ? Promise.resolve(undefined) : storage.getPlan(planId));
      let approved: Set<string> | null = null;
      void loadPlan().then((record) => {
        if (record && inForce) approved = new Set(planStatus(record.plan, record.approvals, inForce).approvedBy);
      });
      // Members outside the agreement, or whose owner did not approve the run's plan, never get its tasks.
      const admitted = (m: MemberRef) => (!inForce || findMember(inForce, m.name) !== undefined) && (planId === undefined || (approved !== null && approved.has(m.name)));
      const names = new Map<string, string>();
      const available = () => {
        const list = grid.available().filter(admitted);
        for (const m of list) names.set(m.memberId, m.name);
        return list;
      };
      return {
        available,
        async waitForMembers(count, signal) {
          await loadPlan();
          while (!signal.aborted && available().length < count) {
            await grid.waitForMembers(Math.min(count, grid.available().length + 1), signal);
            if (available().length < count) await new Promise((r) => setTimeout(r, 100));
          }
        },
        async sendAndReceive(tasks, o) {
          const record = await loadPlan();
          if (!record) return grid.sendAndReceive(tasks, o);
          const latest = latestApprovals(record.approvals);
          const decorated = tasks.map((t) => {
            const approval = latest.get(names.get(t.memberId) ?? '');
            return { ...t, plan: record.plan as unknown as Record<string, unknown>, ...(approval ? { approval } : {}) };
          });
          return grid.sendAndReceive(decorated, o);
        },
      };
    },

    register(app, auth, startRun) {
      app.get('/v1/agreement', async (request) => {
        await auth.caller(request, 'agreement:read');
        const history = await storage.listAgreementVersions();
        return { agreement: inForce ?? null, hash: inForce ? agreementHash(inForce) : null, history: history.map(summary) };
      });

      app.post('/v1/agreement', async (request) => {
        const caller = await auth.caller(request, 'agreement:write');
        const current = requireAgreement();
        const body = parseMessage(AmendRequestSchema, request.body, 'amendment request');
        let amended: ReturnType<typeof amendAgreement>;
        try {
          amended = amendAgreement(current, body.agreement, body.signatures as AgreementSignature[]);
        } catch (error) {
          if (error instanceof ConcordError) {
            await audit.record({ actor: caller.actor, kind: 'agreement.amendment-refused', subject: `v${current.version + 1}`, data: { code: error.code, message: error.message } });
          }
          throw error;
        }
        const record: AgreementVersionRecord = {
          version: amended.agreement.version,
          hash: amended.hash,
          agreement: amended.agreement,
          signatures: body.signatures as AgreementSignature[],
          signers: amended.signers,
          adoptedAt: now(),
          adoptedBy: caller.actor,
        };
        await storage.addAgreementVersion(record);
        inForce = amended.agreement;
        await audit.record({ actor: caller.actor, kind: 'agreement.amended', subject: `v${record.version}`, data: { version: record.version, hash: record.hash, previous: agreementHash(current), signers: record.signers } });
        return summary(record);
      });

      app.post('/v1/plans', async (request) => {
        const caller = await auth.caller(request, 'plans:write');
        const agreement = requireAgreement();
        const plan = parsePlan(request.body);
        const violations = checkPlan(plan, agreement);
        if (violations.length > 0) await refuse(caller.actor, plan.title, 'plan.refused', agreement, violations, 'this plan');
        const record = { planId: newId('plan'), planHash: planHash(plan), plan, submittedBy: caller.actor, submittedAt: now() };
        await storage.addPlan(record);
        await audit.record({ actor: caller.actor, kind: 'plan.submitted', subject: record.planId, data: { planHash: record.planHash, title: plan.title, purpose: plan.purpose, datasets: plan.datasets } });
        return view(await planRecord(record.planId));
      });

      app.get('/v1/plans', async (request) => {
        await auth.caller(request, 'plans:read');
        return { plans: (await storage.listPlans()).map(view) };
      });

      app.get<{ Params: { planId: string } }>('/v1/plans/:planId', async (request) => {
        await auth.caller(request, 'plans:read');
        return view(await planRecord(request.params.planId));
      });

      // The owner's signature is the credential: checked against the key the agreement lists for the member.
      app.post<{ Params: { planId: string } }>('/v1/plans/:planId/approvals', async (request) => {
        const agreement = requireAgreement();
        const record = await planRecord(request.params.planId);
        const approval = parseMessage(PlanApprovalSchema, request.body, 'plan approval') as PlanApproval;
        const member = findMember(agreement, approval.member);
        if (!member) {
          throw new ConcordError(ErrorCode.FORBIDDEN, `${approval.member} is not a member of the agreement`, { details: { field: 'member', received: approval.member, reason: 'not-in-agreement' } });
        }
        if (!verifyApproval(record.plan, approval, member.publicKey)) {
          await audit.refusal(approval.member, { actor: approval.member, kind: 'plan.approval-refused', subject: record.planId, data: { reason: approval.planHash === record.planHash ? 'bad-signature' : 'other-plan' } });
          throw new ConcordError(ErrorCode.UNAUTHENTICATED, `the decision is not signed by ${approval.member}'s data owner for plan ${record.planHash.slice(0, 12)}…`, {
            details: { field: 'signature', expected: record.planHash, received: approval.planHash, reason: 'bad-signature' },
          });
        }
        const updated = await storage.addPlanApproval(record.planId, approval);
        await audit.record({
          actor: approval.member,
          kind: approval.decision === 'approve' ? 'plan.approved' : 'plan.rejected',
          subject: record.planId,
          data: { planHash: record.planHash, reason: approval.reason, signature: approval.signature },
        });
        return view(updated);
      });

      app.post<{ Params: { planId: string } }>('/v1/plans/:planId/start', async (request) => {
        const caller = await auth.caller(request, 'runs:write');
        const agreement = requireAgreement();
        const record = await planRecord(request.params.planId);
        if (record.runId) throw new ConcordError(ErrorCode.CONFLICT, `plan ${record.planId} was already started as run ${record.runId}`, { details: { field: 'planId', received: record.planId } });
        const status = planStatus(record.plan, record.approvals, agreement);
        if (status.state !== 'approved') {
          const why = status.state === 'rejected' ? `rejected by ${status.rejectedBy.map((r) => r.member).join(', ')}` : `still waiting for ${status.waitingFor.join(', ')} (${status.approvedBy.length} of ${status.needed} approvals)`;
          throw new ConcordError(ErrorCode.FORBIDDEN, `plan ${record.planId} is not approved: ${why}`, {
            details: { field: 'approvals', reason: status.state, expected: status.needed, received: status.approvedBy, waitingFor: status.waitingFor },
          });
        }
        const config: RunConfig = { ...record.plan.config, purpose: record.plan.purpose, planId: record.planId, secureAggregation: record.plan.privacy.secureAggregation || record.plan.config.secureAggregation };
        const runId = await startRun(config, caller.actor, record.planId);
        await storage.setPlanRun(record.planId, runId);
        return { runId, planId: record.planId, planHash: record.planHash };
      });
    },
  };
}

function summary(record: AgreementVersionRecord) {
  return { version: record.version, hash: record.hash, signers: record.signers, signatures: record.signatures, adoptedAt: record.adoptedAt, adoptedBy: record.adoptedBy };
}

/** Each member's latest decision (a rejection wins a tie, as in planStatus). */
function latestApprovals(approvals: readonly PlanApproval[]): Map<string, PlanApproval> {
  const latest = new Map<string, PlanApproval>();
  for (const a of approvals) {
    const previous = latest.get(a.member);
    if (!previous || a.at > previous.at || (a.at === previous.at && a.decision === 'reject')) latest.set(a.member, a);
  }
  return latest;
}

