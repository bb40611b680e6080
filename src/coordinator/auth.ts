// Who is calling the coordinator, and may they do this? Two kinds of callers:
// - member nodes sign every request with their Ed25519 key (governance/signed-request.ts);
//   the signature covers method, path and query, and the exact body bytes, so the raw
//   bytes of JSON bodies are kept beside the parsed value (and no other kind of body is
//   read);
// - people and programs present a bearer token: the operator's bootstrap token (role
//   operator) or an API token (governance/roles.ts) whose scopes must include the one the
//   endpoint names.
// Refusals of member requests go to the audit trail, rate-limited per member.

import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NonceCache, SignatureHeader, verifyRequest, type KeyLookup } from '../governance/signed-request.js';
import { ROLE_SCOPES, apiTokenId, authorize, tokenMatches, type Role, type Scope } from '../governance/roles.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { FRAME_CONTENT_TYPE } from '../protocol/frame.js';
import type { GovernanceStore, MemberRecord, MemberStore } from '../storage/storage.js';
import type { AuditTrail } from './audit-trail.js';
import { frameBodyDigest, receiveFrameBody } from './frame-body.js';
import { bearerToken, sameToken } from './tokens.js';

/** Someone acting through a bearer token. */
export interface Caller {
  role: Role;
  /** Who to name in the audit log: `operator` for the bootstrap token, else `token:<id>`. */
  actor: string;
  tokenId: string | null;
}

export interface AuthenticatorOptions {
  storage: MemberStore & Pick<GovernanceStore, 'getApiToken'>;
  /** The operator's bootstrap token: role operator with all of that role's scopes. */
  operatorToken: string;
  audit: AuditTrail;
  /** How far a signed request's timestamp may be from the coordinator's clock. Default 60 000 ms. */
  maxClockSkewMs?: number;
  /** Default: a cache of 100 000 nonces. */
  nonceCache?: NonceCache;
  /** Default Date.now. */
  now?: () => number;
  /**
   * Nonces seen by every coordinator process on the database (replicas): resolves false for
   * one seen before, whichever process saw it. Default: this process's cache only.
   */
  sharedNonces?: (memberId: string, nonce: string, expiresAt: number) => Promise<boolean>;
}

const rawBodies = new WeakMap<IncomingMessage, Buffer>();

/** The only request bodies the coordinator reads: JSON and binary frames. */
export const BODY_CONTENT_TYPES = ['application/json', FRAME_CONTENT_TYPE] as const;

/**
 * Makes JSON and frames the only bodies the coordinator parses, both kept as the bytes
 * that signatures cover. Fastify's other parsers (text/plain) would hand a route a body
 * whose bytes are gone, so a signed request would fail as a bad signature; refused as an
 * unsupported content type instead (http-errors.ts). JSON parsing (and its protection
 * against prototype poisoning) stays Fastify's own.
 */
export function installBodyParsers(app: FastifyInstance, bodyLimit: number): void {
  const parse = app.getDefaultJsonParser('error', 'ignore');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (request, body, done) => {
    rawBodies.set(request.raw, body as Buffer);
    parse(request, body as unknown as string, done);
  });
  app.addContentTypeParser(FRAME_CONTENT_TYPE, receiveFrameBody(bodyLimit));
}

/** The exact bytes of the request body (JSON or frame); undefined when it had none. */
export function rawBodyOf(request: FastifyRequest): Uint8Array | undefined {
  return Buffer.isBuffer(request.body) ? request.body : rawBodies.get(request.raw);
}

/** A body the coordinator does not read: names what came and what it takes. */
export function unsupportedContentType(received: string | undefined): ConcordError {
  const what = received === undefined ? 'unsupported content type: the request has a body but no content-type header' : `unsupported content type ${JSON.stringify(received)}`;
  return new ConcordError(ErrorCode.INVALID_MESSAGE, `${what}; send ${BODY_CONTENT_TYPES[0]} (JSON bodies) or ${BODY_CONTENT_TYPES[1]} (task results)`, {
    details: { field: 'content-type', expected: [...BODY_CONTENT_TYPES], received: received ?? null },
  });
}

export class Authenticator {
  private readonly storage: MemberStore & Pick<GovernanceStore, 'getApiToken'>;
  private readonly operatorToken: string;
  private readonly audit: AuditTrail;
  private readonly maxSkewMs: number;
  private readonly nonces: NonceCache;
  private readonly now: () => number;
  private readonly sharedNonces: AuthenticatorOptions['sharedNonces'];

  constructor(options: AuthenticatorOptions) {
    this.sharedNonces = options.sharedNonces;
    this.storage = options.storage;
    this.operatorToken = options.operatorToken;
    this.audit = options.audit;
    this.maxSkewMs = options.maxClockSkewMs ?? 60_000;
    this.nonces = options.nonceCache ?? new NonceCache();
    this.now = options.now ?? Date.now;
  }

  /**
   * Checks the bearer credential and that it carries `scope`: UNAUTHENTICATED for a
   * missing, unknown, expired or revoked token; FORBIDDEN naming the missing scope.
   */
  async caller(request: FastifyRequest, scope: Scope): Promise<Caller> {
    const token = bearerToken(request.headers.authorization);
    if (sameToken(token, this.operatorToken)) {
      if (!ROLE_SCOPES.operator.includes(scope)) {
        throw new ConcordError(ErrorCode.FORBIDDEN, `the operator token lacks scope ${scope}`, { details: { field: 'scopes', expected: scope, reason: 'missing-scope' } });
      }
      return { role: 'operator', actor: 'operator', tokenId: null };
    }
    const tokenId = apiTokenId(token);
    const record = tokenId === undefined ? undefined : await this.storage.getApiToken(tokenId);
    if (!record || !tokenMatches(record, token)) {
      throw new ConcordError(ErrorCode.UNAUTHENTICATED, 'unknown API token: use the operator token or one made with "concord tokens create"', {
        details: { field: 'authorization', reason: 'unknown' },
      });
    }
    try {
      authorize(record, scope, this.now());
    } catch (error) {
      if (error instanceof ConcordError && error.code === ErrorCode.FORBIDDEN) {
        await this.audit.refusal(`token:${record.tokenId}`, {
          actor: `token:${record.tokenId}`,
          kind: 'request.refused',
          subject: routeOf(request),
          data: { reason: 'missing-scope', scope, role: record.role },
        });
      }
      throw error;
    }
    return { role: record.role, actor: `token:${record.tokenId}`, tokenId: record.tokenId };
  }

  /**
   * Verifies a member's signed request and returns the member. Unsigned, malformed, stale,
   * replayed or badly signed requests are UNAUTHENTICATED, a revoked member's FORBIDDEN;
   * `details.reason` says which.
   */
  async member(request: FastifyRequest): Promise<MemberRecord> {
    let member: MemberRecord | undefined;
    const lookup: KeyLookup = async (memberId) => {
      member = await this.storage.getMember(memberId);
      return member?.publicKey ? { publicKey: member.publicKey, revoked: member.revoked } : undefined;
    };
    await this.verify(request, lookup, () => member);
    return member!;
  }

  /**
   * Verifies a signed request against the keys `lookup` gives; `known` names the enrolled
   * member the request claims to be (after lookup ran), for the refusal's audit bucket.
   */
  async verify(request: FastifyRequest, lookup: KeyLookup, known: () => MemberRecord | undefined): Promise<string> {
    const body = rawBodyOf(request);
    // A parsed body whose bytes were not kept cannot be checked against its signature.
    if (request.body !== undefined && body === undefined) throw unsupportedContentType(request.headers['content-type']);
    try {
      const now = this.now();
      const memberId = await verifyRequest({ method: request.method, path: request.url, body, bodySha256: frameBodyDigest(request), headers: request.headers }, lookup, { now, maxSkewMs: this.maxSkewMs, nonceCache: this.nonces });
      const nonce = request.headers[SignatureHeader.NONCE];
      if (this.sharedNonces && typeof nonce === 'string' && !(await this.sharedNonces(memberId, nonce, now + 2 * this.maxSkewMs))) {
        throw new ConcordError(ErrorCode.UNAUTHENTICATED, `nonce ${nonce} was already used by member ${memberId} (at another coordinator replica); each request needs a fresh nonce (replayed request?)`, {
          details: { field: SignatureHeader.NONCE, received: nonce, reason: 'replayed' },
        });
      }
      return memberId;
    } catch (error) {
      if (error instanceof ConcordError) await this.recordRefusal(request, error, known());
      throw error;
    }
  }

  private async recordRefusal(request: FastifyRequest, error: ConcordError, member: MemberRecord | undefined): Promise<void> {
    const claimed = request.headers[SignatureHeader.MEMBER];
    await this.audit.refusal(member ? member.memberId : '*', {
      actor: member?.memberId ?? 'unknown',
      kind: 'request.refused',
      subject: routeOf(request),
      data: {
        code: error.code,
        reason: typeof error.details.reason === 'string' ? error.details.reason : 'invalid',
        // What an unknown caller claimed to be, cut short: it is attacker-controlled text.
        claimedMember: typeof claimed === 'string' ? claimed.slice(0, 64) : null,
        ...(member ? { name: member.name } : {}),
      },
    });
  }
}

/** `METHOD /path` without the query, for audit subjects. */
function routeOf(request: FastifyRequest): string {
  return `${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`;
}
