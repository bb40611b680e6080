// The member's side of federated analytics, as a TaskHandler wrapper: withAnalytics(handler)
// answers `analytics` tasks (coordinator/analytics-runner.ts) and passes everything else on.
// A member started with its data owner's key answers only queries that owner signed.
// Before every query the member reads its file again and validates it against its schema
// (every problem declines the task with the list), checks that the query was compiled
// against the same schema (by hash), that its minimum count is at least the member's own and
// its type one the member allows, and only then computes its cell totals
// (analytics/contribution.ts). Under secure aggregation the totals are the integer input of
// a SecAgg+ round (privacy/secagg, integer encoding) and leave only masked; in the plain
// stage (allowed only where the agreement does not require secure aggregation) the vector
// of totals is sent as it is. Records never leave.

import { assertQueryApprovedLocally } from '../analytics/approval.js';
import { memberContribution } from '../analytics/contribution.js';
import { noisePlan, releaseCharge } from '../analytics/dp.js';
import type { QueryPlan } from '../analytics/plan.js';
import type { Query } from '../analytics/query.js';
import type { PrivacyBudget } from '../privacy/dp/budget.js';
import type { LedgerStore } from './privacy-guard.js';
import { compileQuery } from '../analytics/statistics/index.js';
import type { QueryType } from '../analytics/query-types.js';
import { ANALYTICS_PLAIN_STAGE, type AnalyticsPayload, parseAnalyticsPayload } from '../analytics/wire.js';
import { loadMemberRecords } from '../data/spec.js';
import { schemaHash } from '../data/schema/schema.js';
import { maskedVectorParameters } from '../privacy/secagg/wire.js';
import { SecAggMember } from '../privacy/secagg/member.js';
import type { SecAggPrimitives } from '../privacy/secagg/primitives.js';
import { decodeRingVector } from '../privacy/secagg/protocol.js';
import { ConcordError, ErrorCode, isConcordError } from '../protocol/errors.js';
import type { AnalyticsTaskHeader } from '../protocol/messages.js';
import type { SecaggOutcome, TaskHandler } from './member.js';

export interface AnalyticsHandlerOptions {
  /** The data spec of this member's schema-validated file (csv|parquet|arrow:FILE,schema=…). */
  data: string;
  memberId: () => string | null | undefined;
  primitives: SecAggPrimitives;
  /** The smallest minimum count this member accepts. Default 5. */
  minCount?: number;
  /** Query types this member answers. Default: all the coordinator may send (the agreement decides). */
  allowedQueries?: readonly QueryType[];
  /**
   * The member's own privacy budget (node --privacy-budget), on the ledger it shares with
   * training (privacy-guard.ts sharedLedgerStore): with one, the member answers only DP
   * queries, charges each to its ledger by its own reckoning before answering, and refuses
   * one that would exceed the budget.
   */
  privacy?: { budget: PrivacyBudget; datasetId: string; store: LedgerStore };
  /**
   * The data owner's public key (node --owner-key) and this member's name: with them, the
   * member answers only queries its own owner approved (analytics/approval.ts).
   */
  owner?: { key: string; member: string };
  log?: (line: string) => void;
}

interface PendingQuery {
  member: SecAggMember;
  vector: Uint32Array;
}

const MAX_PENDING = 8;

export function withAnalytics(handler: TaskHandler, options: AnalyticsHandlerOptions): TaskHandler {
  const log = options.log ?? (() => undefined);
  const ownMinimum = options.minCount ?? 5;
  const pending = new Map<string, PendingQuery>();

  /** Validates the local data afresh and computes this member's vector for the query. */
  async function contribution(payload: AnalyticsPayload): Promise<Uint32Array> {
    const { query } = payload;
    if (options.allowedQueries && !options.allowedQueries.includes(query.type)) {
      throw new ConcordError(ErrorCode.FORBIDDEN, `this member does not answer ${query.type} queries (it answers ${options.allowedQueries.join(', ')})`);
    }
    if (options.owner) assertQueryApprovedLocally(query, payload.approvals, options.owner.key, options.owner.member);
    if (payload.minCount < ownMinimum) throw new ConcordError(ErrorCode.FORBIDDEN, `the query's minimum count ${payload.minCount} is below this member's ${ownMinimum}`);
    const { schema, records } = await loadMemberRecords(options.data);
    if (schemaHash(schema) !== payload.schemaHash) {
      throw new ConcordError(ErrorCode.FORBIDDEN, `the query was compiled against another data schema (${payload.schemaHash.slice(0, 12)}…) than this member's ${schema.name} v${schema.version} (${schemaHash(schema).slice(0, 12)}…)`);
    }
    const plan = compileQuery(query, schema);
    if (options.privacy) await chargeOwnLedger(options.privacy, query, plan);
    return memberContribution(plan, records, payload.limbBits);
  }

  async function chargeOwnLedger(privacy: NonNullable<AnalyticsHandlerOptions['privacy']>, query: Query, plan: QueryPlan): Promise<void> {
    if (!query.privacy) throw new ConcordError(ErrorCode.FORBIDDEN, `this member releases statistics only under differential privacy (its budget is ε=${privacy.budget.epsilon}); the query asks for none`);
    const ledger = await privacy.store.load();
    if (!ledger.datasets().includes(privacy.datasetId)) ledger.setBudget(privacy.datasetId, privacy.budget);
    const charge = releaseCharge(noisePlan(plan, query.privacy));
    const after = ledger.preview(privacy.datasetId, charge).epsilon;
    if (after > privacy.budget.epsilon) {
      throw new ConcordError(ErrorCode.FORBIDDEN, `privacy budget of ${privacy.datasetId}: this query would spend ε=${after.toFixed(3)} > budget ${privacy.budget.epsilon} (spent ${ledger.spent(privacy.datasetId).epsilon.toFixed(3)})`);
    }
    ledger.charge(privacy.datasetId, charge);
    await privacy.store.save(ledger);
    log(`privacy: ${privacy.datasetId} has now spent ε=${after.toFixed(3)} of ${privacy.budget.epsilon}`);
  }

  async function answer(task: AnalyticsTaskHeader): Promise<SecaggOutcome> {
    const payload = parseAnalyticsPayload(task.payload);
    const key = `${task.runId}\u0000${task.round}`;
    if (task.stage === ANALYTICS_PLAIN_STAGE) {
      const vector = await contribution(payload);
      log(`query ${task.runId} (${payload.query.type}): sent ${vector.length} ring elements without secure aggregation`);
      return { payload: {}, parameters: maskedVectorParameters(vector) };
    }
    const request = payload.secagg;
    if (!request) throw new ConcordError(ErrorCode.INVALID_MESSAGE, `analytics stage ${task.stage} carries no secure-aggregation request`, { details: { field: 'payload.secagg' } });
    if (task.stage === 'setup') {
      const memberId = options.memberId();
      if (!memberId) throw new ConcordError(ErrorCode.FORBIDDEN, 'this member does not know its enrolled id yet');
      const vector = await contribution(payload);
      const member = new SecAggMember({ memberId, primitives: options.primitives });
      const reply = member.setup(request);
      while (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value!);
      pending.set(key, { member, vector });
      return { payload: { secagg: reply } };
    }
    const state = pending.get(key);
    if (!state) throw new ConcordError(ErrorCode.FORBIDDEN, `no secure-aggregation setup of query ${task.runId}; the ${task.stage} request is refused`);
    if (task.stage === 'shareKeys') return { payload: { secagg: state.member.shareKeys(request) } };
    if (task.stage === 'collectMaskedVectors') {
      const { maskedVector, ...reply } = state.member.collectMaskedVectors(request, { integers: state.vector });
      log(`query ${task.runId} (${payload.query.type}): sent a masked vector of ${state.vector.length} ring elements`);
      return { payload: { secagg: reply }, parameters: maskedVectorParameters(decodeRingVector(maskedVector, state.vector.length + 1, 'maskedVector')) };
    }
    if (task.stage === 'unmask') {
      const reply = state.member.unmask(request);
      pending.delete(key);
      return { payload: { secagg: reply } };
    }
    throw new ConcordError(ErrorCode.INVALID_MESSAGE, `unknown analytics stage ${JSON.stringify(task.stage)}`, { details: { field: 'stage', received: task.stage } });
  }

  return {
    ...handler,
    async analytics(task) {
      try {
        return await answer(task);
      } catch (error) {
        pending.delete(`${task.runId}\u0000${task.round}`);
        if (isConcordError(error) && error.code === ErrorCode.FORBIDDEN) throw error;
        const reason = isConcordError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
        log(`query ${task.runId} ${task.stage}: refused: ${reason}`);
        throw new ConcordError(ErrorCode.FORBIDDEN, `analytics ${task.stage} refused: ${reason}`, { details: isConcordError(error) ? error.details : {}, cause: error });
      }
    },
  };
}
