// A data owner's consent to one analytics query. Under an agreement a query reads members'
// data only with their owners' approval, like a training plan: each owner signs the hash of
// the query's canonical JSON (with defaults spelled out) with its own key, offline
// (`concord analytics approve`), and the signed approvals travel with the query. The
// coordinator tallies them against the agreement's `analytics.queriesNeed` (by default the
// rule for plans) and lets only members whose owners approved contribute; a member node
// started with its owner's key (`--owner-key`) checks its own owner's signature itself and
// never takes the coordinator's word for it.

import { z } from 'zod';
import { datasetOwners, type Agreement } from '../governance/agreement.js';
import type { Decision } from '../governance/approval-bytes.js';
import { canonicalBytes, SigningDomain, signingBytes } from '../governance/canonical.js';
import { tallyDecisions, type ApprovalRule, type DecisionTally } from '../governance/decisions.js';
import { sha256Hex } from '../governance/digest.js';
import { fingerprint, sign, verify, type Identity } from '../governance/identity.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { parseQuery, type Query } from './query.js';

export const QueryApprovalSchema = z
  .object({
    queryHash: z.string().regex(/^[0-9a-f]{64}$/, 'expected the 64 hex digits of a query hash'),
    /** Agreement name of the member whose data owner decided. */
    member: z.string().min(1),
    decision: z.enum(['approve', 'reject']),
    reason: z.string().max(2000).nullable(),
    /** Epoch milliseconds of the decision. */
    at: z.number().int().nonnegative(),
    /** Ed25519 signature by the member's data owner over queryApprovalBytes(…). */
    signature: z.string().min(1),
  })
  .strict();
export type QueryApproval = z.infer<typeof QueryApprovalSchema>;

/** SHA-256 (hex) of the normalized query's canonical JSON: what owners sign. */
export function queryHash(query: Query | unknown): string {
  return sha256Hex(canonicalBytes(parseQuery(query)));
}

/** The bytes an owner signs, under the query-approval domain (never valid as a plan approval). */
export function queryApprovalBytes(approval: Omit<QueryApproval, 'signature'>): Uint8Array {
  const { queryHash: hash, member, decision, reason, at } = approval;
  return signingBytes(SigningDomain.QUERY_APPROVAL, { queryHash: hash, member, decision, reason, at });
}

export function approveQuery(query: Query | unknown, owner: { member: string; identity: Identity }, options: { decision?: Decision; reason?: string; now?: number } = {}): QueryApproval {
  const unsigned = { queryHash: queryHash(query), member: owner.member, decision: options.decision ?? 'approve', reason: options.reason ?? null, at: options.now ?? Date.now() };
  return { ...unsigned, signature: sign(owner.identity.privateKey, queryApprovalBytes(unsigned)) };
}

/** The agreement's rule for queries: its own, or else the one for training plans. */
export function queriesNeed(agreement: Agreement): ApprovalRule | 'none' {
  return agreement.analytics?.queriesNeed ?? agreement.approvals.plansNeed;
}

export interface QueryApprovalStatus extends DecisionTally {
  queryHash: string;
  rule: ApprovalRule | 'none';
}

/**
 * The approvals of a query whose data would come from `members` (agreement names). Under
 * 'none' every member may contribute; otherwise only those whose owners approved.
 */
export function queryApprovalStatus(query: Query, approvals: readonly QueryApproval[], agreement: Agreement, members: readonly string[]): QueryApprovalStatus {
  const hash = queryHash(query);
  const rule = queriesNeed(agreement);
  if (rule === 'none') return { state: 'approved', needed: 0, approvedBy: [...members].sort(), rejectedBy: [], waitingFor: [], ignored: [], queryHash: hash, rule };
  // Owners of data the query would read: members of the agreement that declare a dataset.
  const owners = new Set(datasetOwners(agreement).values());
  const tally = tallyDecisions({
    decisions: approvals,
    agreement,
    rule,
    owners: members.filter((m) => owners.has(m)),
    notConcerned: 'holds none of the data the query would read',
    about: (a) => a.queryHash === hash || `approval is for another query (${a.queryHash.slice(0, 12)}…)`,
    signedBytes: queryApprovalBytes,
  });
  return { ...tally, queryHash: hash, rule };
}

/**
 * What a member node started with its owner's key checks before it computes anything for a
 * query: an approval of exactly this query, for this member, signed with that key.
 */
export function assertQueryApprovedLocally(query: Query, approvals: readonly QueryApproval[] | undefined, ownerKey: string, member: string): void {
  const hash = queryHash(query);
  const mine = (approvals ?? []).filter((a) => a.member === member);
  const refuse = (reason: string, message: string) => new ConcordError(ErrorCode.FORBIDDEN, message, { details: { field: 'approvals', reason, expected: hash } });
  if (mine.length === 0) throw refuse('missing', `query ${hash.slice(0, 12)}… carries no approval from this node's data owner; nothing is computed without it`);
  const signed = mine.filter((a) => a.queryHash === hash && verify(ownerKey, queryApprovalBytes(a), a.signature));
  if (signed.length === 0) {
    const other = mine.some((a) => a.queryHash !== hash);
    throw refuse(other ? 'other-query' : 'bad-signature', other ? `the approval for ${member} is for another query than ${hash.slice(0, 12)}… (was the query changed after approval?)` : `the approval for ${member} is not signed by this node's data owner (key ${fingerprint(ownerKey)})`);
  }
  const latest = signed.reduce((a, b) => (b.at > a.at || (b.at === a.at && b.decision === 'reject') ? b : a));
  if (latest.decision !== 'approve') throw refuse('rejected', `this node's data owner rejected query ${hash.slice(0, 12)}…${latest.reason ? `: ${latest.reason}` : ''}`);
}
