// The PostgreSQL backend against every storage conformance suite, on a server of its own
// (test/support/postgres.ts); each store gets a fresh schema of one database.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startPostgres, type TestPostgres } from '../../test/support/postgres.js';
import { AuditLog } from '../governance/audit.js';
import { generateIdentity } from '../governance/identity.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { openStorage } from './index.js';
import { PostgresStorage } from './postgres.js';
import { storageAuditStore } from '../coordinator/audit-trail.js';
import { completedRound, runConfig, smallParameters, storageConformance } from './storage-conformance.js';

let server: TestPostgres;
let url: string;
before(async () => {
  server = await startPostgres();
  url = await server.createDatabase('conformance');
});
after(() => server?.stop());

let schemas = 0;
async function fresh(options: Partial<ConstructorParameters<typeof PostgresStorage>[0]> = {}): Promise<PostgresStorage> {
  const storage = new PostgresStorage({ url, schema: `s${++schemas}`, ...options });
  await storage.migrate();
  return storage;
}

storageConformance('PostgresStorage', (retention) => fresh(retention ? { retention } : {}));

describe('PostgresStorage', () => {
  it('stores parameters as bytea and applies each migration once', async () => {
    const s = await fresh();
    await s.migrate();
    const run = await s.createRun(runConfig('r'), smallParameters(0));
    await s.saveRound(completedRound(run.runId, 1));
    await s.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const types = await client.query("SELECT table_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name IN ('checkpoints', 'member_updates', 'runs') AND column_name IN ('data', 'initial_data') ORDER BY table_name", [`s${schemas}`]);
      assert.deepEqual(types.rows.map((r: { data_type: string }) => r.data_type), ['bytea', 'bytea', 'bytea']);
      const versions = await client.query(`SELECT version FROM s${schemas}.schema_version ORDER BY version`);
      assert.deepEqual(versions.rows.map((r: { version: number }) => r.version), POSTGRES_MIGRATIONS.map((m) => m.version));
    } finally {
      await client.end();
    }
  });

  it('refuses a database written by a newer schema', async () => {
    const schema = `s${++schemas}`;
    const newer = new PostgresStorage({ url, schema, migrations: [...POSTGRES_MIGRATIONS, { version: 99, description: 'from the future', sql: 'CREATE TABLE future (x INTEGER)' }] });
    await newer.migrate();
    await newer.close();
    const s = new PostgresStorage({ url, schema });
    await assert.rejects(s.migrate(), (e: unknown) => e instanceof ConcordError && e.code === ErrorCode.STORAGE && e.details.field === 'schema_version' && e.details.received === 99);
    await s.close();
  });

  it('migrations of replicas starting together run once', async () => {
    const schema = `s${++schemas}`;
    const stores = Array.from({ length: 4 }, () => new PostgresStorage({ url, schema }));
    await Promise.all(stores.map((s) => s.migrate()));
    assert.equal((await stores[0]!.listRuns()).length, 0);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('appends from several processes sharing the database form one chain', async () => {
    const schema = `s${++schemas}`;
    const replicas = [new PostgresStorage({ url, schema }), new PostgresStorage({ url, schema }), new PostgresStorage({ url, schema })];
    await replicas[0]!.migrate();
    const signer = generateIdentity();
    const logs = replicas.map((s) => new AuditLog(storageAuditStore(s), signer, { maxRetries: 50 }));
    const run = await replicas[0]!.createRun(runConfig('r'), smallParameters(0));
    // Each replica records entries while one of them stores rounds with entries of their own.
    await Promise.all([
      ...logs.map((log, i) => Promise.all(Array.from({ length: 10 }, (_, k) => log.record({ actor: `replica-${i}`, kind: 'test.entry', subject: String(k) })))),
      (async () => {
        for (let r = 1; r <= 5; r++) await replicas[1]!.saveRound(completedRound(run.runId, r), logs[1]!.following([{ actor: 'coordinator', kind: 'round.aggregated', subject: run.runId, data: { round: r } }]));
      })(),
    ]);
    const verified = await logs[2]!.verify();
    assert.deepEqual(verified.ok && verified.count, 35);
    await Promise.all(replicas.map((s) => s.close()));
  });

  it('openStorage opens a migrated PostgreSQL store, and for read-only commands refuses a database without Concord data', async () => {
    const empty = await server.createDatabase('untouched');
    await assert.rejects(openStorage(empty, { existing: true }), (e: unknown) => e instanceof ConcordError && e.code === ErrorCode.NOT_FOUND && e.details.field === '--db');
    const s = await openStorage(empty);
    assert.ok(s instanceof PostgresStorage);
    const run = await s.createRun(runConfig('r'), smallParameters(0));
    await s.close();
    const again = await openStorage(empty, { existing: true });
    assert.deepEqual((await again.listRuns()).map((r) => r.runId), [run.runId]);
    await again.close();
  });

  it('says UNAVAILABLE, without the password, when the database cannot be reached', async () => {
    const s = new PostgresStorage({ url: `postgres://concord:s3cret@127.0.0.1:1/concord`, connectTimeoutMs: 2000 });
    await assert.rejects(s.listRuns(), (e: unknown) => {
      assert.ok(e instanceof ConcordError);
      assert.equal(e.code, ErrorCode.UNAVAILABLE);
      assert.doesNotMatch(e.message, /s3cret/);
      return true;
    });
    await s.close();
  });
});
