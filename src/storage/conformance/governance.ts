// GovernanceStore contract: agreement versions in order and unique; plans with approvals in
// arrival order; an invitation redeemed at most once whatever the concurrency
// (compare-and-set); API tokens never duplicated by id or hash, revoked once.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InvitationRecord } from '../../governance/invitations.js';
import type { ApiTokenRecord } from '../../governance/roles.js';
import { ErrorCode, isConcordError } from '../../protocol/errors.js';
import { rejectsWith, storeRunner, type MakeStorage } from './fixtures.js';

export function governanceStoreConformance(name: string, make: MakeStorage): void {
  const withStore = storeRunner(make);

  describe(`${name}: GovernanceStore conformance`, () => {
    describe('agreement versions and plans', () => {
      it('keeps every agreement version in order and refuses a duplicate version', () =>
        withStore(async (s) => {
          const version = (v: number) => ({
            version: v,
            hash: `h${v}`,
            agreement: { version: v } as never,
            signatures: v === 1 ? [] : [{ member: 'a', signature: 'sig' }],
            signers: v === 1 ? [] : ['a'],
            adoptedAt: 1_700_000_000_000 + v,
            adoptedBy: 'operator',
          });
          await s.addAgreementVersion(version(1));
          await s.addAgreementVersion(version(2));
          assert.deepEqual(await s.listAgreementVersions(), [version(1), version(2)]);
          await rejectsWith(s.addAgreementVersion(version(2)), ErrorCode.CONFLICT, 'version');
        }));

      it('stores plans with their approvals in arrival order and links the run', () =>
        withStore(async (s) => {
          const base = { planId: 'plan_1', planHash: 'ph', plan: { title: 't' } as never, submittedBy: 'res', submittedAt: 5 };
          await s.addPlan(base);
          await rejectsWith(s.addPlan(base), ErrorCode.CONFLICT, 'planId');
          const approval = (member: string) => ({ planHash: 'ph', member, decision: 'approve' as const, reason: null, at: 7, signature: `s-${member}` });
          await s.addPlanApproval('plan_1', approval('b'));
          const record = await s.addPlanApproval('plan_1', approval('a'));
          assert.deepEqual(record, { ...base, approvals: [approval('b'), approval('a')], runId: null });
          assert.equal((await s.setPlanRun('plan_1', 'run_9')).runId, 'run_9');
          assert.deepEqual((await s.listPlans()).map((p) => [p.planId, p.runId, p.approvals.length]), [['plan_1', 'run_9', 2]]);
          assert.equal(await s.getPlan('plan_2'), undefined);
          await rejectsWith(s.addPlanApproval('plan_2', approval('a')), ErrorCode.NOT_FOUND, 'planId');
        }));
    });

    describe('invitations', () => {
      const invitation = (codeHash: string, overrides: Partial<InvitationRecord> = {}): InvitationRecord => ({
        codeHash,
        role: 'member',
        memberName: 'hospital-a',
        createdAt: 1_700_000_000_000,
        expiresAt: 1_700_000_600_000,
        usedAt: null,
        usedBy: null,
        ...overrides,
      });

      it('stores invitations by code hash and lists them in creation order', () =>
        withStore(async (s) => {
          await s.addInvitation(invitation('h1'));
          await s.addInvitation(invitation('h2', { role: 'researcher', memberName: null, createdAt: 1_700_000_000_001 }));
          assert.deepEqual(await s.getInvitation('h1'), invitation('h1'));
          assert.equal(await s.getInvitation('h3'), undefined);
          assert.deepEqual((await s.listInvitations()).map((i) => [i.codeHash, i.role, i.memberName]), [['h1', 'member', 'hospital-a'], ['h2', 'researcher', null]]);
          await rejectsWith(s.addInvitation(invitation('h1')), ErrorCode.CONFLICT, 'codeHash');
        }));

      it('redeems an invitation exactly once, even when two redemptions race', () =>
        withStore(async (s) => {
          await s.addInvitation(invitation('h1'));
          const results = await Promise.allSettled([s.useInvitation('h1', 'first', 1_700_000_000_100), s.useInvitation('h1', 'second', 1_700_000_000_200)]);
          const won = results.filter((r) => r.status === 'fulfilled');
          assert.equal(won.length, 1);
          const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
          assert.ok(isConcordError(lost.reason));
          assert.equal(lost.reason.code, ErrorCode.CONFLICT);
          assert.equal(lost.reason.details.field, 'invitation');
          const stored = (await s.getInvitation('h1'))!;
          assert.deepEqual(won[0]!.value, stored);
          assert.equal(stored.usedBy, 'first');
          assert.equal(stored.usedAt, 1_700_000_000_100);
          await rejectsWith(s.useInvitation('h1', 'third', 1_700_000_000_300), ErrorCode.CONFLICT, 'invitation');
          await rejectsWith(s.useInvitation('nope', 'x', 1), ErrorCode.NOT_FOUND, 'invitation');
        }));
    });

    describe('API tokens', () => {
      const token = (tokenId: string, overrides: Partial<ApiTokenRecord> = {}): ApiTokenRecord => ({
        tokenId,
        tokenHash: `hash-${tokenId}`,
        role: 'researcher',
        scopes: ['runs:read', 'runs:write'],
        label: 'alice',
        createdAt: 1_700_000_000_000,
        expiresAt: null,
        revokedAt: null,
        ...overrides,
      });

      it('stores token records, never duplicates an id or hash, and revokes once', () =>
        withStore(async (s) => {
          await s.addApiToken(token('t1'));
          await s.addApiToken(token('t2', { role: 'auditor', scopes: ['audit:read'], label: null, expiresAt: 1_800_000_000_000, createdAt: 1_700_000_000_001 }));
          assert.deepEqual(await s.getApiToken('t1'), token('t1'));
          assert.equal(await s.getApiToken('t3'), undefined);
          assert.deepEqual((await s.listApiTokens()).map((t) => t.tokenId), ['t1', 't2']);
          await rejectsWith(s.addApiToken(token('t1', { tokenHash: 'other' })), ErrorCode.CONFLICT, 'tokenId');
          await rejectsWith(s.addApiToken(token('t9', { tokenHash: 'hash-t1' })), ErrorCode.CONFLICT, 'tokenId');
          assert.deepEqual(await s.revokeApiToken('t1', 1_700_000_000_500), token('t1', { revokedAt: 1_700_000_000_500 }));
          // A second revocation keeps the first time.
          assert.equal((await s.revokeApiToken('t1', 1_700_000_000_900)).revokedAt, 1_700_000_000_500);
          await rejectsWith(s.revokeApiToken('t3', 1), ErrorCode.NOT_FOUND, 'tokenId');
        }));
    });
  });
}
