// Federated analytics through the replicas' shared task board: two coordinator replicas on
// one PostgreSQL database (tasks in the database, SharedTaskBoard), three hospital members
// polling whichever replica; a query submitted to one replica is answered exactly, stored
// once, and its DP charges land in the one per-dataset ledger both replicas read.

import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { maxRelativeError, pooledStatistics } from '../src/analytics/pooled.js';
import { parseQuery } from '../src/analytics/query.js';
import type { AnalyticsResult } from '../src/analytics/release.js';
import { createCoordinator, type Coordinator } from '../src/coordinator/server.js';
import { hospitalSchema, writeHospitals } from '../src/data/hospitals.js';
import { loadMemberData, loadMemberRecords } from '../src/data/spec.js';
import type { HarmonisedRecord } from '../src/data/schema/validate.js';
import { withAnalytics } from '../src/node/analytics-handler.js';
import { CoordinatorClient } from '../src/node/client.js';
import { runMember } from '../src/node/member.js';
import { nodePrimitives } from '../src/privacy/secagg/primitives-node.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { PostgresCoordination } from '../src/storage/postgres-coordination.js';
import { PostgresStorage } from '../src/storage/postgres.js';
import type { AnalyticsQueryRecord } from '../src/storage/storage.js';
import { postgresBinDir, startPostgres, type TestPostgres } from './support/postgres.js';
import { temporaryDirs } from '../src/core/temp-dirs.fixture.js';

const tempDir = temporaryDirs();

const skip = postgresBinDir() ? false : 'no PostgreSQL server binaries';
let server: TestPostgres | undefined;
const replicas: { coordinator: Coordinator; storage: PostgresStorage; coordination: PostgresCoordination; url: string }[] = [];
const aborts: AbortController[] = [];
let pooled: HarmonisedRecord[] = [];

before(async () => {
  if (skip) return;
  server = await startPostgres();
  const db = await server.createDatabase('analytics');
  for (const name of ['r1', 'r2']) {
    const storage = new PostgresStorage({ url: db });
    await storage.migrate();
    const coordination = new PostgresCoordination(storage);
    await coordination.start();
    const coordinator = await createCoordinator({
      storage,
      replication: { coordination, replica: name },
      operatorToken: 'op',
      initialParameters: async () => makeParameters([{ name: 'w', shape: [1] }]),
      maxPollMs: 1000,
      board: { onlineWindowMs: 20_000, heartbeatTimeoutMs: 20_000 },
      analytics: { schema: hospitalSchema(), budget: { epsilon: 3, delta: 1e-5 }, timeoutMs: 60_000 },
    });
    replicas.push({ coordinator, storage, coordination, url: await coordinator.listen(0, '127.0.0.1') });
  }
  const { files } = await writeHospitals({ out: await tempDir('concord-analytics-pg-'), sites: 3 });
  pooled = (await Promise.all(files.map((f) => loadMemberRecords(f.spec)))).flatMap((r) => r.records);
  for (const [i, f] of files.entries()) {
    const abort = new AbortController();
    aborts.push(abort);
    // Members poll the replicas alternately: the query's tasks travel through the database.
    const client = new CoordinatorClient(replicas[i % 2]!.url);
    const refuse = async (): Promise<never> => {
      throw new Error('analytics only');
    };
    void runMember({ client, name: `hospital-${i}`, dataset: (await loadMemberData(f.spec)).descriptor, handler: withAnalytics({ train: refuse, evaluate: refuse }, { data: f.spec, memberId: () => client.credentials?.memberId, primitives: nodePrimitives }), signal: abort.signal, pollMs: 1000, heartbeatMs: 1000 });
  }
  const deadline = Date.now() + 60_000;
  while (replicas[0]!.coordinator.board.available().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
});

after(async () => {
  for (const a of aborts) a.abort();
  for (const r of replicas) {
    await r.coordinator.close();
    await r.coordination.close();
    await r.storage.close();
  }
  await server?.stop();
});

it('a query on one replica runs through the shared task board, exactly, and its charges join the shared ledger', { skip, timeout: 120_000 }, async () => {
  const [first, second] = replicas;
  const post = async (payload: object) => (await first!.coordinator.app.inject({ method: 'POST', url: '/v1/analytics', headers: { authorization: 'Bearer op' }, payload })).json() as { query?: AnalyticsQueryRecord; error?: { message: string } };
  const exact = { type: 'variance', field: 'glucose' };
  const { query: record, error } = await post(exact);
  assert.equal(record?.status, 'completed', error?.message ?? record?.error ?? '');
  const { maxRelativeError: e } = maxRelativeError((record!.result as unknown as AnalyticsResult).values, pooledStatistics(parseQuery(exact), hospitalSchema(), pooled));
  assert.ok(e <= 1e-9, `off by ${e}`);
  const seen = await second!.coordinator.app.inject({ method: 'GET', url: `/v1/analytics/${record!.queryId}`, headers: { authorization: 'Bearer op' } });
  assert.equal((seen.json() as { query: AnalyticsQueryRecord }).query.status, 'completed');

  const dp = await post({ type: 'count', privacy: { epsilon: 1, delta: 1e-5 } });
  assert.equal(dp.query?.status, 'completed', dp.error?.message);
  const charges = (await second!.storage.listPrivacyCharges()).filter((c) => c.runId === dp.query!.queryId);
  assert.equal(charges.length, 3);
});
