// Members declare their compute (capacity R_i, efficiency f_i, cost, availability, grid
// carbon intensity, power draw) themselves, signed with their key; the operator reads the
// consortium's declarations as one resources document — the input of `concord plan` and of
// a run's `plan` when it names no resources of its own.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Scope } from '../governance/roles.js';
import { ResourceMemberSchema, type ResourceMemberInput } from '../planning/resources.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { MemberRecord, MemberStore, ResourceStore } from '../storage/storage.js';

/** What a member declares: a resources entry without the name, which is the member's own. */
export const ResourceDeclarationSchema = ResourceMemberSchema.omit({ name: true });
export type ResourceDeclaration = z.input<typeof ResourceDeclarationSchema>;

export interface ResourceRouteOptions {
  storage: MemberStore & ResourceStore;
  /** A signed member request → the member. */
  member: (request: FastifyRequest) => Promise<MemberRecord>;
  /** An operator/API-token request with a scope. */
  authorize: (request: FastifyRequest, scope: Scope) => Promise<unknown>;
}

/** The consortium's declared resources as a resources document ({members: [...]}), or null when nobody declared. */
export async function declaredResources(storage: MemberStore & ResourceStore): Promise<{ members: ResourceMemberInput[] } | null> {
  const members = await storage.listMembers();
  const declared = await storage.listMemberResources();
  const entries = declared
    .map((d) => ({ member: members.find((m) => m.memberId === d.memberId), declaration: d.declaration }))
    .filter((e) => e.member && !e.member.revoked)
    .map((e) => ({ name: e.member!.name, ...(e.declaration as ResourceDeclaration) }));
  return entries.length > 0 ? { members: entries } : null;
}

export function registerResourceRoutes(app: FastifyInstance, options: ResourceRouteOptions): void {
  app.post('/v1/members/resources', async (request) => {
    const member = await options.member(request);
    const parsed = ResourceDeclarationSchema.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join('.') || '(root)';
      throw new ConcordError(ErrorCode.INVALID_MESSAGE, `resources: ${field}: ${issue.message}`, { details: { field, issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) } });
    }
    await options.storage.setMemberResources(member.memberId, parsed.data);
    return { memberId: member.memberId, name: member.name, resources: parsed.data };
  });

  app.get('/v1/resources', async (request) => {
    await options.authorize(request, 'members:read');
    return (await declaredResources(options.storage)) ?? { members: [] };
  });
}
