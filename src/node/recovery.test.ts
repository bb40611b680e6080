import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConcordError, ErrorCode, type ErrorDetails } from '../protocol/errors.js';
import { unreachableError } from './coordinator-fetch.js';
import { recoveryFor, type Exchange } from './recovery.js';

/** An error as the client reports a coordinator's answer: its code, with the HTTP status in details. */
const answered = (code: ErrorCode, status: number, details: ErrorDetails = {}) => new ConcordError(code, 'refused', { details: { status, ...details } });
const tlsCause = Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
const refusedCause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8470'), { code: 'ECONNREFUSED' });
const everywhere: Exchange[] = ['enroll', 'poll', 'result'];

test('only what can heal is retried: no answer at all, HTTP 5xx, 429', () => {
  for (const during of everywhere) {
    assert.equal(recoveryFor(unreachableError('http://c', new TypeError('fetch failed', { cause: refusedCause }), 'coordinator'), during), 'retry', during);
    assert.equal(recoveryFor(answered(ErrorCode.INTERNAL, 500), during), 'retry', during);
    assert.equal(recoveryFor(answered(ErrorCode.UNAVAILABLE, 503), during), 'retry', during);
    assert.equal(recoveryFor(answered(ErrorCode.INTERNAL, 502), during), 'retry', during);
    assert.equal(recoveryFor(answered(ErrorCode.INVALID_MESSAGE, 429), during), 'retry', during);
  }
});

test('a certificate the node does not trust stops it, wherever it shows', () => {
  const error = unreachableError('https://c', new TypeError('fetch failed', { cause: tlsCause }), 'coordinator');
  assert.equal(error.details.reason, 'tls');
  for (const during of everywhere) assert.equal(recoveryFor(error, during), 'stop', during);
});

test('refusals that need a person stop the node: invitation, revocation, name taken, malformed request, version', () => {
  const stops: [string, ConcordError, Exchange[]][] = [
    ['no invitation', answered(ErrorCode.UNAUTHENTICATED, 401, { reason: 'invitation-required' }), ['enroll']],
    ['invitation used', answered(ErrorCode.CONFLICT, 409, { reason: 'used' }), ['enroll']],
    ['invitation for another name', answered(ErrorCode.FORBIDDEN, 403, { reason: 'name-mismatch' }), ['enroll']],
    ['name taken by another key', answered(ErrorCode.CONFLICT, 409, { reason: 'name-taken' }), ['enroll']],
    ['bad name', answered(ErrorCode.INVALID_MESSAGE, 400, { field: 'name' }), ['enroll']],
    ['revoked', answered(ErrorCode.FORBIDDEN, 403, { reason: 'revoked' }), everywhere],
    ['clock off', answered(ErrorCode.UNAUTHENTICATED, 401, { reason: 'expired' }), everywhere],
    ['bad signature', answered(ErrorCode.UNAUTHENTICATED, 401, { reason: 'bad-signature' }), everywhere],
    ['another protocol version', answered(ErrorCode.PROTOCOL_VERSION, 400), everywhere],
    ['a task this node cannot read', new ConcordError(ErrorCode.INVALID_MESSAGE, 'task header: kind: invalid'), ['poll']],
    ['a state dir it cannot write', new ConcordError(ErrorCode.INTERNAL, 'EACCES: permission denied'), ['enroll']],
  ];
  for (const [what, error, exchanges] of stops) for (const during of exchanges) assert.equal(recoveryFor(error, during), 'stop', `${what} (${during})`);
});

test('a coordinator that no longer knows the member id gets a fresh enrollment, but not in reply to an enrollment', () => {
  const unknown = answered(ErrorCode.UNAUTHENTICATED, 401, { reason: 'unknown-member' });
  assert.equal(recoveryFor(unknown, 'poll'), 'enroll-again');
  assert.equal(recoveryFor(unknown, 'result'), 'enroll-again');
  assert.equal(recoveryFor(unknown, 'enroll'), 'stop');
});

test('a refused result ends that task only', () => {
  for (const error of [
    answered(ErrorCode.STALE_ROUND, 409),
    answered(ErrorCode.SHAPE_MISMATCH, 422),
    answered(ErrorCode.NON_FINITE, 422),
    answered(ErrorCode.PAYLOAD_TOO_LARGE, 413),
    answered(ErrorCode.INVALID_MESSAGE, 400),
    new ConcordError(ErrorCode.INTERNAL, 'could not encode the result'),
  ]) {
    assert.equal(recoveryFor(error, 'result'), 'skip-result', error.code);
  }
});
