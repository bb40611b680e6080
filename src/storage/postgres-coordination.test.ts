// What replicas rely on in PostgreSQL, against a server of its own: a run's lease is held by
// one owner at a time, renewed by it, taken over only once it expired, and checked (and
// locked) inside a round's transaction; a task is delivered once and ends once.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startPostgres, type TestPostgres } from '../../test/support/postgres.js';
import { runConfig, smallParameters } from './storage-conformance.js';
import { PostgresCoordination } from './postgres-coordination.js';
import { PostgresStorage } from './postgres.js';

let server: TestPostgres;
let storage: PostgresStorage;
let coordination: PostgresCoordination;
before(async () => {
  server = await startPostgres();
  storage = new PostgresStorage({ url: await server.createDatabase('coordination') });
  await storage.migrate();
  coordination = new PostgresCoordination(storage);
});
after(async () => {
  await storage?.close();
  await server?.stop();
});

describe('PostgresCoordination', () => {
  it('grants a run lease to one owner at a time, renews it, and hands it over only once it expired or was released', async () => {
    const run = await storage.createRun(runConfig('r'), smallParameters(0));
    assert.equal(await coordination.claimLease(run.runId, 'a', 60_000), true);
    assert.equal(await coordination.claimLease(run.runId, 'b', 60_000), false, 'held by a');
    assert.equal(await coordination.claimLease(run.runId, 'a', 60_000), true, 'renewed by a');
    assert.deepEqual((await coordination.leases()).map((l) => [l.runId, l.owner]), [[run.runId, 'a']]);
    // A lease that expires (by the database's clock) goes to whoever claims next.
    assert.equal(await coordination.claimLease(run.runId, 'a', 1), true);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await coordination.claimLease(run.runId, 'b', 60_000), true);
    assert.equal(await coordination.claimLease(run.runId, 'a', 60_000), false);
    await coordination.releaseLease(run.runId, 'a'); // not a's to release: nothing happens
    assert.equal(await coordination.claimLease(run.runId, 'a', 60_000), false);
    await coordination.releaseLease(run.runId, 'b');
    assert.equal(await coordination.claimLease(run.runId, 'a', 60_000), true);
    // Runs that ended are nobody's to drive.
    await storage.setRunStatus(run.runId, 'completed');
    await coordination.releaseLease(run.runId, 'a');
    assert.equal(await coordination.claimLease(run.runId, 'a', 60_000), false);
  });

  it('checks the lease inside a transaction and keeps a takeover waiting until it ends', async () => {
    const run = await storage.createRun(runConfig('r'), smallParameters(0));
    assert.equal(await coordination.claimLease(run.runId, 'a', 1000), true);
    let takeover: Promise<boolean> | undefined;
    await storage.transaction(async (tx) => {
      assert.equal(await coordination.holdsLease(tx as PostgresStorage, run.runId, 'a'), true);
      assert.equal(await coordination.holdsLease(tx as PostgresStorage, run.runId, 'b'), false);
      await new Promise((r) => setTimeout(r, 1100)); // the lease expires meanwhile
      takeover = coordination.claimLease(run.runId, 'b', 60_000);
      await new Promise((r) => setTimeout(r, 100));
    });
    // The claim waited for the transaction (or gave up after its lock wait and can be made again).
    assert.equal((await takeover!) || (await coordination.claimLease(run.runId, 'b', 60_000)), true);
  });

  it('delivers a task once, settles or fails it once, and voids a run\'s tasks on takeover', async () => {
    const run = await storage.createRun(runConfig('r'), smallParameters(0));
    const member = await storage.addMember({ name: 'm', publicKey: 'k', dataset: { name: 'd', numExamples: 1, numHoldout: 1, inputShape: [1], classes: 2 } });
    await coordination.issueTasks(['t1', 't2'].map((taskId) => ({ taskId, runId: run.runId, memberId: member.memberId, issuedBy: 'a', expect: '{}', frame: Buffer.from(taskId) })));
    const claims = await Promise.all([coordination.claimTask(member.memberId), coordination.claimTask(member.memberId), coordination.claimTask(member.memberId)]);
    assert.deepEqual(claims.map((c) => c?.taskId ?? 'none').sort(), ['none', 't1', 't2'], 'each task goes to one poll');
    assert.equal(await coordination.settle('t1', Buffer.from('result'), 'a'), true);
    assert.equal(await coordination.settle('t1', Buffer.from('again'), 'a'), false, 'a settled task is not settled again');
    assert.deepEqual(await coordination.failTasks({ taskIds: ['t1', 't2'] }, 'deadline'), ['t2'], 'only the open task fails');
    const outcomes = await coordination.outcomes(['t1', 't2']);
    assert.deepEqual(outcomes.map((o) => [o.taskId, o.status, o.result?.toString() ?? null, o.reason]).sort(), [['t1', 'settled', 'result', null], ['t2', 'failed', null, 'deadline']]);
    await coordination.deleteRunTasks(run.runId);
    assert.deepEqual(await coordination.outcomes(['t1', 't2']), []);
  });

  it('refuses a nonce it has seen, whichever replica asks', async () => {
    assert.equal(await coordination.rememberNonce('mem_a', 'n1', Date.now() + 60_000), true);
    assert.equal(await new PostgresCoordination(storage).rememberNonce('mem_a', 'n1', Date.now() + 60_000), false);
    assert.equal(await coordination.rememberNonce('mem_b', 'n1', Date.now() + 60_000), true, 'nonces are per member');
    await coordination.purgeNonces(Date.now() + 120_000);
    assert.equal(await coordination.rememberNonce('mem_a', 'n1', Date.now() + 60_000), true, 'forgotten once expired');
  });
});
