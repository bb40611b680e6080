// Who may do what. People and programs act through API tokens; each token carries a role
// and a set of scopes no wider than its role's. Member nodes authenticate by signed
// requests instead (signed-request.ts) and act with the `member` role's scopes.
// Only SHA-256 hashes of tokens are stored.

import { randomBytes } from 'node:crypto';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { randomSecret, sameHex, sha256Hex } from './digest.js';

export const ROLES = ['operator', 'member', 'researcher', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export const SCOPES = [
  'runs:read',
  'runs:write',
  'plans:read',
  'plans:write',
  'plans:approve',
  'analytics:query',
  'budgets:read',
  'audit:read',
  'members:read',
  'members:admin',
  'agreement:read',
  'agreement:write',
] as const;
export type Scope = (typeof SCOPES)[number];

/** The scopes each role gets by default, and the most a token of that role may carry. */
export const ROLE_SCOPES: Readonly<Record<Role, readonly Scope[]>> = {
  // The operator runs the coordinator and the agreement, but approving a plan for a
  // member's data is that member's own decision, so the operator cannot approve plans.
  operator: SCOPES.filter((s) => s !== 'plans:approve'),
  member: ['runs:read', 'plans:read', 'plans:approve', 'budgets:read', 'members:read', 'agreement:read'],
  researcher: ['runs:read', 'runs:write', 'plans:read', 'plans:write', 'analytics:query', 'budgets:read', 'agreement:read'],
  auditor: ['runs:read', 'plans:read', 'budgets:read', 'audit:read', 'members:read', 'agreement:read'],
};

export interface ApiTokenRecord {
  /** Public identifier, safe to show and log (the token's secret part is not). */
  tokenId: string;
  tokenHash: string;
  role: Role;
  scopes: Scope[];
  label: string | null;
  createdAt: number;
  /** Epoch milliseconds; null for a token that does not expire. */
  expiresAt: number | null;
  revokedAt: number | null;
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function assertRole(value: unknown, field = 'role'): asserts value is Role {
  if (!isRole(value)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field}: expected one of ${ROLES.join(', ')}, received ${JSON.stringify(value)}`, {
      details: { field, expected: ROLES, received: value },
    });
  }
}

/** Hash under which a token is stored and looked up (same scheme as coordinator tokens). */
export function apiTokenHash(token: string): string {
  return sha256Hex(token);
}

/**
 * A new token for `role`. `scopes` defaults to the role's scopes and may not exceed them.
 * The token is returned once; only the record (with its hash) is kept.
 */
export function createApiToken(options: { role: Role; scopes?: readonly Scope[]; expiresAt: number | null; label?: string; now?: number }): { token: string; record: ApiTokenRecord } {
  assertRole(options.role);
  const allowed = ROLE_SCOPES[options.role];
  const scopes = [...new Set(options.scopes ?? allowed)];
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `scopes: unknown scope${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; known scopes are ${SCOPES.join(', ')}`, {
      details: { field: 'scopes', expected: SCOPES, received: unknown },
    });
  }
  const excess = scopes.filter((s) => !allowed.includes(s));
  if (excess.length > 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `scopes: a ${options.role} token may not carry ${excess.join(', ')}; a ${options.role} may have ${allowed.join(', ')}`, {
      details: { field: 'scopes', expected: allowed, received: excess },
    });
  }
  const now = options.now ?? Date.now();
  if (options.expiresAt !== null && !(Number.isFinite(options.expiresAt) && options.expiresAt > now)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'expiresAt must be a time in the future (epoch milliseconds) or null', {
      details: { field: 'expiresAt', expected: `> ${now}`, received: options.expiresAt },
    });
  }
  const tokenId = randomBytes(9).toString('base64url');
  // The id is part of the token so a log line can name a token without revealing it.
  const token = randomSecret(`cct_${tokenId}`);
  return {
    token,
    record: { tokenId, tokenHash: apiTokenHash(token), role: options.role, scopes: scopes.sort(), label: options.label ?? null, createdAt: now, expiresAt: options.expiresAt, revokedAt: null },
  };
}

/** The public id inside a token, to look its record up without hashing every candidate. */
export function apiTokenId(token: string): string | undefined {
  return /^cct_([A-Za-z0-9_-]{12})_[A-Za-z0-9_-]{43}$/.exec(token)?.[1];
}

/** True when `token` is the secret whose hash `record` keeps. */
export function tokenMatches(record: ApiTokenRecord, token: string): boolean {
  return sameHex(record.tokenHash, apiTokenHash(token));
}

/**
 * Throws unless the token may use `requiredScope` at `now` (default Date.now()):
 * UNAUTHENTICATED for a revoked or expired token, FORBIDDEN naming the missing scope.
 */
export function authorize(record: ApiTokenRecord, requiredScope: Scope, now = Date.now()): void {
  if (record.revokedAt !== null) {
    throw new ConcordError(ErrorCode.UNAUTHENTICATED, `API token ${record.tokenId} was revoked`, { details: { field: 'authorization', reason: 'revoked' } });
  }
  if (record.expiresAt !== null && now >= record.expiresAt) {
    throw new ConcordError(ErrorCode.UNAUTHENTICATED, `API token ${record.tokenId} expired at ${new Date(record.expiresAt).toISOString()}`, {
      details: { field: 'authorization', reason: 'expired', expiresAt: record.expiresAt },
    });
  }
  // A role's table may have shrunk since the token was made; the table wins.
  if (!record.scopes.includes(requiredScope) || !ROLE_SCOPES[record.role].includes(requiredScope)) {
    throw new ConcordError(ErrorCode.FORBIDDEN, `this ${record.role} token lacks scope ${requiredScope}`, {
      details: { field: 'scopes', expected: requiredScope, received: record.scopes, reason: 'missing-scope' },
    });
  }
}

/** Same check for callers that have a role but no token, e.g. members authenticated by signature. */
export function authorizeRole(role: Role, requiredScope: Scope): void {
  if (!ROLE_SCOPES[role].includes(requiredScope)) {
    throw new ConcordError(ErrorCode.FORBIDDEN, `the ${role} role lacks scope ${requiredScope}`, {
      details: { field: 'role', expected: requiredScope, received: role, reason: 'missing-scope' },
    });
  }
}
