// Coordinator replicas with failover, as real processes: three `concord coordinator`
// processes on one PostgreSQL database behind a load balancer, three member nodes training
// on real MNIST shards through it (so each member's polls and results reach any replica).
// The replica holding the run's lease is killed with SIGKILL in the middle of a round:
// another one must take the run over (the time is measured and reported), no completed
// round may be lost or repeated, and the audit log must stay one chain that verifies. Then
// the new owner is stopped with SIGTERM: it hands the run over at once (its lease is
// released), and the last replica finishes the run.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { loadOrCreateIdentity } from '../src/governance/identity.js';
import { concord, concordRun, exited, freePort, lastJson, processScope, until, waitForEvent } from './support/processes.js';
import { startLoadBalancer, type LoadBalancer } from './support/load-balancer.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

const TOKEN = 'op-replicas';
const ROUNDS = 8;
const LEASE_SECONDS = 5;
const { children, tempDir } = processScope();
let server: TestPostgres;
let balancer: LoadBalancer | undefined;
let db: pg.Client;

before(async () => {
  server = await startPostgres();
});
after(async () => {
  await balancer?.close();
  await db?.end().catch(() => undefined);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(children.map((c) => exited(c)));
  await server?.stop();
});

async function api<T>(url: string, path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(url + path, { ...init, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

const one = async <T extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<T | undefined> => (await db.query<T>(text, params)).rows[0];

it('survives SIGKILL of the replica driving a run: another takes over, no round lost or repeated, one audit chain', { timeout: 420_000 }, async (t) => {
  const dir = await tempDir('concord-replicas-');
  const url = await server.createDatabase('replicas');
  db = new pg.Client({ connectionString: url });
  await db.connect();
  const identityFile = join(dir, 'coordinator.identity.json');
  const { identity } = await loadOrCreateIdentity(identityFile);

  // Three replicas start together (they migrate one after another) and share one audit key.
  const replicas = new Map<string, { child: ChildProcess; port: number }>();
  const ports = [await freePort(), await freePort(), await freePort()];
  await Promise.all(
    ports.map(async (port) => {
      const child = concord(['coordinator', '--db', url, '--identity', identityFile, '--operator-token', TOKEN, '--port', String(port), '--lease-seconds', String(LEASE_SECONDS), '--json']);
      children.push(child);
      const listening = await waitForEvent(child, 'listening', 90_000);
      assert.equal(listening.publicKey, identity.publicKey);
      replicas.set(String(listening.replica), { child, port });
    }),
  );
  balancer = await startLoadBalancer(ports.map((port) => ({ host: '127.0.0.1', port })));

  for (let i = 0; i < 3; i++) {
    const data = `mnist:member=${i},members=3,partition=iid,seed=11,test=1000`;
    children.push(concord(['node', '--coordinator', balancer.url, '--name', `org-${i}`, '--data', data, '--state-dir', join(dir, 'nodes')]));
  }
  // Every replica sees them online: who is online is shared state.
  for (const port of ports) {
    await until(async () => (await api<{ members: { online: boolean }[] }>(`http://127.0.0.1:${port}`, '/v1/members')).members.filter((m) => m.online).length === 3, 120_000, `three members online at replica :${port}`);
  }

  const config = {
    name: 'failover',
    model: { family: 'mlp', inputShape: [784], hidden: [16], classes: 10 },
    rounds: ROUNDS,
    minAvailableMembers: 3,
    minTrainMembers: 3,
    train: { epochs: 1, batchSize: 64, learningRate: 0.05 },
    roundDeadlineSeconds: 90,
    maxRoundAttempts: 10,
  };
  const { runId } = await api<{ runId: string }>(balancer.url, '/v1/runs', { method: 'POST', body: JSON.stringify(config) });

  // Mid-round: two rounds committed and tasks of the third out with members.
  await until(async () => {
    const done = await one<{ n: number }>('SELECT COUNT(*)::int AS n FROM rounds WHERE run_id = $1', [runId]);
    const out = await one<{ n: number }>("SELECT COUNT(*)::int AS n FROM tasks WHERE run_id = $1 AND status = 'delivered'", [runId]);
    return done!.n >= 2 && out!.n > 0;
  }, 240_000, 'two rounds and tasks of the next one delivered');
  const lease = (await one<{ owner: string }>('SELECT owner FROM run_leases WHERE run_id = $1', [runId]))!;
  const victim = replicas.get(lease.owner);
  assert.ok(victim, `the lease holder ${lease.owner} is one of the replicas`);
  const checkpoints = async (upTo: number) => (await db.query<{ round: number; data: Buffer }>('SELECT round, data FROM checkpoints WHERE run_id = $1 AND round <= $2 ORDER BY round', [runId, upTo])).rows.map((r) => [r.round, sha256(r.data)]);
  victim.child.kill('SIGKILL');
  const killedAt = Date.now();
  await exited(victim.child);
  const committed = (await db.query<{ round: number; completed_at: number }>('SELECT round, completed_at FROM rounds WHERE run_id = $1 ORDER BY round', [runId])).rows.map((r) => ({ round: Number(r.round), completedAt: Number(r.completed_at) }));
  const k = committed.length;
  const before = await checkpoints(k);

  // Another replica takes the lease once it expires, and goes on from round k + 1.
  const successor = await until(async () => {
    const now = await one<{ owner: string }>('SELECT owner FROM run_leases WHERE run_id = $1', [runId]);
    return now && now.owner !== lease.owner ? now.owner : undefined;
  }, 120_000, 'another replica to take the run over');
  const takenOverAfter = Date.now() - killedAt;
  await until(async () => (await one<{ n: number }>('SELECT COUNT(*)::int AS n FROM rounds WHERE run_id = $1', [runId]))!.n > k, 240_000, `round ${k + 1} after the takeover`);
  const nextRoundAfter = Date.now() - killedAt;
  t.diagnostic(`SIGKILL of the owner: lease taken over after ${(takenOverAfter / 1000).toFixed(1)} s (lease ${LEASE_SECONDS} s), round ${k + 1} committed ${(nextRoundAfter / 1000).toFixed(1)} s after the kill`);

  // Graceful hand-over: SIGTERM to the new owner releases its lease; the last replica goes on.
  const second = replicas.get(successor)!;
  await until(async () => (await one<{ n: number }>('SELECT COUNT(*)::int AS n FROM rounds WHERE run_id = $1', [runId]))!.n > k + 1, 240_000, `round ${k + 2}`);
  second.child.kill('SIGTERM');
  const termAt = Date.now();
  assert.equal(await exited(second.child), 0, 'a replica stopped with SIGTERM exits cleanly');
  const third = await until(async () => {
    const now = await one<{ owner: string }>('SELECT owner FROM run_leases WHERE run_id = $1', [runId]);
    return now && now.owner !== successor && now.owner !== lease.owner ? now.owner : undefined;
  }, 120_000, 'the last replica to take the run over');
  t.diagnostic(`SIGTERM of the owner: run handed over after ${((Date.now() - termAt) / 1000).toFixed(1)} s`);
  const last = replicas.get(third)!;
  const lastUrl = `http://127.0.0.1:${last.port}`;

  const final = await until(async () => {
    const body = await api<{ run: { status: string }; rounds: { round: number; completedAt: number; participants: string[] }[] }>(lastUrl, `/v1/runs/${runId}`);
    return body.run.status === 'completed' ? body : undefined;
  }, 300_000, 'the run to complete');
  assert.deepEqual(final.rounds.map((r) => r.round), Array.from({ length: ROUNDS }, (_, i) => i + 1), 'every round exactly once');
  for (const c of committed) assert.equal(final.rounds[c.round - 1]!.completedAt, c.completedAt, `round ${c.round}, committed before the kill, was not redone`);
  assert.deepEqual(await checkpoints(k), before, 'checkpoints committed before the kill are unchanged');
  for (const r of final.rounds) assert.equal(r.participants.length, 3, `round ${r.round}: all three members took part`);

  // One chain, one entry per round, verified offline and by the surviving replica.
  const rounds = (await db.query<{ data: string }>("SELECT data FROM audit_log WHERE kind = 'round.aggregated' AND subject = $1 ORDER BY seq", [runId])).rows.map((r) => (JSON.parse(r.data) as { round: number }).round);
  assert.deepEqual(rounds, Array.from({ length: ROUNDS }, (_, i) => i + 1), 'each round is in the audit log exactly once, in order');
  const offline = await concordRun(['audit', 'verify', '--db', url, '--public-key', identity.publicKey, '--json']);
  assert.equal(offline.code, 0, offline.stdout + offline.stderr);
  const online = await concordRun(['audit', 'verify', '--coordinator', lastUrl, '--token', TOKEN, '--public-key', identity.publicKey, '--json']);
  assert.equal(online.code, 0, online.stdout);
  assert.equal((lastJson(online.stdout) as { count: number }).count, (lastJson(offline.stdout) as { count: number }).count);
  const { events } = await api<{ events: { kind: string; message: string }[] }>(lastUrl, `/v1/runs/${runId}/events`);
  assert.ok(events.some((e) => e.kind === 'resumed' && e.message === `resuming after round ${k} of ${ROUNDS}`), 'the successor resumed after the last committed round');
  // Nothing of the run is left on the task board.
  assert.equal((await one<{ n: number }>('SELECT COUNT(*)::int AS n FROM tasks WHERE run_id = $1', [runId]))!.n, 0);
  // Safety net only (the stated bound is lease + renew interval, about 6 s): a takeover that never came would have timed out above.
  assert.ok(takenOverAfter < 60_000, `takeover after ${takenOverAfter} ms`);
});

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
