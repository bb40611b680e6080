import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ErrorCode } from '../protocol/errors.js';
import { ROLE_SCOPES, apiTokenId, authorize, authorizeRole, createApiToken, tokenMatches } from './roles.js';

const T0 = 1_700_000_000_000;

describe('roles and API tokens', () => {
  it('gives each role its documented scopes', () => {
    assert.deepEqual([...ROLE_SCOPES.auditor].sort(), ['agreement:read', 'audit:read', 'budgets:read', 'members:read', 'plans:read', 'runs:read']);
    assert.ok(ROLE_SCOPES.researcher.includes('runs:write') && !ROLE_SCOPES.researcher.includes('audit:read'));
    assert.ok(ROLE_SCOPES.member.includes('plans:approve'));
    assert.ok(ROLE_SCOPES.operator.includes('members:admin') && !ROLE_SCOPES.operator.includes('plans:approve'));
  });

  it('creates a token whose record keeps only its hash', () => {
    const { token, record } = createApiToken({ role: 'researcher', scopes: ['runs:read', 'runs:write'], expiresAt: T0 + 1000, label: 'notebook', now: T0 });
    assert.equal(record.tokenHash, createHash('sha256').update(token).digest('hex'));
    assert.ok(!JSON.stringify(record).includes(token));
    assert.equal(apiTokenId(token), record.tokenId);
    assert.equal(tokenMatches(record, token), true);
    assert.equal(tokenMatches(record, `${token}x`), false);
    assert.deepEqual(record.scopes, ['runs:read', 'runs:write']);
    assert.equal(createApiToken({ role: 'auditor', expiresAt: null, now: T0 }).record.scopes.length, ROLE_SCOPES.auditor.length);
  });

  it('authorizes a held scope and names a missing one', () => {
    const { record } = createApiToken({ role: 'researcher', scopes: ['runs:read'], expiresAt: null, now: T0 });
    authorize(record, 'runs:read', T0);
    assert.throws(
      () => authorize(record, 'runs:write', T0),
      (e: { code: string; message: string; details: { expected: string } }) => e.code === ErrorCode.FORBIDDEN && e.message === 'this researcher token lacks scope runs:write' && e.details.expected === 'runs:write',
    );
    assert.throws(() => authorizeRole('auditor', 'runs:write'), (e: { code: string; message: string }) => e.code === ErrorCode.FORBIDDEN && e.message.includes('runs:write'));
    authorizeRole('member', 'plans:approve');
  });

  it('refuses expired and revoked tokens', () => {
    const { record } = createApiToken({ role: 'auditor', expiresAt: T0 + 1000, now: T0 });
    authorize(record, 'audit:read', T0 + 999);
    assert.throws(() => authorize(record, 'audit:read', T0 + 1000), (e: { code: string; details: { reason: string } }) => e.code === ErrorCode.UNAUTHENTICATED && e.details.reason === 'expired');
    assert.throws(() => authorize({ ...record, revokedAt: T0 }, 'audit:read', T0), (e: { details: { reason: string } }) => e.details.reason === 'revoked');
  });

  it('refuses scopes beyond the role, unknown scopes and past expiry', () => {
    assert.throws(() => createApiToken({ role: 'auditor', scopes: ['audit:read', 'members:admin'], expiresAt: null, now: T0 }), (e: { code: string; message: string }) => e.code === ErrorCode.INVALID_ARGUMENT && e.message.includes('may not carry members:admin'));
    assert.throws(() => createApiToken({ role: 'auditor', scopes: ['audit:write' as 'audit:read'], expiresAt: null, now: T0 }), (e: { message: string }) => e.message.includes('unknown scope audit:write'));
    assert.throws(() => createApiToken({ role: 'auditor', expiresAt: T0, now: T0 }), (e: { details: { field: string } }) => e.details.field === 'expiresAt');
  });
});
