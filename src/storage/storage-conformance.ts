// The contract every Storage backend must meet, as node:test tests. A backend's test file
// calls storageConformance(name, make); `make` must return a fresh, empty, migrated store
// each time (the suite closes it).
//
// Beyond the interface's types, the suite fixes these behaviours:
//  - parameters come back bit-exact, in a Float32Array that owns its buffer;
//  - rounds are stored in order 1, 2, 3…: a repeated or skipped round is a CONFLICT whose
//    details.expected is the next round, and nothing of the rejected round is written;
//  - unknown member or run ids in writes are NOT_FOUND; duplicate names or keys CONFLICT;
//  - an invitation is redeemed at most once (compare-and-set), whatever the concurrency;
//  - audit entries append only as seq = last + 1 and read back exactly, in append order;
//  - metric records keep NaN and ±Infinity; a NaN loss column reads back as null;
//  - touchMember never moves lastSeenAt backwards; re-enrollment keeps a revocation;
//  - setRunStatus without an error clears the previous one;
//  - lists come back in insertion order (members, runs, events) or round order.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuditLog, appendEntry, verifyChain, type AuditEntry } from '../governance/audit.js';
import { generateIdentity } from '../governance/identity.js';
import type { InvitationRecord } from '../governance/invitations.js';
import type { ApiTokenRecord } from '../governance/roles.js';
import { ErrorCode, isConcordError } from '../protocol/errors.js';
import { RunConfigSchema, type DatasetDescriptor, type RunConfig } from '../protocol/messages.js';
import { makeParameters, type Parameters } from '../protocol/tensors.js';
import type { CompletedRound, MemberRoundMetrics, RoundSummary, Storage } from './storage.js';

const MAX_FLOAT32 = 3.4028234663852886e38;
const MIN_SUBNORMAL_FLOAT32 = 1.401298464324817e-45;

export function storageConformance(name: string, make: () => Promise<Storage>): void {
  const withStore = async (fn: (storage: Storage) => Promise<void>): Promise<void> => {
    const storage = await make();
    try {
      await fn(storage);
    } finally {
      await storage.close();
    }
  };

  describe(`${name}: Storage conformance`, () => {
    describe('members', () => {
      it('adds a member and finds it by id and name', () =>
        withStore(async (s) => {
          const before = Date.now();
          const added = await s.addMember({ name: 'hospital-a', publicKey: 'key-a', dataset: dataset('mnist-a', 600) });
          assert.equal(typeof added.memberId, 'string');
          assert.ok(added.memberId.length > 0);
          assert.equal(added.name, 'hospital-a');
          assert.equal(added.publicKey, 'key-a');
          assert.deepEqual(added.dataset, dataset('mnist-a', 600));
          assert.ok(added.enrolledAt >= before && added.enrolledAt <= Date.now());
          assert.equal(added.lastSeenAt, null);
          assert.equal(added.revoked, false);

          assert.deepEqual(await s.getMember(added.memberId), added);
          assert.deepEqual(await s.getMemberByName('hospital-a'), added);
          assert.equal(await s.getMember('mem_unknown'), undefined);
          assert.equal(await s.getMemberByName('hospital-z'), undefined);
        }));

      it('lists members in enrollment order with distinct ids', () =>
        withStore(async (s) => {
          const a = await s.addMember({ name: 'a', publicKey: 'ka', dataset: dataset('d', 1) });
          const b = await s.addMember({ name: 'b', publicKey: 'kb', dataset: dataset('d', 2) });
          const c = await s.addMember({ name: 'c', publicKey: 'kc', dataset: dataset('d', 3) });
          assert.equal(new Set([a.memberId, b.memberId, c.memberId]).size, 3);
          assert.deepEqual(await s.listMembers(), [a, b, c]);
        }));

      it('rejects a duplicate name or public key as CONFLICT and stores nothing', () =>
        withStore(async (s) => {
          const a = await s.addMember({ name: 'lab', publicKey: 'k1', dataset: dataset('d', 1) });
          await rejectsWith(s.addMember({ name: 'lab', publicKey: 'k2', dataset: dataset('d', 1) }), ErrorCode.CONFLICT, 'name');
          await rejectsWith(s.addMember({ name: 'other', publicKey: 'k1', dataset: dataset('d', 1) }), ErrorCode.CONFLICT, 'publicKey');
          assert.deepEqual(await s.listMembers(), [a]);
        }));

      it('touch records the latest time seen and never moves it back', () =>
        withStore(async (s) => {
          const m = await s.addMember({ name: 'a', publicKey: 'k', dataset: dataset('d', 1) });
          await s.touchMember(m.memberId, 1_700_000_000_000);
          assert.equal((await s.getMember(m.memberId))!.lastSeenAt, 1_700_000_000_000);
          await s.touchMember(m.memberId, 1_700_000_005_000);
          assert.equal((await s.getMember(m.memberId))!.lastSeenAt, 1_700_000_005_000);
          await s.touchMember(m.memberId, 1_700_000_001_000);
          assert.equal((await s.getMember(m.memberId))!.lastSeenAt, 1_700_000_005_000);
          await rejectsWith(s.touchMember('mem_unknown', 1), ErrorCode.NOT_FOUND, 'memberId');
        }));

      it('revokes a member, which stays findable with its key', () =>
        withStore(async (s) => {
          const m = await s.addMember({ name: 'a', publicKey: 'k', dataset: dataset('d', 1) });
          const other = await s.addMember({ name: 'b', publicKey: 'kb', dataset: dataset('d', 1) });
          await s.revokeMember(m.memberId);
          await s.revokeMember(m.memberId);
          assert.deepEqual(await s.getMember(m.memberId), { ...m, revoked: true });
          assert.equal((await s.getMember(other.memberId))!.revoked, false);
          await rejectsWith(s.revokeMember('mem_unknown'), ErrorCode.NOT_FOUND, 'memberId');
        }));

      it('replaces a key and descriptor, keeping the id, enrollment time and revocation', () =>
        withStore(async (s) => {
          const m = await s.addMember({ name: 'a', publicKey: 'old', dataset: dataset('d', 10) });
          await s.addMember({ name: 'b', publicKey: 'taken', dataset: dataset('d', 1) });
          await s.revokeMember(m.memberId);
          const replaced = await s.replaceMemberKey(m.memberId, 'new', dataset('d2', 20));
          assert.deepEqual(replaced, { ...m, publicKey: 'new', dataset: dataset('d2', 20), revoked: true });
          // Presenting the same key again is allowed.
          assert.deepEqual(await s.replaceMemberKey(m.memberId, 'new', dataset('d2', 20)), replaced);
          await rejectsWith(s.replaceMemberKey(m.memberId, 'taken', dataset('d', 1)), ErrorCode.CONFLICT, 'publicKey');
          await rejectsWith(s.replaceMemberKey('mem_unknown', 'x', dataset('d', 1)), ErrorCode.NOT_FOUND, 'memberId');
          assert.deepEqual(await s.getMember(m.memberId), replaced);
        }));
    });

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

    describe('audit log', () => {
      const signer = generateIdentity();
      const chain = (n: number): AuditEntry[] => {
        const entries: AuditEntry[] = [];
        for (let i = 0; i < n; i++) {
          entries.push(appendEntry(entries.at(-1), { at: 1_700_000_000_000 + i, actor: 'coordinator', kind: 'test.entry', subject: `s${i + 1}`, data: { i, nested: { x: [1, 0.5, 'é'] } } }, signer));
        }
        return entries;
      };

      it('appends entries in seq order and reads them back exactly', () =>
        withStore(async (s) => {
          const entries = chain(3);
          assert.equal(await s.countAudit(), 0);
          assert.equal(await s.lastAudit(), undefined);
          for (const e of entries) await s.appendAudit(e);
          assert.equal(await s.countAudit(), 3);
          assert.deepEqual(await s.listAudit(), entries);
          assert.deepEqual(await s.listAudit({ fromSeq: 2 }), entries.slice(1));
          assert.deepEqual(await s.listAudit({ fromSeq: 1, limit: 2 }), entries.slice(0, 2));
          assert.deepEqual(await s.lastAudit(), entries[2]);
          assert.deepEqual(verifyChain(await s.listAudit(), signer.publicKey), { ok: true, count: 3, head: { seq: 3, hash: entries[2]!.hash } });
        }));

      it('refuses an entry that does not follow the last one as CONFLICT', () =>
        withStore(async (s) => {
          const entries = chain(3);
          await rejectsWith(s.appendAudit(entries[1]!), ErrorCode.CONFLICT, 'seq');
          await s.appendAudit(entries[0]!);
          await rejectsWith(s.appendAudit(entries[0]!), ErrorCode.CONFLICT, 'seq');
          await rejectsWith(s.appendAudit(entries[2]!), ErrorCode.CONFLICT, 'seq');
          assert.equal(await s.countAudit(), 1);
        }));

      it('serves as the AuditLog store: concurrent records form one valid chain', () =>
        withStore(async (s) => {
          const log = new AuditLog({ append: (e) => s.appendAudit(e), list: (o) => s.listAudit(o), count: () => s.countAudit(), last: () => s.lastAudit() }, signer);
          await Promise.all(Array.from({ length: 5 }, (_, i) => log.record({ actor: 'coordinator', kind: 'test.concurrent', subject: String(i) })));
          const verified = await log.verify();
          assert.equal(verified.ok, true);
          assert.deepEqual((await s.listAudit()).map((e) => e.seq), [1, 2, 3, 4, 5]);
        }));
    });

    describe('runs', () => {
      it('creates a pending run and reads it back', () =>
        withStore(async (s) => {
          const before = Date.now();
          const run = await s.createRun(runConfig('first'), smallParameters(0));
          assert.equal(typeof run.runId, 'string');
          assert.ok(run.runId.length > 0);
          assert.deepEqual(run.config, runConfig('first'));
          assert.equal(run.status, 'pending');
          assert.equal(run.error, null);
          assert.ok(run.createdAt >= before && run.createdAt <= Date.now());
          assert.equal(run.updatedAt, run.createdAt);
          assert.deepEqual(await s.getRun(run.runId), run);
          assert.equal(await s.getRun('run_unknown'), undefined);
        }));

      it('lists runs in creation order', () =>
        withStore(async (s) => {
          const a = await s.createRun(runConfig('a'), smallParameters(0));
          const b = await s.createRun(runConfig('b'), smallParameters(0));
          const c = await s.createRun(runConfig('c'), smallParameters(0));
          assert.deepEqual(await s.listRuns(), [a, b, c]);
        }));

      it('sets the status and error, and clears the error when none is given', () =>
        withStore(async (s) => {
          const run = await s.createRun(runConfig('r'), smallParameters(0));
          await s.setRunStatus(run.runId, 'running');
          let now = (await s.getRun(run.runId))!;
          assert.equal(now.status, 'running');
          assert.equal(now.error, null);
          assert.ok(now.updatedAt >= run.createdAt);
          await s.setRunStatus(run.runId, 'failed', 'round 3 failed 5 times');
          now = (await s.getRun(run.runId))!;
          assert.equal(now.status, 'failed');
          assert.equal(now.error, 'round 3 failed 5 times');
          await s.setRunStatus(run.runId, 'running');
          assert.equal((await s.getRun(run.runId))!.error, null);
          await s.setRunStatus(run.runId, 'completed', null);
          assert.equal((await s.getRun(run.runId))!.status, 'completed');
          await rejectsWith(s.setRunStatus('run_unknown', 'running'), ErrorCode.NOT_FOUND, 'runId');
          await rejectsWith(s.setRunStatus(run.runId, 'paused' as never), ErrorCode.INVALID_ARGUMENT, 'status');
          assert.equal((await s.getRun(run.runId))!.status, 'completed');
        }));

      it('keeps initial parameters bit-exact, in a Float32Array that owns its buffer', () =>
        withStore(async (s) => {
          const values = [-0, 1e-38, MAX_FLOAT32, -MAX_FLOAT32, MIN_SUBNORMAL_FLOAT32, 1, -1, 0.1, 123456.789, -2.5];
          // Handed in as a view at an offset of a larger buffer, as a frame decoder would.
          const backing = new Float32Array(values.length + 3);
          backing.set(values, 2);
          const initial = makeParameters(
            [
              { name: 'dense/kernel', shape: [2, 3] },
              { name: 'dense/bias', shape: [3] },
              { name: 'scale', shape: [] },
            ],
            backing.subarray(2, 2 + values.length),
          );
          const run = await s.createRun(runConfig('bits'), initial);
          backing.fill(7); // the store must have copied what it was given
          const back = (await s.getInitialParameters(run.runId))!;
          assert.deepEqual(back.specs, initial.specs);
          assertOwnsBuffer(back.data, values.length);
          const b = bitsOf(back.data);
          assert.deepEqual(b, bitsOf(new Float32Array(values)));
          assert.equal(b[0], 0x80000000); // -0 keeps its sign
          assert.equal(b[1], 0x006ce3ee); // 1e-38 is subnormal in float32
          assert.equal(b[2], 0x7f7fffff);
          assert.equal(b[3], 0xff7fffff);
          assert.equal(b[4], 0x00000001);
          assert.equal(await s.getInitialParameters('run_unknown'), undefined);
        }));

      it('keeps parameters with no tensors', () =>
        withStore(async (s) => {
          const run = await s.createRun(runConfig('empty'), makeParameters([]));
          const back = (await s.getInitialParameters(run.runId))!;
          assert.deepEqual(back.specs, []);
          assert.ok(back.data instanceof Float32Array);
          assert.equal(back.data.length, 0);
        }));

      it('refuses parameters whose data does not match the manifest', () =>
        withStore(async (s) => {
          const bad: Parameters = { specs: [{ name: 'w', shape: [2, 2] }], data: new Float32Array(3) };
          await rejectsWith(s.createRun(runConfig('bad'), bad), ErrorCode.SHAPE_MISMATCH, 'initial.data');
          assert.deepEqual(await s.listRuns(), []);
        }));
    });

    describe('rounds', () => {
      it('round-trips rounds, checkpoints and member metrics', () =>
        withStore(async (s) => {
          const run = await s.createRun(runConfig('r'), smallParameters(0));
          assert.equal(await s.lastRound(run.runId), undefined);
          assert.deepEqual(await s.listRounds(run.runId), []);
          assert.deepEqual(await s.listMemberMetrics(run.runId), []);

          const r1 = completedRound(run.runId, 1, { strategyState: null });
          const r2 = completedRound(run.runId, 2, { strategyState: smallParameters(0.5), serverEval: null, evalLoss: null });
          await s.saveRound(r1);
          await s.saveRound(r2);

          assert.deepEqual(await s.listRounds(run.runId), [summaryOf(r1), summaryOf(r2)]);
          assert.deepEqual(await s.lastRound(run.runId), summaryOf(r2));

          const cp1 = (await s.getCheckpoint(run.runId, 1))!;
          assert.deepEqual(cp1.parameters.specs, r1.parameters.specs);
          assert.deepEqual(bitsOf(cp1.parameters.data), bitsOf(r1.parameters.data));
          assertOwnsBuffer(cp1.parameters.data, r1.parameters.data.length);
          assert.equal(cp1.strategyState, null);
          const cp2 = (await s.getCheckpoint(run.runId, 2))!;
          assert.deepEqual(bitsOf(cp2.parameters.data), bitsOf(r2.parameters.data));
          assert.deepEqual(cp2.strategyState!.specs, r2.strategyState!.specs);
          assert.deepEqual(bitsOf(cp2.strategyState!.data), bitsOf(r2.strategyState!.data));
          assert.equal(await s.getCheckpoint(run.runId, 3), undefined);
          assert.equal(await s.getCheckpoint('run_unknown', 1), undefined);

          const all = await s.listMemberMetrics(run.runId);
          assert.deepEqual(all, [...r1.members.map((m) => ({ ...m, round: 1 })), ...r2.members.map((m) => ({ ...m, round: 2 }))]);
          assert.deepEqual(await s.listMemberMetrics(run.runId, 2), r2.members.map((m) => ({ ...m, round: 2 })));
          assert.deepEqual(await s.listMemberMetrics(run.runId, 9), []);
        }));

      it('stores privacy charges with their round, and refuses them with a refused round', () =>
        withStore(async (s) => {
          const a = await s.createRun(runConfig('a'), smallParameters(0));
          const b = await s.createRun(runConfig('b'), smallParameters(0));
          const charge = (datasetId: string, z: number) => ({ memberId: 'mem_1', datasetId, samplingRate: 0.5, noiseMultiplier: z, steps: 3 });
          await s.saveRound(completedRound(a.runId, 1, { privacyCharges: [charge('h/x', 1.1), charge('h/y', 1.2)] }));
          await s.saveRound(completedRound(b.runId, 1, { privacyCharges: [charge('h/x', 1.3)] }));
          await rejectsWith(s.saveRound(completedRound(b.runId, 1, { privacyCharges: [charge('h/x', 9)] })), ErrorCode.CONFLICT, 'round');
          assert.deepEqual(await s.listPrivacyCharges('h/x'), [
            { runId: a.runId, round: 1, ...charge('h/x', 1.1) },
            { runId: b.runId, round: 1, ...charge('h/x', 1.3) },
          ]);
          assert.equal((await s.listPrivacyCharges()).length, 3);
          assert.deepEqual(await s.listPrivacyCharges('nobody'), []);
        }));

      it('keeps members\' updates with their round, bit-exact and in order, and none with a refused round', () =>
        withStore(async (s) => {
          const run = await s.createRun(runConfig('a'), smallParameters(0));
          const updates = [
            { memberId: 'mem_b', numExamples: 200, parameters: smallParameters(MAX_FLOAT32 / 2) },
            { memberId: 'mem_a', numExamples: 100, parameters: smallParameters(-3.25) },
          ];
          await s.saveRound(completedRound(run.runId, 1, { updates }));
          await s.saveRound(completedRound(run.runId, 2));
          await rejectsWith(s.saveRound(completedRound(run.runId, 2, { updates })), ErrorCode.CONFLICT, 'round');
          const stored = await s.listMemberUpdates(run.runId, 1);
          assert.deepEqual(stored.map((u) => [u.memberId, u.numExamples]), [['mem_b', 200], ['mem_a', 100]]);
          stored.forEach((u, i) => {
            assert.deepEqual(u.parameters.specs, updates[i]!.parameters.specs);
            assert.deepEqual(bitsOf(u.parameters.data), bitsOf(updates[i]!.parameters.data));
            assertOwnsBuffer(u.parameters.data, 9);
          });
          assert.deepEqual(await s.listMemberUpdates(run.runId, 2), []);
          assert.deepEqual(await s.listMemberUpdates('run_unknown', 1), []);
          // The rounds listing stays free of the updates' weight.
          assert.equal('updates' in (await s.listRounds(run.runId))[0]!, false);
        }));

      it('keeps rounds of different runs apart', () =>
        withStore(async (s) => {
          const a = await s.createRun(runConfig('a'), smallParameters(0));
          const b = await s.createRun(runConfig('b'), smallParameters(0));
          await s.saveRound(completedRound(a.runId, 1));
          await s.saveRound(completedRound(a.runId, 2));
          await s.saveRound(completedRound(b.runId, 1));
          assert.equal((await s.lastRound(a.runId))!.round, 2);
          assert.equal((await s.lastRound(b.runId))!.round, 1);
          assert.deepEqual(
            (await s.listMemberMetrics(b.runId)).map((m) => m.round),
            completedRound(b.runId, 1).members.map(() => 1),
          );
        }));

      it('keeps NaN and ±Infinity in metrics and stores a NaN loss as null', () =>
        withStore(async (s) => {
          const run = await s.createRun(runConfig('r'), smallParameters(0));
          const member: MemberRoundMetrics = {
            memberId: 'mem_x',
            phase: 'train',
            numExamples: 5,
            loss: Number.NaN,
            metrics: { loss: Number.NaN, gradNorm: Number.POSITIVE_INFINITY },
            bytesIn: 1,
            bytesOut: 2,
            seconds: 0.25,
          };
          await s.saveRound(
            completedRound(run.runId, 1, {
              trainMetrics: { loss: Number.POSITIVE_INFINITY, accuracy: Number.NaN, floor: Number.NEGATIVE_INFINITY },
              evalLoss: Number.NaN,
              serverEval: { loss: Number.POSITIVE_INFINITY, metrics: { accuracy: 0.5 } },
              members: [member],
            }),
          );
          const round = (await s.lastRound(run.runId))!;
          assert.deepEqual(round.trainMetrics, { loss: Number.POSITIVE_INFINITY, accuracy: Number.NaN, floor: Number.NEGATIVE_INFINITY });
          assert.equal(round.evalLoss, null);
          assert.deepEqual(round.serverEval, { loss: Number.POSITIVE_INFINITY, metrics: { accuracy: 0.5 } });
          assert.deepEqual(await s.listMemberMetrics(run.runId), [{ ...member, loss: null, round: 1 }]);
        }));

      it("commits a round's audit entries in the round's transaction, and neither without the other", () =>
        withStore(async (s) => {
          const identity = generateIdentity();
          const log = new AuditLog({ append: (e) => s.appendAudit(e), list: (o) => s.listAudit(o), count: () => s.countAudit(), last: () => s.lastAudit() }, identity);
          await log.record({ actor: 'operator', kind: 'run.started', subject: 'r' });
          const run = await s.createRun(runConfig('r'), smallParameters(0));
          const entries = log.following([
            { actor: 'coordinator', kind: 'round.aggregated', subject: run.runId, data: { round: 1 } },
            { actor: 'coordinator', kind: 'privacy.charged', subject: run.runId, data: { round: 1 } },
          ]);
          await s.saveRound(completedRound(run.runId, 1), entries);
          const stored = await s.listAudit();
          assert.deepEqual(stored.map((e) => [e.seq, e.kind]), [[1, 'run.started'], [2, 'round.aggregated'], [3, 'privacy.charged']]);
          assert.equal(verifyChain(stored, identity.publicKey).ok, true);

          // An audit entry that cannot be stored (here: it does not follow the log) leaves the round unstored too.
          const stale = (): AuditEntry[] => [appendEntry(undefined, { actor: 'coordinator', kind: 'round.aggregated', subject: run.runId }, identity)];
          await rejectsWith(s.saveRound(completedRound(run.runId, 2), stale), ErrorCode.CONFLICT, 'seq');
          assert.equal((await s.lastRound(run.runId))!.round, 1);
          assert.equal(await s.countAudit(), 3);
          // A builder that throws does the same.
          await assert.rejects(s.saveRound(completedRound(run.runId, 2), () => { throw new Error('signing failed'); }), /signing failed/);
          assert.equal((await s.lastRound(run.runId))!.round, 1);
        }));

      it('rejects a round stored twice as CONFLICT and leaves the store unchanged', () =>
        withStore(async (s) => {
          const run = await s.createRun(runConfig('r'), smallParameters(0));
          const first = completedRound(run.runId, 1);
          await s.saveRound(first);
          const again = completedRound(run.runId, 1, {
            parameters: smallParameters(99),
            strategyState: smallParameters(98),
            trainMetrics: { loss: 0 },
            attempts: 4,
            members: [...first.members, ...first.members],
          });
          const error = await rejectsWith(s.saveRound(again), ErrorCode.CONFLICT, 'round');
          assert.equal(error.details.expected, 2);
          assert.equal(error.details.received, 1);

          assert.deepEqual(await s.listRounds(run.runId), [summaryOf(first)]);
          const cp = (await s.getCheckpoint(run.runId, 1))!;
          assert.deepEqual(bitsOf(cp.parameters.data), bitsOf(first.parameters.data));
          assert.equal(cp.strategyState, null);
          assert.deepEqual(await s.listMemberMetrics(run.runId), first.members.map((m) => ({ ...m, round: 1 })));
        }));

      it('rejects a round that skips ahead, naming the round expected', () =>
        withStore(async (s) => {
          const run = await s.createRun(runConfig('r'), smallParameters(0));
          let error = await rejectsWith(s.saveRound(completedRound(run.runId, 2)), ErrorCode.CONFLICT, 'round');
          assert.equal(error.details.expected, 1);
          assert.match(error.message, /round 1/);
          assert.equal(await s.lastRound(run.runId), undefined);
          assert.equal(await s.getCheckpoint(run.runId, 2), undefined);
          assert.deepEqual(await s.listMemberMetrics(run.runId), []);

          await s.saveRound(completedRound(run.runId, 1));
          error = await rejectsWith(s.saveRound(completedRound(run.runId, 3)), ErrorCode.CONFLICT, 'round');
          assert.equal(error.details.expected, 2);
          assert.equal(error.details.received, 3);
          assert.deepEqual((await s.listRounds(run.runId)).map((r) => r.round), [1]);
          await s.saveRound(completedRound(run.runId, 2));
          assert.equal((await s.lastRound(run.runId))!.round, 2);
        }));

      it('rejects invalid rounds, unknown runs and mismatched parameters without writing', () =>
        withStore(async (s) => {
          const run = await s.createRun(runConfig('r'), smallParameters(0));
          await rejectsWith(s.saveRound(completedRound(run.runId, 0)), ErrorCode.INVALID_ARGUMENT, 'round');
          await rejectsWith(s.saveRound(completedRound(run.runId, 1.5)), ErrorCode.INVALID_ARGUMENT, 'round');
          await rejectsWith(s.saveRound(completedRound('run_unknown', 1)), ErrorCode.NOT_FOUND, 'runId');
          const badState: Parameters = { specs: [{ name: 'm', shape: [4] }], data: new Float32Array(2) };
          await rejectsWith(s.saveRound(completedRound(run.runId, 1, { strategyState: badState })), ErrorCode.SHAPE_MISMATCH, 'strategyState.data');
          assert.deepEqual(await s.listRounds(run.runId), []);
          assert.deepEqual(await s.listMemberMetrics(run.runId), []);
          await s.saveRound(completedRound(run.runId, 1));
        }));
    });

    describe('declared resources', () => {
      it("keeps each member's latest declaration, in first-declared order", () =>
        withStore(async (s) => {
          const a = await s.addMember({ name: 'a', publicKey: 'ka', dataset: dataset('d', 1) });
          const b = await s.addMember({ name: 'b', publicKey: 'kb', dataset: dataset('d', 2) });
          await s.setMemberResources(b.memberId, { capacity: 200, efficiency: 0.6 });
          await s.setMemberResources(a.memberId, { capacity: 100, efficiency: 0.8 });
          await s.setMemberResources(b.memberId, { capacity: 250, efficiency: 0.6 });
          const list = await s.listMemberResources();
          assert.deepEqual(list.map((r) => [r.memberId, r.declaration]), [[b.memberId, { capacity: 250, efficiency: 0.6 }], [a.memberId, { capacity: 100, efficiency: 0.8 }]]);
          await rejectsWith(s.setMemberResources('mem_nobody', { capacity: 1, efficiency: 1 }), ErrorCode.NOT_FOUND, 'memberId');
        }));
    });

    describe('events', () => {
      it('lists a run’s events in the order they were added', () =>
        withStore(async (s) => {
          const run = await s.createRun(runConfig('r'), smallParameters(0));
          const other = await s.createRun(runConfig('o'), smallParameters(0));
          const events = [
            { runId: run.runId, round: null, kind: 'run-started', message: 'starting', at: 1000 },
            { runId: run.runId, round: 1, kind: 'round-completed', message: 'round 1: 2 members reported', at: 2000 },
            { runId: other.runId, round: null, kind: 'run-started', message: 'other', at: 1500 },
            // An earlier timestamp still lists after: order is the order of addition.
            { runId: run.runId, round: 1, kind: 'round-retry', message: 'retry', at: 1999 },
          ];
          for (const e of events) await s.addEvent(e);
          assert.deepEqual(await s.listEvents(run.runId), [events[0], events[1], events[3]]);
          assert.deepEqual(await s.listEvents(other.runId), [events[2]]);
          assert.deepEqual(await s.listEvents('run_unknown'), []);
          await rejectsWith(s.addEvent({ runId: 'run_unknown', round: null, kind: 'x', message: 'x', at: 1 }), ErrorCode.NOT_FOUND, 'runId');
        }));
    });

    describe('migrations', () => {
      it('migrate is idempotent and keeps data', () =>
        withStore(async (s) => {
          const m = await s.addMember({ name: 'a', publicKey: 'k', dataset: dataset('d', 1) });
          const run = await s.createRun(runConfig('r'), smallParameters(0));
          await s.saveRound(completedRound(run.runId, 1));
          await s.migrate();
          await s.migrate();
          assert.deepEqual(await s.listMembers(), [m]);
          assert.deepEqual(await s.listRuns(), [run]);
          assert.equal((await s.lastRound(run.runId))!.round, 1);
        }));
    });
  });
}

// ---- fixtures ----

export function dataset(name: string, numExamples: number): DatasetDescriptor {
  return { name, numExamples, numHoldout: Math.floor(numExamples / 10), inputShape: [28, 28], classes: 10 };
}

export function runConfig(name: string): RunConfig {
  return RunConfigSchema.parse({
    name,
    model: { family: 'mlp', inputShape: [4], hidden: [3], classes: 2 },
    strategy: { name: 'fedadam', options: { eta: 0.01, beta1: 0.9 } },
    rounds: 3,
  });
}

/** Two tensors (a 2×3 kernel and a bias of 3) whose values all differ, offset by `base`. */
export function smallParameters(base: number): Parameters {
  const specs = [
    { name: 'dense/kernel', shape: [2, 3] },
    { name: 'dense/bias', shape: [3] },
  ];
  return makeParameters(specs, Float32Array.from({ length: 9 }, (_, i) => base + i / 8 - 0.5));
}

export function completedRound(runId: string, round: number, overrides: Partial<CompletedRound> = {}): CompletedRound {
  return {
    runId,
    round,
    parameters: smallParameters(round),
    strategyState: null,
    trainMetrics: { loss: 1 / round, accuracy: 0.5 + round / 100 },
    evalLoss: 0.75 / round,
    evalMetrics: { accuracy: 0.6 },
    serverEval: { loss: 0.7, metrics: { accuracy: 0.61 } },
    participants: ['mem_a', 'mem_b'],
    failures: [{ memberId: 'mem_c', reason: 'deadline passed' }],
    members: [
      { memberId: 'mem_b', phase: 'train', numExamples: 200, loss: 0.9, metrics: { loss: 0.9, accuracy: 0.7 }, bytesIn: 1024, bytesOut: 2048, seconds: 1.5 },
      { memberId: 'mem_a', phase: 'train', numExamples: 100, loss: null, metrics: {}, bytesIn: 1024, bytesOut: 2048, seconds: 0.75 },
      { memberId: 'mem_a', phase: 'evaluate', numExamples: 10, loss: 0.8, metrics: { loss: 0.8, accuracy: 0.65 }, bytesIn: 1024, bytesOut: 64, seconds: 0.125 },
    ],
    attempts: 1,
    startedAt: 1_700_000_000_000 + round * 1000,
    completedAt: 1_700_000_000_500 + round * 1000,
    ...overrides,
  };
}

export function summaryOf(round: CompletedRound): RoundSummary {
  const { parameters: _p, strategyState: _s, members: _m, privacyCharges: _c, updates: _u, ...summary } = round;
  return summary;
}

export function bitsOf(data: Float32Array): number[] {
  return Array.from(new Uint32Array(data.buffer, data.byteOffset, data.length));
}

function assertOwnsBuffer(data: Float32Array, length: number): void {
  assert.ok(data instanceof Float32Array);
  assert.equal(data.length, length);
  assert.equal(data.byteOffset, 0);
  assert.equal(data.buffer.byteLength, length * 4);
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, field: string) {
  try {
    await promise;
  } catch (error) {
    assert.ok(isConcordError(error), `expected a ConcordError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.details.field, field, error.message);
    return error;
  }
  assert.fail(`expected ${code} on field ${field}, but the call succeeded`);
}
