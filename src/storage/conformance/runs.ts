// RunStore contract: parameters come back bit-exact in a Float32Array that owns its buffer;
// rounds are stored in order 1, 2, 3…: a repeated or skipped round is a CONFLICT whose
// details.expected is the next round, and nothing of the rejected round is written; a
// round's checkpoint, metrics, privacy charges, updates and audit entries commit together;
// metric records keep NaN and ±Infinity (a NaN loss column reads back as null);
// setRunStatus without an error clears the previous one; lists keep insertion order.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuditLog, appendEntry, verifyChain, type AuditEntry } from '../../governance/audit.js';
import { generateIdentity } from '../../governance/identity.js';
import { ErrorCode } from '../../protocol/errors.js';
import { makeParameters, type Parameters } from '../../protocol/tensors.js';
import type { MemberRoundMetrics } from '../storage.js';
import { MAX_FLOAT32, MIN_SUBNORMAL_FLOAT32, assertOwnsBuffer, bitsOf, completedRound, rejectsWith, runConfig, smallParameters, storeRunner, summaryOf, type MakeStorage } from './fixtures.js';

export function runStoreConformance(name: string, make: MakeStorage): void {
  const withStore = storeRunner(make);

  describe(`${name}: RunStore conformance`, () => {
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
  });
}
