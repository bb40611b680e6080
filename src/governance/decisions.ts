// Tallying data owners' signed decisions on one proposal (a training plan, an analytics
// query) against the agreement's rule: only decisions on this very proposal, by an owner
// the proposal concerns, signed with the key the agreement lists for that member, count; a
// member's latest decision wins (at the same instant a rejection wins, the cautious
// reading); a rejection by any concerned owner rejects the proposal.

import { findMember, type Agreement } from './agreement.js';
import type { Decision } from './approval-bytes.js';
import { verify } from './identity.js';

export interface SignedDecision {
  member: string;
  decision: Decision;
  reason: string | null;
  at: number;
  signature: string;
}

/** 'all-data-owners' or how many owners must approve. */
export type ApprovalRule = 'all-data-owners' | number;

export interface DecisionTally {
  state: 'approved' | 'rejected' | 'pending';
  /** How many approvals the rule needs. */
  needed: number;
  approvedBy: string[];
  rejectedBy: { member: string; reason: string | null }[];
  /** Concerned owners who have not approved yet. */
  waitingFor: string[];
  /** Decisions ignored, and why. */
  ignored: { member: string; reason: string }[];
}

export interface TallyInput<T extends SignedDecision> {
  decisions: readonly T[];
  agreement: Agreement;
  rule: ApprovalRule;
  /** Names of the members whose owners the proposal concerns. */
  owners: readonly string[];
  /** Why a decision by any other member is ignored, e.g. "owns none of the datasets the plan uses". */
  notConcerned: string;
  /** Whether the decision is about this proposal; otherwise the reason it is not. */
  about: (decision: T) => true | string;
  /** The bytes the owner signed. */
  signedBytes: (decision: T) => Uint8Array;
}

export function tallyDecisions<T extends SignedDecision>({ decisions, agreement, rule, owners: concerned, notConcerned, about, signedBytes }: TallyInput<T>): DecisionTally {
  const owners = [...new Set(concerned)].sort();
  const latest = new Map<string, T>();
  const ignored: DecisionTally['ignored'] = [];
  for (const decision of decisions) {
    const member = findMember(agreement, decision.member);
    const relevant = about(decision);
    if (!member) ignored.push({ member: decision.member, reason: 'not a member of the agreement' });
    else if (!owners.includes(decision.member)) ignored.push({ member: decision.member, reason: notConcerned });
    else if (relevant !== true) ignored.push({ member: decision.member, reason: relevant });
    else if (!verify(member.publicKey, signedBytes(decision), decision.signature)) ignored.push({ member: decision.member, reason: 'signature does not verify with the key in the agreement' });
    else {
      const previous = latest.get(decision.member);
      if (!previous || decision.at > previous.at || (decision.at === previous.at && decision.decision === 'reject')) latest.set(decision.member, decision);
    }
  }
  const decided = [...latest.values()];
  const approvedBy = decided.filter((d) => d.decision === 'approve').map((d) => d.member).sort();
  const rejected = decided.filter((d) => d.decision === 'reject');
  const rejectedBy = rejected.map((d) => ({ member: d.member, reason: d.reason })).sort((a, b) => a.member.localeCompare(b.member));
  const waitingFor = owners.filter((name) => !approvedBy.includes(name));
  const needed = rule === 'all-data-owners' ? owners.length : rule;
  let state: DecisionTally['state'];
  if (rejected.length > 0) state = 'rejected';
  // Only concerned owners decide: fewer of them than the rule asks for can never approve.
  else if (rule !== 'all-data-owners' && owners.length < rule) state = 'rejected';
  else if (owners.length > 0 && (rule === 'all-data-owners' ? waitingFor.length === 0 : approvedBy.length >= rule)) state = 'approved';
  else state = 'pending';
  return { state, needed, approvedBy, rejectedBy, waitingFor, ignored };
}
