import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ErrorCode } from '../protocol/errors.js';
import { generateIdentity } from './identity.js';
import { NonceCache, signRequest, verifyRequest, type EnrolledKey, type ReceivedRequest } from './signed-request.js';

const alice = generateIdentity();
const mallory = generateIdentity();
const T0 = 1_700_000_000_000;
const keys = new Map<string, EnrolledKey>([
  ['m-alice', { publicKey: alice.publicKey }],
  ['m-gone', { publicKey: alice.publicKey, revoked: true }],
]);
const lookup = (id: string) => keys.get(id);

function signed(overrides: Partial<ReceivedRequest> = {}, signer = alice, memberId = 'm-alice', now = T0): ReceivedRequest {
  const body = '{"round":3}';
  const headers = signRequest(signer, { method: 'post', path: '/v1/results?task=7', body, memberId, now });
  return { method: 'POST', path: '/v1/results?task=7', body: Buffer.from(body), headers, ...overrides };
}

function refusal(code: string, reason: string, text?: string) {
  return (e: { code: string; details: { reason: string }; message: string }) => {
    assert.equal(e.code, code);
    assert.equal(e.details.reason, reason);
    if (text) assert.ok(e.message.includes(text), e.message);
    return true;
  };
}

describe('signed requests', () => {
  it('accepts a correctly signed request and returns its member', async () => {
    const request = signed();
    assert.deepEqual(Object.keys(request.headers).sort(), ['concord-member', 'concord-nonce', 'concord-signature', 'concord-timestamp']);
    assert.equal(await verifyRequest(request, lookup, { now: T0 + 1000, nonceCache: new NonceCache() }), 'm-alice');
  });

  it('accepts upper-case header names and an empty body', async () => {
    const headers = signRequest(alice, { method: 'GET', path: '/v1/tasks', memberId: 'm-alice', now: T0 });
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    assert.equal(await verifyRequest({ method: 'GET', path: '/v1/tasks', headers: upper }, lookup, { now: T0, nonceCache: new NonceCache() }), 'm-alice');
  });

  it('a body signed as parts verifies as the joined bytes, and a digest the receiver computed stands in for the body', async () => {
    const parts = [Buffer.from('frame header '), Buffer.from('and the model')];
    const headers = signRequest(alice, { method: 'POST', path: '/v1/tasks/t/result', body: parts, memberId: 'm-alice', now: T0 });
    const joined = Buffer.concat(parts);
    assert.equal(await verifyRequest({ method: 'POST', path: '/v1/tasks/t/result', body: joined, headers }, lookup, { now: T0, nonceCache: new NonceCache() }), 'm-alice');
    const digest = createHash('sha256').update(joined).digest('hex');
    assert.equal(await verifyRequest({ method: 'POST', path: '/v1/tasks/t/result', body: joined, bodySha256: digest, headers }, lookup, { now: T0, nonceCache: new NonceCache() }), 'm-alice');
    // A digest of other bytes fails like other bytes would.
    const other = createHash('sha256').update('other bytes').digest('hex');
    await assert.rejects(verifyRequest({ method: 'POST', path: '/v1/tasks/t/result', body: joined, bodySha256: other, headers }, lookup, { now: T0, nonceCache: new NonceCache() }), refusal(ErrorCode.UNAUTHENTICATED, 'bad-signature'));
  });

  it('refuses an impostor signing as a member with another key', async () => {
    await assert.rejects(
      verifyRequest(signed({}, mallory), lookup, { now: T0, nonceCache: new NonceCache() }),
      refusal(ErrorCode.UNAUTHENTICATED, 'bad-signature', 'signature does not verify with the key enrolled for member m-alice'),
    );
  });

  it('refuses a replayed request', async () => {
    const cache = new NonceCache();
    const request = signed();
    await verifyRequest(request, lookup, { now: T0, nonceCache: cache });
    await assert.rejects(
      verifyRequest(request, lookup, { now: T0 + 5000, nonceCache: cache }),
      refusal(ErrorCode.UNAUTHENTICATED, 'replayed', `nonce ${request.headers['concord-nonce'] as string} was already used`),
    );
  });

  it('refuses a request 95 s old, and one from the future', async () => {
    await assert.rejects(
      verifyRequest(signed(), lookup, { now: T0 + 95_000, nonceCache: new NonceCache() }),
      refusal(ErrorCode.UNAUTHENTICATED, 'expired', 'timestamp is 95 s old; requests older than 60 s are refused'),
    );
    await assert.rejects(
      verifyRequest(signed(), lookup, { now: T0 - 61_000, nonceCache: new NonceCache() }),
      refusal(ErrorCode.UNAUTHENTICATED, 'future', 'timestamp is 61 s in the future'),
    );
    assert.equal(await verifyRequest(signed(), lookup, { now: T0 + 95_000, maxSkewMs: 120_000, nonceCache: new NonceCache() }), 'm-alice');
  });

  it('refuses a tampered body, path, method or timestamp', async () => {
    const cache = new NonceCache();
    const bad = refusal(ErrorCode.UNAUTHENTICATED, 'bad-signature');
    await assert.rejects(verifyRequest(signed({ body: '{"round":4}' }), lookup, { now: T0, nonceCache: cache }), bad);
    await assert.rejects(verifyRequest(signed({ path: '/v1/results?task=8' }), lookup, { now: T0, nonceCache: cache }), bad);
    await assert.rejects(verifyRequest(signed({ method: 'PUT' }), lookup, { now: T0, nonceCache: cache }), bad);
    const request = signed();
    request.headers['concord-timestamp'] = String(T0 + 1);
    await assert.rejects(verifyRequest(request, lookup, { now: T0, nonceCache: cache }), bad);
    assert.equal(cache.size, 0, 'nonces of refused requests are not remembered');
  });

  it('refuses a revoked member with FORBIDDEN, an unknown one and an unsigned request with UNAUTHENTICATED', async () => {
    await assert.rejects(verifyRequest(signed({}, alice, 'm-gone'), lookup, { now: T0, nonceCache: new NonceCache() }), refusal(ErrorCode.FORBIDDEN, 'revoked', 'm-gone has been revoked'));
    await assert.rejects(verifyRequest(signed({}, alice, 'm-nobody'), lookup, { now: T0, nonceCache: new NonceCache() }), refusal(ErrorCode.UNAUTHENTICATED, 'unknown-member', 'm-nobody'));
    await assert.rejects(
      verifyRequest({ method: 'GET', path: '/', headers: { 'concord-member': 'm-alice' } }, lookup, { now: T0, nonceCache: new NonceCache() }),
      refusal(ErrorCode.UNAUTHENTICATED, 'unsigned', 'missing headers concord-timestamp, concord-nonce, concord-signature'),
    );
    const request = signed();
    request.headers['concord-nonce'] = 'short';
    await assert.rejects(verifyRequest(request, lookup, { now: T0, nonceCache: new NonceCache() }), refusal(ErrorCode.UNAUTHENTICATED, 'malformed'));
  });
});

describe('NonceCache', () => {
  it('forgets entries once their requests would be too old anyway', () => {
    const cache = new NonceCache();
    assert.equal(cache.checkAndRemember('m', 'n1', 1000, 61_000, 1000), 'fresh');
    assert.equal(cache.checkAndRemember('m', 'n1', 1000, 61_000, 2000), 'replayed');
    assert.equal(cache.checkAndRemember('other', 'n1', 1000, 61_000, 2000), 'fresh', 'nonces are per member');
    assert.equal(cache.checkAndRemember('m', 'n2', 70_000, 130_000, 70_000), 'fresh');
    assert.equal(cache.size, 1, 'the two entries that expired at 61 000 are gone');
  });

  it('stays within maxEntries and never lets an evicted nonce be replayed', () => {
    const cache = new NonceCache({ maxEntries: 2 });
    assert.equal(cache.checkAndRemember('m', 'a', 100, 60_100, 100), 'fresh');
    assert.equal(cache.checkAndRemember('m', 'b', 200, 60_200, 200), 'fresh');
    assert.equal(cache.checkAndRemember('m', 'c', 300, 60_300, 300), 'fresh');
    assert.equal(cache.size, 2);
    // "a" was evicted; replaying it (timestamp 100) and anything not newer than it is refused.
    assert.equal(cache.checkAndRemember('m', 'a', 100, 60_100, 400), 'forgotten');
    assert.equal(cache.checkAndRemember('m', 'd', 90, 60_090, 400), 'forgotten');
    assert.equal(cache.checkAndRemember('m', 'b', 200, 60_200, 400), 'replayed');
  });
});
