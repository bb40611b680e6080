// Federated analytics on the coordinator: a query is checked as a whole before any member is
// asked — its format, the agreement's clauses (forbidden types, required DP, minimum count,
// secure aggregation), the consortium schema, enough members holding data validated against
// that schema, and for a DP query every contributing dataset's remaining budget — then
// stored and audited, exchanged with the members (analytics-runner.ts), released (exact with
// the minimum count, or noised with the stated ε) and stored with its privacy charges and
// audit entry in one transaction. Anything that cannot be honoured refuses the query with the
// reason; nothing is released without the protection it asked for.

import { compileQuery } from '../analytics/statistics/index.js';
import { decodeCells, limbsPerCell } from '../analytics/fixed-point.js';
import { noisePlan, releaseCharge } from '../analytics/dp.js';
import { analyticsRules, assertQueryAllowed } from '../analytics/policy.js';
import { queryApprovalStatus, type QueryApproval, type QueryApprovalStatus } from '../analytics/approval.js';
import { parseQuery, type Query } from '../analytics/query.js';
import { releaseResult } from '../analytics/release.js';
import type { Agreement } from '../governance/agreement.js';
import type { JsonValue } from '../governance/canonical.js';
import { type DataSchema, schemaHash } from '../data/schema/schema.js';
import { epsilonOf } from '../privacy/dp/charges.js';
import { defaultQuantizationBits } from '../privacy/secagg/quantize.js';
import { ConcordError, ErrorCode, isConcordError } from '../protocol/errors.js';
import type { AnalyticsQueryRecord, MemberRecord, PrivacyCharge, Storage } from '../storage/storage.js';
import type { AuditTrail } from './audit-trail.js';
import { exchangeAnalytics } from './analytics-runner.js';
import type { Grid } from './grid.js';
import { datasetIdOf } from './privacy-policy.js';

export interface AnalyticsServiceOptions {
  storage: Storage;
  grid: Grid;
  audit: AuditTrail;
  /** The agreement in force, if any: its dataSchema, analytics clauses and budgets apply. */
  agreement: () => Agreement | undefined;
  /** The consortium schema when the agreement carries none (the local demo). */
  schema?: DataSchema;
  /** Each dataset's privacy budget where the agreement states none. Without either, DP queries are refused. */
  budget?: { epsilon: number; delta: number };
  /** How long members have to answer all stages. Default 120 000 ms. */
  timeoutMs?: number;
}

export class AnalyticsService {
  constructor(private readonly options: AnalyticsServiceOptions) {}

  /** Checks, runs and releases a query; refusals throw before anything is stored, failures later return the failed record. */
  async run(input: unknown, actor: string, signal: AbortSignal = new AbortController().signal, approvals: readonly QueryApproval[] = []): Promise<AnalyticsQueryRecord> {
    const { storage, audit } = this.options;
    const query = parseQuery(input);
    const agreement = this.options.agreement() ?? null;
    const schema = agreement?.dataSchema ?? this.options.schema;
    if (!schema) throw new ConcordError(ErrorCode.CONFLICT, 'no consortium data schema: the agreement in force has no dataSchema and the coordinator was started without one, so no query can be checked', { details: { field: 'dataSchema' } });
    const rules = analyticsRules(agreement);
    const { minCount } = assertQueryAllowed(query, rules);
    const plan = compileQuery(query, schema);
    const hash = schemaHash(schema);
    const online = await this.participants(hash);
    // Under an agreement only members whose data owners approved this very query contribute.
    const consent = agreement ? queryApprovalStatus(query, approvals, agreement, online.map((m) => m.name)) : null;
    if (consent && consent.state !== 'approved') throw approvalMissing(consent);
    const members = consent ? online.filter((m) => consent.approvedBy.includes(m.name)) : online;
    const needed = Math.max(rules.minContributors, query.secureAggregation ? 2 : 1);
    if (members.length < needed) {
      throw new ConcordError(ErrorCode.NOT_ENOUGH_MEMBERS, `${members.length} members online hold data validated against ${schema.name} v${schema.version}; the query needs ${needed}`, { details: { field: 'members', expected: needed, received: members.length } });
    }
    const noise = query.privacy ? noisePlan(plan, query.privacy) : null;
    const planned: PrivacyCharge[] = noise ? members.map((m) => ({ memberId: m.memberId, datasetId: datasetIdOf(m), ...releaseCharge(noise) })) : [];
    if (noise) await this.assertBudgets(query, planned, members, agreement);

    const record = await storage.addAnalyticsQuery(query as unknown as Record<string, unknown>, actor);
    await audit.record({
      actor,
      kind: 'analytics.submitted',
      subject: record.queryId,
      data: {
        type: query.type,
        query: query as unknown as JsonValue,
        schema: hash,
        members: members.map((m) => m.name),
        minCount,
        ...(query.privacy ? { epsilon: query.privacy.epsilon, delta: query.privacy.delta } : {}),
        ...(consent ? { queryHash: consent.queryHash, approvals: consent.rule, approvedBy: consent.approvedBy } : {}),
      },
    });
    try {
      const limbBits = defaultQuantizationBits(members.length) - 1;
      const vectorLength = plan.cells.length * limbsPerCell(limbBits);
      const exchange = await exchangeAnalytics({
        grid: this.options.grid,
        queryId: record.queryId,
        // Members started with their owner's key check their own owner's approval among these.
        payload: { query, schemaHash: hash, minCount, limbBits, ...(approvals.length > 0 ? { approvals: [...approvals] } : {}) },
        members: members.map((m) => ({ memberId: m.memberId, name: m.name, numExamples: m.dataset.numExamples })),
        vectorLength,
        secure: query.secureAggregation,
        bits: limbBits + 1,
        minContributors: needed,
        deadline: Date.now() + (this.options.timeoutMs ?? 120_000),
        signal,
      });
      const { totals } = decodeCells(plan.cells, exchange.sum, limbBits);
      const { result } = releaseResult({ plan, totals, contributors: exchange.contributors.length, secureAggregation: query.secureAggregation, minCount, noise });
      const charges = planned.filter((c) => exchange.contributors.includes(c.memberId));
      const stored = {
        ...result,
        members: exchange.contributors.map((id) => ({ memberId: id, ...(exchange.traffic.get(id) ?? { bytesOut: 0, bytesIn: 0, seconds: 0 }) })),
        failures: exchange.failures,
      };
      const entries = audit.log.following([
        { at: Date.now(), actor: 'coordinator', kind: 'analytics.released', subject: record.queryId, data: { type: query.type, exact: result.exact, contributors: exchange.contributors, suppressed: result.values.filter((v) => v.value === null).length, ...(noise ? { epsilon: noise.epsilon, delta: noise.delta, noiseMultiplier: noise.noiseMultiplier, charges: charges.map((c) => c.datasetId) } : {}) } },
      ]);
      return await storage.completeAnalyticsQuery(record.queryId, stored as unknown as Record<string, unknown>, charges, entries);
    } catch (error) {
      const message = isConcordError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
      await audit.record({ actor: 'coordinator', kind: 'analytics.failed', subject: record.queryId, data: { reason: message.slice(0, 2000) } });
      return storage.failAnalyticsQuery(record.queryId, message);
    }
  }

  /** Online, unrevoked members whose enrolled descriptor says their data matches the schema. */
  private async participants(hash: string): Promise<MemberRecord[]> {
    const online = new Set(this.options.grid.available().map((m) => m.memberId));
    return (await this.options.storage.listMembers()).filter((m) => !m.revoked && online.has(m.memberId) && m.dataset.schema?.hash === hash);
  }

  private async assertBudgets(query: Query, charges: PrivacyCharge[], members: MemberRecord[], agreement: Agreement | null): Promise<void> {
    const problems: string[] = [];
    for (const charge of charges) {
      const member = members.find((m) => m.memberId === charge.memberId)!;
      const budget = budgetOf(member.name, agreement) ?? this.options.budget;
      if (!budget) {
        problems.push(`dataset ${charge.datasetId}: no privacy budget is agreed for it`);
        continue;
      }
      if (query.privacy!.delta > budget.delta) problems.push(`dataset ${charge.datasetId}: the query's δ = ${query.privacy!.delta} exceeds the budget's δ = ${budget.delta}`);
      const history = await this.options.storage.listPrivacyCharges(charge.datasetId);
      const spent = epsilonOf(history, budget.delta);
      const after = epsilonOf([...history, charge], budget.delta);
      if (after > budget.epsilon) problems.push(`dataset ${charge.datasetId}: the release would spend ε = ${after.toFixed(3)} > budget ${budget.epsilon} (spent ${spent.toFixed(3)}, δ = ${budget.delta})`);
    }
    if (problems.length > 0) throw new ConcordError(ErrorCode.FORBIDDEN, `privacy budget: ${problems.join('; ')}`, { details: { field: 'privacy', problems } });
  }
}

function approvalMissing(status: QueryApprovalStatus): ConcordError {
  const rule = status.rule === 'all-data-owners' ? 'the owners of every member holding the data' : `${status.needed} data owner${status.needed === 1 ? '' : 's'}`;
  const why =
    status.state === 'rejected'
      ? status.rejectedBy.length > 0
        ? `rejected by ${status.rejectedBy.map((r) => `${r.member}${r.reason ? ` (${r.reason})` : ''}`).join(', ')}`
        : `only ${status.waitingFor.length} members hold the data, fewer than the ${status.needed} approvals needed`
      : `waiting for ${status.waitingFor.join(', ') || 'owners'}${status.approvedBy.length ? `; approved by ${status.approvedBy.join(', ')}` : ''}`;
  return new ConcordError(ErrorCode.FORBIDDEN, `the agreement lets a query read members' data only with the approval of ${rule} (analytics.queriesNeed): query ${status.queryHash.slice(0, 12)}… is ${status.state}, ${why}; owners sign it with "concord analytics approve"`, {
    details: { field: 'approvals', queryHash: status.queryHash, state: status.state, needed: status.needed, approvedBy: status.approvedBy, waitingFor: status.waitingFor, rejectedBy: status.rejectedBy, ignored: status.ignored },
  });
}

/** The agreement's budget for a member's data: the first of its declared datasets that has one. */
function budgetOf(memberName: string, agreement: Agreement | null): { epsilon: number; delta: number } | undefined {
  const member = agreement?.members.find((m) => m.name === memberName);
  for (const d of member?.datasets ?? []) {
    const budget = agreement!.differentialPrivacy.budgets[d.id];
    if (budget) return budget;
  }
  return undefined;
}
