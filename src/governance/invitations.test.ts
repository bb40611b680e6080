import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ErrorCode } from '../protocol/errors.js';
import { createInvitation, invitationCodeHash, redeemInvitation } from './invitations.js';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;

describe('invitations', () => {
  it('stores only the hash of a random code and its terms', () => {
    const { code, record } = createInvitation({ role: 'member', memberName: 'hospital-a', expiresInMs: HOUR, now: T0 });
    assert.match(code, /^inv_[A-Za-z0-9_-]{32}$/);
    assert.equal(record.codeHash, createHash('sha256').update(code).digest('hex'));
    assert.equal(invitationCodeHash(code), record.codeHash);
    assert.ok(!JSON.stringify(record).includes(code.slice(4)), 'the code itself is not in the record');
    assert.deepEqual({ ...record, codeHash: '' }, { codeHash: '', role: 'member', memberName: 'hospital-a', createdAt: T0, expiresAt: T0 + HOUR, usedAt: null, usedBy: null });
    assert.notEqual(createInvitation({ role: 'member', expiresInMs: HOUR, now: T0 }).code, code);
  });

  it('redeems once, returning the record marked used', () => {
    const { code, record } = createInvitation({ role: 'researcher', expiresInMs: HOUR, now: T0 });
    const redeemed = redeemInvitation(record, code, { memberName: 'dr-lee', now: T0 + 10 });
    assert.equal(redeemed.role, 'researcher');
    assert.equal(redeemed.memberName, 'dr-lee');
    assert.equal(redeemed.record.usedAt, T0 + 10);
    assert.equal(redeemed.record.usedBy, 'dr-lee');
    assert.throws(() => redeemInvitation(redeemed.record, code, { memberName: 'dr-lee', now: T0 + 20 }), (e: { code: string; details: { reason: string } }) => e.code === ErrorCode.CONFLICT && e.details.reason === 'used');
  });

  it('refuses an unknown code, a wrong code for a record, an expired one and another name', () => {
    const { code, record } = createInvitation({ role: 'member', memberName: 'hospital-a', expiresInMs: HOUR, now: T0 });
    const reason = (code: string, r: string) => (e: { code: string; details: { reason: string } }) => e.code === code && e.details.reason === r;
    assert.throws(() => redeemInvitation(undefined, code, { memberName: 'hospital-a', now: T0 }), reason(ErrorCode.UNAUTHENTICATED, 'unknown'));
    assert.throws(() => redeemInvitation(record, `${code}x`, { memberName: 'hospital-a', now: T0 }), reason(ErrorCode.UNAUTHENTICATED, 'unknown'));
    assert.throws(() => redeemInvitation(record, code, { memberName: 'hospital-a', now: T0 + HOUR }), reason(ErrorCode.UNAUTHENTICATED, 'expired'));
    assert.throws(
      () => redeemInvitation(record, code, { memberName: 'hospital-b', now: T0 }),
      (e: { code: string; message: string }) => e.code === ErrorCode.FORBIDDEN && e.message === 'this invitation is for "hospital-a", not "hospital-b"',
    );
    assert.equal(redeemInvitation(record, code, { memberName: 'hospital-a', now: T0 + HOUR - 1 }).record.usedBy, 'hospital-a');
  });

  it('validates its options', () => {
    assert.throws(() => createInvitation({ role: 'admin' as 'member', now: T0 }), (e: { details: { field: string } }) => e.details.field === 'role');
    assert.throws(() => createInvitation({ role: 'member', expiresInMs: 0, now: T0 }), (e: { details: { field: string } }) => e.details.field === 'expiresInMs');
    assert.equal(createInvitation({ role: 'auditor', now: T0 }).record.expiresAt, T0 + 7 * 24 * HOUR);
  });
});
