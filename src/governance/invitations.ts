// Invitations: how a new member (or researcher, auditor) gets in. The operator creates a
// single-use, expiring code and hands it over out of band; the code is shown once and only
// its SHA-256 hash is stored, so the database cannot be used to join.
//
// Single use across concurrent redemptions is the store's job: it must mark the record used
// with a compare-and-set (`… WHERE code_hash = ? AND used_at IS NULL`).

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { randomSecret, sameHex, sha256Hex } from './digest.js';
import { assertRole, type Role } from './roles.js';

export interface InvitationRecord {
  codeHash: string;
  role: Role;
  /** When set, only this name may redeem the invitation. */
  memberName: string | null;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  usedBy: string | null;
}

export interface CreateInvitationOptions {
  role: Role;
  memberName?: string;
  /** How long the code stays valid. Default 7 days. */
  expiresInMs?: number;
  /** Epoch milliseconds; default Date.now(). */
  now?: number;
}

export const DEFAULT_INVITATION_LIFETIME_MS = 7 * 24 * 3600 * 1000;

/** Hash under which an invitation is stored and looked up. */
export function invitationCodeHash(code: string): string {
  return sha256Hex(code.trim());
}

export function createInvitation(options: CreateInvitationOptions): { code: string; record: InvitationRecord } {
  assertRole(options.role);
  const now = options.now ?? Date.now();
  const lifetime = options.expiresInMs ?? DEFAULT_INVITATION_LIFETIME_MS;
  if (!Number.isFinite(lifetime) || lifetime <= 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `expiresInMs must be a positive number of milliseconds, received ${lifetime}`, {
      details: { field: 'expiresInMs', expected: '> 0', received: lifetime },
    });
  }
  if (options.memberName !== undefined && options.memberName.trim() === '') {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'memberName must not be empty when given', { details: { field: 'memberName', expected: 'a non-empty name' } });
  }
  const code = randomSecret('inv', 24);
  return {
    code,
    record: { codeHash: invitationCodeHash(code), role: options.role, memberName: options.memberName ?? null, createdAt: now, expiresAt: now + lifetime, usedAt: null, usedBy: null },
  };
}

/**
 * Checks a code against its record (undefined when no record has the code's hash) and
 * returns the record as it should be stored after redemption. Errors: UNAUTHENTICATED for
 * an unknown or expired code, CONFLICT for one already used, FORBIDDEN when the invitation
 * names a different member.
 */
export function redeemInvitation(
  record: InvitationRecord | undefined,
  code: string,
  options: { memberName: string; now?: number },
): { record: InvitationRecord; role: Role; memberName: string } {
  const now = options.now ?? Date.now();
  if (!record || !sameHex(record.codeHash, invitationCodeHash(code))) {
    throw new ConcordError(ErrorCode.UNAUTHENTICATED, 'unknown invitation code; ask the operator for a new one', { details: { field: 'invitation', reason: 'unknown' } });
  }
  if (record.usedAt !== null) {
    throw new ConcordError(ErrorCode.CONFLICT, `invitation was already used${record.usedBy ? ` by ${record.usedBy}` : ''} at ${new Date(record.usedAt).toISOString()}; invitations are single-use`, {
      details: { field: 'invitation', reason: 'used', received: record.usedAt },
    });
  }
  if (now >= record.expiresAt) {
    throw new ConcordError(ErrorCode.UNAUTHENTICATED, `invitation expired at ${new Date(record.expiresAt).toISOString()}; ask the operator for a new one`, {
      details: { field: 'invitation', reason: 'expired', expected: `before ${record.expiresAt}`, received: now },
    });
  }
  if (record.memberName !== null && record.memberName !== options.memberName) {
    throw new ConcordError(ErrorCode.FORBIDDEN, `this invitation is for ${JSON.stringify(record.memberName)}, not ${JSON.stringify(options.memberName)}`, {
      details: { field: 'memberName', reason: 'name-mismatch', expected: record.memberName, received: options.memberName },
    });
  }
  return { record: { ...record, usedAt: now, usedBy: options.memberName }, role: record.role, memberName: options.memberName };
}
