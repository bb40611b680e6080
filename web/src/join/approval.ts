// The browser member's copy of the Node member's plan-approval guard (src/node/approval-guard.ts
// → assertApprovedLocally in src/governance/plans.ts): with the data owner's public key set on
// this page, a task trains here only if it carries a plan and an approval of exactly that plan,
// for this member, signed with that key. Same checks in the same order and the same messages,
// but with WebCrypto (Ed25519, SHA-256) instead of node:crypto, over the same canonical bytes.

import { approvalSigningBytes } from '../../../src/governance/approval-bytes.js';
import { canonicalBytes } from '../../../src/governance/canonical.js';
import { parsePlan } from '../../../src/governance/plan-schema.js';
import { ConcordError, ErrorCode } from '../../../src/protocol/errors.js';
import { PlanApprovalSchema, type TaskHeader } from '../../../src/protocol/messages.js';
import { fromBase64url, sha256Hex } from '../web-crypto.js';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The raw 32-byte key, or INVALID_ARGUMENT as src/governance/identity.ts's assertPublicKey says it. */
export function ownerKeyBytes(ownerKey: string, field = 'ownerKey'): Uint8Array {
  if (/^[A-Za-z0-9_-]{43}$/.test(ownerKey)) {
    const bytes = fromBase64url(ownerKey);
    // 43 characters carry 258 bits: the last two must be zero for the text to be the key's only spelling.
    if (bytes.length === 32 && /[AEIMQUYcgkosw048]$/.test(ownerKey)) return bytes;
  }
  throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field}: expected a raw 32-byte Ed25519 key in base64url (43 characters)`, {
    details: { field, expected: 'base64url of 32 bytes', received: `${ownerKey.length} characters` },
  });
}

/** As identity.ts's verify: a malformed signature is simply not valid. */
async function verifyEd25519(key: Uint8Array, data: Uint8Array, signature: string): Promise<boolean> {
  if (!BASE64URL.test(signature)) return false;
  let sig: Uint8Array;
  try {
    sig = fromBase64url(signature);
  } catch {
    return false;
  }
  if (sig.length !== 64) return false;
  const publicKey = await crypto.subtle.importKey('raw', key as BufferSource, { name: 'Ed25519' }, false, ['verify']);
  return crypto.subtle.verify({ name: 'Ed25519' }, publicKey, sig as BufferSource, data as BufferSource);
}

/**
 * Throws FORBIDDEN unless `task` carries a plan approved, with `ownerKey` (base64url of the
 * data owner's raw Ed25519 public key, configured on this page, never taken from the
 * coordinator), for `member`. INVALID_ARGUMENT when `ownerKey` itself is not a key.
 */
export async function verifyTaskApproval(task: TaskHeader, ownerKey: string, member: string): Promise<void> {
  const key = ownerKeyBytes(ownerKey);
  if (!task.plan) {
    throw new ConcordError(ErrorCode.FORBIDDEN, "this node trains only on training plans its data owner approved; the task carries no plan", {
      details: { field: 'plan', reason: 'missing-plan' },
    });
  }
  try {
    await assertApprovedHere(task, key, member);
  } catch (error) {
    if (error instanceof ConcordError && error.code === ErrorCode.FORBIDDEN) throw error;
    // A plan that does not even parse cannot have been approved.
    throw new ConcordError(ErrorCode.FORBIDDEN, `the task's plan is not a valid training plan: ${(error as Error).message}`, { details: { field: 'plan', reason: 'invalid-plan' }, cause: error });
  }
}

async function assertApprovedHere(task: TaskHeader, key: Uint8Array, member: string): Promise<void> {
  const hash = await sha256Hex(canonicalBytes(parsePlan(task.plan)));
  const refuse = (reason: string, message: string) => new ConcordError(ErrorCode.FORBIDDEN, message, { details: { field: 'approval', reason, expected: hash } });
  if (!task.approval) throw refuse('missing', `plan ${hash.slice(0, 12)}… has no approval from this node's data owner; nothing is trained without it`);
  // The page decodes frames without the Node client's schema check, so the approval's shape is checked here.
  const parsed = PlanApprovalSchema.safeParse(task.approval);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw refuse('invalid-approval', `the task's approval is malformed: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const approval = parsed.data;
  if (approval.planHash !== hash) {
    throw refuse('other-plan', `the approval is for plan ${approval.planHash.slice(0, 12)}…, not for plan ${hash.slice(0, 12)}… (was the plan changed after approval?)`);
  }
  if (approval.member !== member) {
    throw refuse('other-member', `the approval was given for member ${approval.member}, not for this node (${member})`);
  }
  if (!(await verifyEd25519(key, approvalSigningBytes(approval), approval.signature))) {
    throw refuse('bad-signature', `the approval is not signed by this node's data owner (key ${(await sha256Hex(key)).slice(0, 16)})`);
  }
  if (approval.decision !== 'approve') {
    throw refuse('rejected', `this node's data owner rejected plan ${hash.slice(0, 12)}…${approval.reason ? `: ${approval.reason}` : ''}`);
  }
}
