// What a data owner's plan approval signature covers. Kept apart from plans.ts (which needs
// node:crypto and zod) so the browser dashboard signs with this very function and the
// coordinator verifies with it: one definition of the signed bytes, nowhere to drift.

import { SigningDomain, signingBytes } from './canonical.js';

export type Decision = 'approve' | 'reject';

/** A decision on a plan before its signature is added. */
export interface UnsignedApproval {
  planHash: string;
  /** Agreement name of the member whose data owner decided. */
  member: string;
  decision: Decision;
  reason: string | null;
  /** Epoch milliseconds of the decision. */
  at: number;
}

/** The bytes an owner signs: only the five decision fields, under the plan-approval domain. */
export function approvalSigningBytes(approval: UnsignedApproval): Uint8Array {
  const { planHash: hash, member, decision, reason, at } = approval;
  return signingBytes(SigningDomain.PLAN_APPROVAL, { planHash: hash, member, decision, reason, at });
}
