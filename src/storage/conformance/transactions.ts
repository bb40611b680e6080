// transaction() contract: one transaction across every concern. What the callback writes
// through its view commits together, or — when it throws — none of it, including rounds
// and their audit entries; the callback reads its own writes; an operation refused inside
// it leaves the rest usable; and a write made outside it meanwhile is neither lost with its
// rollback nor made part of it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuditLog } from '../../governance/audit.js';
import { generateIdentity } from '../../governance/identity.js';
import { ErrorCode } from '../../protocol/errors.js';
import type { StorageScope } from '../storage.js';
import { completedRound, dataset, rejectsWith, runConfig, smallParameters, storeRunner, type MakeStorage } from './fixtures.js';

/** One write of every concern; returns the run it created. */
async function writeEverything(tx: StorageScope, log: AuditLog): Promise<string> {
  const member = await tx.addMember({ name: 'hospital-a', publicKey: 'key-a', dataset: dataset('d', 10) });
  assert.deepEqual(await tx.getMember(member.memberId), member, 'the transaction reads its own writes');
  const run = await tx.createRun(runConfig('r'), smallParameters(0));
  await tx.saveRound(completedRound(run.runId, 1, { privacyCharges: [{ memberId: member.memberId, datasetId: 'hospital-a/d', samplingRate: 0.1, noiseMultiplier: 1, steps: 2 }] }), log.following([{ actor: 'coordinator', kind: 'round.aggregated', subject: run.runId }]));
  await tx.addEvent({ runId: run.runId, round: 1, kind: 'round-completed', message: 'r1', at: 1 });
  await tx.addPlan({ planId: 'plan_1', planHash: 'ph', plan: { title: 't' } as never, submittedBy: 'res', submittedAt: 1 });
  await tx.addInvitation({ codeHash: 'h1', role: 'member', memberName: null, createdAt: 1, expiresAt: 2, usedAt: null, usedBy: null });
  await tx.addApiToken({ tokenId: 't1', tokenHash: 'th1', role: 'auditor', scopes: ['audit:read'], label: null, createdAt: 1, expiresAt: null, revokedAt: null });
  await tx.setMemberResources(member.memberId, { capacity: 1, efficiency: 1 });
  return run.runId;
}

export function transactionConformance(name: string, make: MakeStorage): void {
  const withStore = storeRunner(make);
  const signer = generateIdentity();

  describe(`${name}: transaction() conformance`, () => {
    it('commits writes of every concern together', () =>
      withStore(async (s) => {
        const log = new AuditLog({ append: (e) => s.appendAudit(e), list: (o) => s.listAudit(o), count: () => s.countAudit(), last: () => s.lastAudit() }, signer);
        const runId = await s.transaction((tx) => writeEverything(tx, log));
        assert.equal((await s.listMembers()).length, 1);
        assert.equal((await s.lastRound(runId))!.round, 1);
        assert.ok(await s.getCheckpoint(runId, 1));
        assert.equal((await s.listPrivacyCharges('hospital-a/d')).length, 1);
        assert.equal((await s.listEvents(runId)).length, 1);
        assert.deepEqual((await s.listAudit()).map((e) => e.kind), ['round.aggregated']);
        assert.equal((await s.listPlans()).length, 1);
        assert.equal((await s.listInvitations()).length, 1);
        assert.equal((await s.listApiTokens()).length, 1);
        assert.equal((await s.listMemberResources()).length, 1);
        assert.equal((await log.verify()).ok, true);
      }));

    it('rolls every write back when the callback throws, and passes the error on', () =>
      withStore(async (s) => {
        const log = new AuditLog({ append: (e) => s.appendAudit(e), list: (o) => s.listAudit(o), count: () => s.countAudit(), last: () => s.lastAudit() }, signer);
        const boom = new Error('the operator pulled the plug');
        await assert.rejects(
          s.transaction(async (tx) => {
            await writeEverything(tx, log);
            throw boom;
          }),
          (error: unknown) => error === boom,
        );
        assert.deepEqual(await s.listMembers(), []);
        assert.deepEqual(await s.listRuns(), []);
        assert.equal(await s.countAudit(), 0);
        assert.deepEqual(await s.listPrivacyCharges(), []);
        assert.deepEqual(await s.listPlans(), []);
        assert.deepEqual(await s.listInvitations(), []);
        assert.deepEqual(await s.listApiTokens(), []);
        assert.deepEqual(await s.listMemberResources(), []);
        // The store is usable afterwards, and a later transaction commits.
        await s.transaction((tx) => writeEverything(tx, log));
        assert.equal((await s.listRuns()).length, 1);
      }));

    it('keeps a transaction usable after one of its operations is refused', () =>
      withStore(async (s) => {
        await s.transaction(async (tx) => {
          await tx.addMember({ name: 'a', publicKey: 'ka', dataset: dataset('d', 1) });
          await rejectsWith(tx.addMember({ name: 'a', publicKey: 'kb', dataset: dataset('d', 1) }), ErrorCode.CONFLICT, 'name');
          const run = await tx.createRun(runConfig('r'), smallParameters(0));
          await rejectsWith(tx.saveRound(completedRound(run.runId, 2)), ErrorCode.CONFLICT, 'round');
          await tx.saveRound(completedRound(run.runId, 1));
        });
        assert.deepEqual((await s.listMembers()).map((m) => m.name), ['a']);
        assert.equal((await s.listRuns()).length, 1);
        assert.equal((await s.lastRound((await s.listRuns())[0]!.runId))!.round, 1);
      }));

    it('neither loses nor absorbs a write made outside it while it is open', () =>
      withStore(async (s) => {
        let outside: Promise<unknown> | undefined;
        await assert.rejects(
          s.transaction(async (tx) => {
            await tx.addMember({ name: 'inside', publicKey: 'ki', dataset: dataset('d', 1) });
            outside = s.addMember({ name: 'outside', publicKey: 'ko', dataset: dataset('d', 1) });
            // Let the outside write run as far as it can before the transaction gives up.
            await new Promise((resolve) => setTimeout(resolve, 20));
            throw new Error('rolled back');
          }),
          /rolled back/,
        );
        await outside;
        assert.deepEqual((await s.listMembers()).map((m) => m.name), ['outside']);
      }));

    it('runs transactions one after another when they race for the same records', () =>
      withStore(async (s) => {
        await s.addInvitation({ codeHash: 'h', role: 'member', memberName: null, createdAt: 1, expiresAt: 2, usedAt: null, usedBy: null });
        const redeem = (who: string) =>
          s.transaction(async (tx) => {
            const used = await tx.useInvitation('h', who, 5);
            await tx.addMember({ name: who, publicKey: `k-${who}`, dataset: dataset('d', 1) });
            return used;
          });
        const results = await Promise.allSettled([redeem('first'), redeem('second')]);
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        assert.equal((lost.reason as { code?: string }).code, ErrorCode.CONFLICT);
        // Only the winner's member exists: the loser's transaction wrote nothing.
        assert.equal((await s.listMembers()).length, 1);
        assert.equal((await s.listMembers())[0]!.name, (await s.getInvitation('h'))!.usedBy);
      }));
  });
}
