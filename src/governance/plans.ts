// Training plans and their approval by data owners. A researcher proposes a plan — model,
// strategy, hyper-parameters, purpose, privacy settings and the datasets it would use —
// and each data owner signs an approval (or rejection) of the plan's canonical hash with
// its own key. The coordinator tallies approvals against the agreement's rule; a member
// node trains only after checking, with its own owner's key, that its owner approved this
// exact plan — it never takes the coordinator's word for it.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { approvalSigningBytes, type Decision } from './approval-bytes.js';
import { canonicalBytes } from './canonical.js';
import { sha256Hex } from './digest.js';
import { fingerprint, sign, verify, type Identity } from './identity.js';
import { checkRun, datasetOwners, type Agreement, type RunRequest, type Violation } from './agreement.js';
import { tallyDecisions } from './decisions.js';
import { parsePlan, type Plan, type PlanApproval, type PlanInput } from './plan-schema.js';

export { PlanSchema, parsePlan, type Plan, type PlanApproval, type PlanInput } from './plan-schema.js';
export { approvalSigningBytes, type Decision } from './approval-bytes.js';

/** SHA-256 (hex) of the normalized plan's canonical JSON; the thing owners sign. */
export function planHash(plan: Plan | PlanInput): string {
  // Normalizing first makes a plan with defaults spelled out hash like one without.
  return sha256Hex(canonicalBytes(parsePlan(plan)));
}

/** The data owner's signed decision on a plan. */
export function approvePlan(
  plan: Plan | PlanInput,
  owner: { member: string; identity: Identity },
  options: { decision?: Decision; reason?: string; now?: number } = {},
): PlanApproval {
  const unsigned = {
    planHash: planHash(plan),
    member: owner.member,
    decision: options.decision ?? 'approve',
    reason: options.reason ?? null,
    at: options.now ?? Date.now(),
  };
  return { ...unsigned, signature: sign(owner.identity.privateKey, approvalSigningBytes(unsigned)) };
}

/** True when `approval` is for this very plan and signed with `ownerPublicKey`. */
export function verifyApproval(plan: Plan | PlanInput, approval: PlanApproval, ownerPublicKey: string): boolean {
  if (approval.planHash !== planHash(plan)) return false;
  return verify(ownerPublicKey, approvalSigningBytes(approval), approval.signature);
}

/** The run a plan amounts to, for checking against the agreement. */
export function planRunRequest(plan: Plan, agreement: Agreement): RunRequest {
  const owners = datasetOwners(agreement);
  const participants = [...new Set(plan.datasets.flatMap((id) => owners.get(id) ?? []))];
  const dp = plan.privacy.differentialPrivacy;
  return {
    purpose: plan.purpose,
    config: plan.config,
    participants,
    secureAggregation: plan.privacy.secureAggregation,
    differentialPrivacy: dp === null ? null : { epsilon: dp.epsilon, delta: dp.delta },
    datasets: plan.datasets,
  };
}

/** Every agreement clause the plan would break; check before asking owners to approve. */
export function checkPlan(plan: Plan, agreement: Agreement): Violation[] {
  return checkRun(agreement, planRunRequest(plan, agreement));
}

export interface PlanStatus {
  state: 'approved' | 'rejected' | 'pending';
  planHash: string;
  /** How many approvals the agreement's rule needs. */
  needed: number;
  approvedBy: string[];
  rejectedBy: { member: string; reason: string | null }[];
  /** Data owners of the plan's datasets who have not approved yet. */
  waitingFor: string[];
  /** Approvals ignored: wrong plan, unknown member or a signature that does not verify. */
  ignored: { member: string; reason: string }[];
}

/**
 * Tallies approvals against `agreement.approvals.plansNeed`. Only approvals for this plan,
 * signed with the key the agreement lists for the member, count; a member's latest
 * decision wins. A rejection by any owner of a dataset the plan uses rejects the plan
 * (that owner's node would refuse to train anyway). This judges approvals only; run
 * checkPlan for the agreement's other clauses.
 */
export function planStatus(plan: Plan | PlanInput, approvals: readonly PlanApproval[], agreement: Agreement): PlanStatus {
  const normalized = parsePlan(plan);
  const hash = planHash(normalized);
  const ownersByDataset = datasetOwners(agreement);
  const owners = normalized.datasets.flatMap((id) => ownersByDataset.get(id) ?? []);
  const tally = tallyDecisions({
    decisions: approvals,
    agreement,
    rule: agreement.approvals.plansNeed,
    owners,
    notConcerned: 'owns none of the datasets the plan uses',
    about: (a) => a.planHash === hash || `approval is for another plan (${a.planHash.slice(0, 12)}…)`,
    signedBytes: approvalSigningBytes,
  });
  return { ...tally, planHash: hash };
}

/**
 * What a member node checks before it trains on its data: that its own data owner
 * (`ownOwnerPublicKey`, configured on the node, not fetched from the coordinator) approved
 * exactly this plan. Throws FORBIDDEN saying what is wrong.
 */
export function assertApprovedLocally(plan: Plan | PlanInput, approval: PlanApproval | undefined, ownOwnerPublicKey: string, options: { member?: string } = {}): void {
  const hash = planHash(plan);
  const refuse = (reason: string, message: string) => new ConcordError(ErrorCode.FORBIDDEN, message, { details: { field: 'approval', reason, expected: hash } });
  if (!approval) throw refuse('missing', `plan ${hash.slice(0, 12)}… has no approval from this node's data owner; nothing is trained without it`);
  if (approval.planHash !== hash) {
    throw refuse('other-plan', `the approval is for plan ${approval.planHash.slice(0, 12)}…, not for plan ${hash.slice(0, 12)}… (was the plan changed after approval?)`);
  }
  if (options.member !== undefined && approval.member !== options.member) {
    throw refuse('other-member', `the approval was given for member ${approval.member}, not for this node (${options.member})`);
  }
  if (!verify(ownOwnerPublicKey, approvalSigningBytes(approval), approval.signature)) {
    throw refuse('bad-signature', `the approval is not signed by this node's data owner (key ${fingerprint(ownOwnerPublicKey)})`);
  }
  if (approval.decision !== 'approve') {
    throw refuse('rejected', `this node's data owner rejected plan ${hash.slice(0, 12)}…${approval.reason ? `: ${approval.reason}` : ''}`);
  }
}
