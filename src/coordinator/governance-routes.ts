// The coordinator's governance endpoints: member enrollment (with invitations, or open
// enrollment for a local consortium), revocation, invitations, scoped API tokens, the audit
// log and the coordinator's public key. Every decision made here is written to the audit
// trail. Wire format: docs/protocol.md; threat model: docs/security.md.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { fingerprint, type Identity } from '../governance/identity.js';
import { createInvitation, invitationCodeHash, redeemInvitation, type InvitationRecord } from '../governance/invitations.js';
import { ROLES, SCOPES, createApiToken, type ApiTokenRecord, type Role } from '../governance/roles.js';
import { SignatureHeader } from '../governance/signed-request.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { EnrollRequestSchema, PROTOCOL_VERSION, parseMessage } from '../protocol/messages.js';
import type { AuditLogStore, GovernanceStore, MemberRecord, MemberStore } from '../storage/storage.js';
import type { AuditTrail } from './audit-trail.js';
import type { Authenticator } from './auth.js';

export interface GovernanceRoutesOptions {
  storage: MemberStore & GovernanceStore & AuditLogStore;
  auth: Authenticator;
  audit: AuditTrail;
  /** The coordinator's identity, whose public key verifies the audit log. */
  identity: Identity;
  /** Admit new members without an invitation (a local consortium, tests). */
  openEnrollment: boolean;
  /** Throws FORBIDDEN for a name the cooperation agreement in force does not list. Default: every name. */
  assertMayEnroll?(name: string): void;
  /** A member may now take part (enrolled, or re-enrolled). */
  onEnrolled(member: MemberRecord): void;
  /** A member must no longer take part (revoked). */
  onRevoked(member: MemberRecord): void;
  /** Default Date.now. */
  now?: () => number;
}

const personName = z.string().min(1).max(128);
const memberName = z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" or "-"');
const lifetime = z.number().int().positive().max(10 * 365 * 24 * 3600 * 1000);

const InvitationRequestSchema = z.object({
  role: z.enum(ROLES).default('member'),
  name: memberName.optional(),
  expiresInMs: lifetime.optional(),
});

const RedeemRequestSchema = z.object({ invitation: z.string().min(1).max(200), name: personName });

const TokenRequestSchema = z.object({
  role: z.enum(ROLES),
  scopes: z.array(z.enum(SCOPES)).min(1).optional(),
  expiresInMs: lifetime.optional(),
  label: personName.optional(),
});

const AuditQuerySchema = z.object({
  fromSeq: z.coerce.number().int().min(1).default(1),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});

/** A short public name for an invitation, safe to log: the start of its code's hash. */
export function invitationId(record: Pick<InvitationRecord, 'codeHash'>): string {
  return record.codeHash.slice(0, 16);
}

export function registerGovernanceRoutes(app: FastifyInstance, options: GovernanceRoutesOptions): void {
  const { storage, auth, audit } = options;
  const now = options.now ?? Date.now;

  app.get('/v1/identity', async () => ({ algorithm: 'Ed25519', publicKey: options.identity.publicKey, fingerprint: fingerprint(options.identity.publicKey) }));

  app.post('/v1/members/enroll', async (request) => {
    const body = parseMessage(EnrollRequestSchema, request.body, 'enroll request');
    if (request.headers[SignatureHeader.MEMBER] !== undefined && request.headers[SignatureHeader.MEMBER] !== body.name) {
      throw new ConcordError(ErrorCode.INVALID_MESSAGE, `an enrollment is signed under the name being enrolled: header ${SignatureHeader.MEMBER} must be ${JSON.stringify(body.name)}`, {
        details: { field: SignatureHeader.MEMBER, expected: body.name },
      });
    }
    try {
      options.assertMayEnroll?.(body.name);
    } catch (error) {
      if (error instanceof ConcordError) await refusedAdmission(body.name, error, { fingerprint: fingerprint(body.publicKey) });
      throw error;
    }
    const existing = await storage.getMemberByName(body.name);
    const keyed = existing?.publicKey ? { ...existing, publicKey: existing.publicKey } : undefined;
    try {
      // A known name must sign with its current key; a new one proves it holds the key it enrolls.
      await auth.verify(
        request,
        (name) => (name !== body.name ? undefined : keyed ? { publicKey: keyed.publicKey, revoked: keyed.revoked } : { publicKey: body.publicKey }),
        () => existing,
      );
    } catch (error) {
      if (keyed && error instanceof ConcordError && error.details.reason === 'bad-signature') {
        throw new ConcordError(ErrorCode.CONFLICT, `a member named ${body.name} is already enrolled with another key; re-enrolling needs a request signed with its current key, or choose another name`, {
          details: { field: 'name', received: body.name, reason: 'name-taken' },
        });
      }
      throw error;
    }

    if (keyed) {
      const member = await storage.replaceMemberKey(keyed.memberId, body.publicKey, body.dataset);
      options.onEnrolled(member);
      await audit.record({
        actor: member.memberId,
        kind: 'member.re-enrolled',
        subject: member.memberId,
        data: { name: member.name, fingerprint: fingerprint(body.publicKey), keyRotated: keyed.publicKey !== body.publicKey, dataset: member.dataset.name, numExamples: member.dataset.numExamples },
      });
      return { protocolVersion: PROTOCOL_VERSION, memberId: member.memberId };
    }

    if (existing?.revoked) {
      throw new ConcordError(ErrorCode.FORBIDDEN, `member ${existing.name} has been revoked`, { details: { field: 'name', received: body.name, reason: 'revoked' } });
    }
    let admission: { via: 'invitation'; invitationId: string } | { via: 'open-enrollment' };
    try {
      admission = body.invitation === undefined ? openAdmission() : await redeemForMember(body.invitation, body.name);
    } catch (error) {
      if (error instanceof ConcordError) await refusedAdmission(body.name, error, { fingerprint: fingerprint(body.publicKey) });
      throw error;
    }
    // A member enrolled before keys existed keeps its id and history.
    const member = existing ? await storage.replaceMemberKey(existing.memberId, body.publicKey, body.dataset) : await storage.addMember({ name: body.name, publicKey: body.publicKey, dataset: body.dataset });
    options.onEnrolled(member);
    await audit.record({
      actor: member.memberId,
      kind: 'member.enrolled',
      subject: member.memberId,
      data: { name: member.name, fingerprint: fingerprint(body.publicKey), dataset: member.dataset.name, numExamples: member.dataset.numExamples, ...admission },
    });
    return { protocolVersion: PROTOCOL_VERSION, memberId: member.memberId };
  });

  /** An invitation or enrollment that failed; one shared rate-limit bucket, since the caller is nobody yet. */
  async function refusedAdmission(name: string, error: ConcordError, data: Record<string, string>): Promise<void> {
    await audit.refusal('*', {
      actor: 'unknown',
      kind: 'enrollment.refused',
      subject: name,
      data: { code: error.code, reason: typeof error.details.reason === 'string' ? error.details.reason : 'invalid', ...data },
    });
  }

  function openAdmission(): { via: 'open-enrollment' } {
    if (!options.openEnrollment) {
      throw new ConcordError(ErrorCode.UNAUTHENTICATED, 'this coordinator admits new members only with an invitation: ask the operator for one ("concord invite") and start the node with --invitation', {
        details: { field: 'invitation', reason: 'invitation-required' },
      });
    }
    return { via: 'open-enrollment' };
  }

  async function redeem(code: string, name: string): Promise<{ record: InvitationRecord; role: Role }> {
    const codeHash = invitationCodeHash(code);
    const checked = redeemInvitation(await storage.getInvitation(codeHash), code, { memberName: name, now: now() });
    const record = await storage.useInvitation(codeHash, name, checked.record.usedAt!);
    await audit.record({ actor: name, kind: 'invitation.redeemed', subject: invitationId(record), data: { role: record.role, by: name } });
    return { record, role: record.role };
  }

  async function redeemForMember(code: string, name: string): Promise<{ via: 'invitation'; invitationId: string }> {
    const record = await storage.getInvitation(invitationCodeHash(code));
    if (record && record.role !== 'member') {
      throw new ConcordError(ErrorCode.FORBIDDEN, `this invitation is for a ${record.role}, not a member node; redeem it with "concord tokens redeem"`, {
        details: { field: 'invitation', expected: 'member', received: record.role, reason: 'wrong-role' },
      });
    }
    const redeemed = await redeem(code, name);
    return { via: 'invitation', invitationId: invitationId(redeemed.record) };
  }

  app.post<{ Params: { memberId: string } }>('/v1/members/:memberId/revoke', async (request) => {
    const caller = await auth.caller(request, 'members:admin');
    const key = request.params.memberId;
    const member = (await storage.getMember(key)) ?? (await storage.getMemberByName(key));
    if (!member) throw new ConcordError(ErrorCode.NOT_FOUND, `no member with id or name ${key}`, { details: { field: 'memberId', received: key } });
    await storage.revokeMember(member.memberId);
    options.onRevoked(member);
    if (!member.revoked) await audit.record({ actor: caller.actor, kind: 'member.revoked', subject: member.memberId, data: { name: member.name } });
    return { memberId: member.memberId, name: member.name, revoked: true };
  });

  app.post('/v1/invitations', async (request) => {
    const caller = await auth.caller(request, 'members:admin');
    const body = parseMessage(InvitationRequestSchema, request.body ?? {}, 'invitation request');
    const { code, record } = createInvitation({
      role: body.role,
      ...(body.name !== undefined ? { memberName: body.name } : {}),
      ...(body.expiresInMs !== undefined ? { expiresInMs: body.expiresInMs } : {}),
      now: now(),
    });
    await storage.addInvitation(record);
    await audit.record({ actor: caller.actor, kind: 'invitation.created', subject: invitationId(record), data: { role: record.role, memberName: record.memberName, expiresAt: record.expiresAt } });
    return { code, invitationId: invitationId(record), role: record.role, memberName: record.memberName, expiresAt: record.expiresAt };
  });

  app.get('/v1/invitations', async (request) => {
    await auth.caller(request, 'members:admin');
    return {
      invitations: (await storage.listInvitations()).map((i) => ({
        invitationId: invitationId(i),
        role: i.role,
        memberName: i.memberName,
        createdAt: i.createdAt,
        expiresAt: i.expiresAt,
        usedAt: i.usedAt,
        usedBy: i.usedBy,
      })),
    };
  });

  // The code is the credential: a researcher or auditor trades it for an API token of its role.
  app.post('/v1/invitations/redeem', async (request) => {
    const body = parseMessage(RedeemRequestSchema, request.body, 'redeem request');
    let role: Role;
    try {
      const record = await storage.getInvitation(invitationCodeHash(body.invitation));
      if (record?.role === 'member') {
        throw new ConcordError(ErrorCode.FORBIDDEN, 'this invitation is for a member node: start the node with --invitation', {
          details: { field: 'invitation', expected: 'researcher, auditor or operator', received: 'member', reason: 'wrong-role' },
        });
      }
      ({ role } = await redeem(body.invitation, body.name));
    } catch (error) {
      if (error instanceof ConcordError) await refusedAdmission(body.name, error, {});
      throw error;
    }
    const { token, record: created } = createApiToken({ role, expiresAt: null, label: body.name, now: now() });
    await storage.addApiToken(created);
    await audit.record({ actor: body.name, kind: 'token.created', subject: created.tokenId, data: { role, scopes: created.scopes, expiresAt: null, label: body.name, via: 'invitation' } });
    return { token, ...publicToken(created) };
  });

  app.post('/v1/tokens', async (request) => {
    const caller = await auth.caller(request, 'members:admin');
    const body = parseMessage(TokenRequestSchema, request.body, 'token request');
    const at = now();
    const { token, record } = createApiToken({
      role: body.role,
      ...(body.scopes ? { scopes: body.scopes } : {}),
      expiresAt: body.expiresInMs === undefined ? null : at + body.expiresInMs,
      ...(body.label !== undefined ? { label: body.label } : {}),
      now: at,
    });
    await storage.addApiToken(record);
    await audit.record({ actor: caller.actor, kind: 'token.created', subject: record.tokenId, data: { role: record.role, scopes: record.scopes, expiresAt: record.expiresAt, label: record.label } });
    return { token, ...publicToken(record) };
  });

  app.get('/v1/tokens', async (request) => {
    await auth.caller(request, 'members:admin');
    return { tokens: (await storage.listApiTokens()).map(publicToken) };
  });

  app.post<{ Params: { tokenId: string } }>('/v1/tokens/:tokenId/revoke', async (request) => {
    const caller = await auth.caller(request, 'members:admin');
    const before = await storage.getApiToken(request.params.tokenId);
    const record = await storage.revokeApiToken(request.params.tokenId, now());
    if (before && before.revokedAt === null) await audit.record({ actor: caller.actor, kind: 'token.revoked', subject: record.tokenId, data: { role: record.role, label: record.label } });
    return publicToken(record);
  });

  app.get('/v1/audit', async (request) => {
    await auth.caller(request, 'audit:read');
    const query = parseMessage(AuditQuerySchema, request.query ?? {}, 'audit query');
    return {
      publicKey: options.identity.publicKey,
      count: await storage.countAudit(),
      entries: await storage.listAudit({ fromSeq: query.fromSeq, limit: query.limit }),
    };
  });
}

/** A token record without its hash. */
function publicToken(record: ApiTokenRecord): Omit<ApiTokenRecord, 'tokenHash'> {
  const { tokenHash: _hash, ...rest } = record;
  return rest;
}
