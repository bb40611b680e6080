// Signed requests: every request a member node sends carries an Ed25519 signature over
// what it asks for, so a stolen bearer token or a replayed packet is useless. A simplified
// HTTP Message Signatures (RFC 9421): the signature covers
//
//   signingBytes('concord/request/v1', {method, target, bodySha256, timestamp, nonce, member})
//
// where `target` is the path with its query exactly as sent, `bodySha256` the hex SHA-256
// of the exact body bytes (the empty string's hash when there is no body), `timestamp`
// epoch milliseconds and `nonce` 128 random bits (base64url). Freshness comes from the
// timestamp window; uniqueness within the window from a nonce cache.

import { randomBytes } from 'node:crypto';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { SigningDomain, signingBytes } from './canonical.js';
import { sha256Hex, sha256HexOfParts } from './digest.js';
import { sign, verify, type Identity } from './identity.js';

export const SignatureHeader = {
  MEMBER: 'concord-member',
  TIMESTAMP: 'concord-timestamp',
  NONCE: 'concord-nonce',
  SIGNATURE: 'concord-signature',
} as const;

export type SignatureHeaders = Record<(typeof SignatureHeader)[keyof typeof SignatureHeader], string>;

export interface RequestToSign {
  method: string;
  /** Path and query exactly as they appear in the request line, e.g. `/v1/runs?limit=5`. */
  path: string;
  /** The exact body bytes (a string is taken as UTF-8), whole or as the parts sent one after another; absent for no body. */
  body?: Uint8Array | string | readonly Uint8Array[];
  memberId: string;
  /** Epoch milliseconds; defaults to Date.now(). */
  now?: number;
}

/** Why a request was refused, for logs and tests; the error code says UNAUTHENTICATED or FORBIDDEN. */
export type RequestRefusal = 'unsigned' | 'malformed' | 'unknown-member' | 'bad-signature' | 'expired' | 'future' | 'replayed' | 'revoked';

const NONCE = /^[A-Za-z0-9_-]{22}$/;
const SIGNATURE = /^[A-Za-z0-9_-]{86}$/;

export function requestSigningBytes(fields: { method: string; target: string; bodySha256: string; timestamp: number; nonce: string; member: string }): Uint8Array {
  return signingBytes(SigningDomain.REQUEST, { ...fields, method: fields.method.toUpperCase() });
}

/** The four headers to add to a request. */
export function signRequest(identity: Identity, request: RequestToSign): SignatureHeaders {
  const timestamp = request.now ?? Date.now();
  const nonce = randomBytes(16).toString('base64url');
  const bytes = requestSigningBytes({
    method: request.method,
    target: request.path,
    bodySha256: Array.isArray(request.body) ? sha256HexOfParts(request.body) : sha256Hex((request.body as Uint8Array | string | undefined) ?? ''),
    timestamp,
    nonce,
    member: request.memberId,
  });
  return {
    [SignatureHeader.MEMBER]: request.memberId,
    [SignatureHeader.TIMESTAMP]: String(timestamp),
    [SignatureHeader.NONCE]: nonce,
    [SignatureHeader.SIGNATURE]: sign(identity.privateKey, bytes),
  };
}

/** What the coordinator knows about a member's key. */
export interface EnrolledKey {
  publicKey: string;
  revoked?: boolean;
}

export type KeyLookup = (memberId: string) => EnrolledKey | undefined | Promise<EnrolledKey | undefined>;

export interface ReceivedRequest {
  method: string;
  path: string;
  body?: Uint8Array | string;
  /** The body's SHA-256 (hex) when the receiver computed it as the bytes arrived; else it is computed here. */
  bodySha256?: string | undefined;
  /** Header names in any case, as Node's IncomingHttpHeaders or a plain record. */
  headers: Record<string, string | string[] | undefined>;
}

export interface VerifyRequestOptions {
  /** Epoch milliseconds of arrival. */
  now: number;
  /** How far a timestamp may be from `now`, either way. Default 60 000 ms. */
  maxSkewMs?: number;
  nonceCache: NonceCache;
}

/**
 * Checks a signed request and returns the member id it authenticates. Throws
 * UNAUTHENTICATED (unsigned, malformed, unknown member, bad signature, too old, from the
 * future, replayed) or FORBIDDEN (revoked member); `details.reason` says which.
 *
 * The nonce is remembered only after the signature verifies, so nobody without a
 * member's key can fill the cache.
 */
export async function verifyRequest(request: ReceivedRequest, lookupPublicKey: KeyLookup, options: VerifyRequestOptions): Promise<string> {
  const maxSkewMs = options.maxSkewMs ?? 60_000;
  const headers = lowerCaseKeys(request.headers);
  const missing = Object.values(SignatureHeader).filter((name) => headers[name] === undefined);
  if (missing.length > 0) {
    throw refuse('unsigned', `unsigned request: missing header${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, { field: missing[0], expected: Object.values(SignatureHeader) });
  }
  const memberId = headers[SignatureHeader.MEMBER]!;
  const timestampText = headers[SignatureHeader.TIMESTAMP]!;
  const nonce = headers[SignatureHeader.NONCE]!;
  const signature = headers[SignatureHeader.SIGNATURE]!;

  if (!/^\d{1,16}$/.test(timestampText)) {
    throw refuse('malformed', `${SignatureHeader.TIMESTAMP} must be epoch milliseconds, received "${timestampText.slice(0, 40)}"`, { field: SignatureHeader.TIMESTAMP, expected: 'integer milliseconds' });
  }
  if (!NONCE.test(nonce)) {
    throw refuse('malformed', `${SignatureHeader.NONCE} must be 16 random bytes in base64url (22 characters)`, { field: SignatureHeader.NONCE, expected: '22 base64url characters' });
  }
  if (!SIGNATURE.test(signature)) {
    throw refuse('malformed', `${SignatureHeader.SIGNATURE} must be a 64-byte Ed25519 signature in base64url (86 characters)`, { field: SignatureHeader.SIGNATURE, expected: '86 base64url characters' });
  }

  const timestamp = Number(timestampText);
  const age = options.now - timestamp;
  if (age > maxSkewMs) {
    throw refuse('expired', `request timestamp is ${seconds(age)} s old; requests older than ${seconds(maxSkewMs)} s are refused (check the node's clock)`, {
      field: SignatureHeader.TIMESTAMP, expected: `within ${maxSkewMs} ms of ${options.now}`, received: timestamp,
    });
  }
  if (-age > maxSkewMs) {
    throw refuse('future', `request timestamp is ${seconds(-age)} s in the future; clocks may differ by at most ${seconds(maxSkewMs)} s (check the node's clock)`, {
      field: SignatureHeader.TIMESTAMP, expected: `within ${maxSkewMs} ms of ${options.now}`, received: timestamp,
    });
  }

  const enrolled = await lookupPublicKey(memberId);
  if (!enrolled) {
    throw refuse('unknown-member', `no key is enrolled for member ${JSON.stringify(memberId)}`, { field: SignatureHeader.MEMBER, received: memberId });
  }
  const bytes = requestSigningBytes({ method: request.method, target: request.path, bodySha256: request.bodySha256 ?? sha256Hex(request.body ?? ''), timestamp, nonce, member: memberId });
  if (!verify(enrolled.publicKey, bytes, signature)) {
    throw refuse('bad-signature', `signature does not verify with the key enrolled for member ${memberId} (was the method, path, body or a header changed, or signed with another key?)`, {
      field: SignatureHeader.SIGNATURE,
    });
  }
  if (enrolled.revoked) {
    throw new ConcordError(ErrorCode.FORBIDDEN, `member ${memberId} has been revoked`, { details: { field: SignatureHeader.MEMBER, received: memberId, reason: 'revoked' satisfies RequestRefusal } });
  }
  const seen = options.nonceCache.checkAndRemember(memberId, nonce, timestamp, timestamp + maxSkewMs, options.now);
  if (seen === 'replayed') {
    throw refuse('replayed', `nonce ${nonce} was already used by member ${memberId}; each request needs a fresh nonce (replayed request?)`, { field: SignatureHeader.NONCE, received: nonce });
  }
  if (seen === 'forgotten') {
    throw refuse('expired', `request timestamp ${timestamp} is older than the oldest request the nonce cache still remembers; sign the request again`, {
      field: SignatureHeader.TIMESTAMP, received: timestamp,
    });
  }
  return memberId;
}

function refuse(reason: RequestRefusal, message: string, details: Record<string, unknown>): ConcordError {
  return new ConcordError(ErrorCode.UNAUTHENTICATED, message, { details: { ...details, reason } });
}

function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

function lowerCaseKeys(headers: ReceivedRequest['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(headers)) {
    // A repeated header is ambiguous; taking neither makes the request count as unsigned.
    out[key.toLowerCase()] = Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;
  }
  return out;
}

/**
 * Nonces seen recently, per member. An entry lives until its request could no longer pass
 * the timestamp check, so expired entries cost nothing to forget. Memory is bounded by
 * `maxEntries` (default 100 000): when full, the oldest-arrived entry is evicted and the
 * cache raises a floor to that entry's timestamp, refusing every request not newer than it
 * — so an evicted nonce can never be replayed; under overload the cache only gets stricter.
 */
export class NonceCache {
  readonly maxEntries: number;
  private readonly entries = new Map<string, { timestamp: number; expiresAt: number }>();
  private floor = -Infinity;

  constructor(options: { maxEntries?: number } = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'maxEntries must be a positive integer', { details: { field: 'maxEntries', expected: 'integer ≥ 1', received: options.maxEntries } });
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * 'fresh' (and remembered until `expiresAt`), 'replayed' when this member used the nonce
   * before, or 'forgotten' when the timestamp is not newer than an evicted entry's.
   */
  checkAndRemember(memberId: string, nonce: string, timestamp: number, expiresAt: number, now: number): 'fresh' | 'replayed' | 'forgotten' {
    this.purge(now);
    const key = `${memberId}\u0000${nonce}`;
    if (this.entries.has(key)) return 'replayed';
    if (timestamp <= this.floor) return 'forgotten';
    while (this.entries.size >= this.maxEntries) {
      const [oldestKey, oldest] = this.entries.entries().next().value as [string, { timestamp: number }];
      this.entries.delete(oldestKey);
      this.floor = Math.max(this.floor, oldest.timestamp);
    }
    if (timestamp <= this.floor) return 'forgotten';
    this.entries.set(key, { timestamp, expiresAt });
    return 'fresh';
  }

  /** Forgets entries whose requests would fail the timestamp check anyway. */
  purge(now: number): void {
    // Arrival order is nearly expiry order, so stopping at the first live entry is enough to
    // keep the map small; stragglers go on a later call or by eviction.
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt >= now) break;
      this.entries.delete(key);
      this.floor = Math.max(this.floor, entry.timestamp);
    }
  }
}
