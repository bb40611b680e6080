// `concord db …` on real databases: a consortium trained by the demo on SQLite is copied
// into PostgreSQL with `concord db copy`, table for table and byte for byte; its audit chain
// verifies there offline and through a coordinator started on the copy, which carries on
// writing to it; backups of both kinds restore to identical databases; and nothing is ever
// overwritten (a second copy, a restore into a used database, a backup file that exists).

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PostgresStorage } from '../src/storage/postgres.js';
import { SqliteStorage } from '../src/storage/sqlite.js';
import type { Storage } from '../src/storage/storage.js';
import { TABLES, type TableAccess } from '../src/storage/tables.js';
import { concord, concordRun, freePort, lastJson, processScope, waitForEvent } from './support/processes.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

const { children, tempDir } = processScope();
let server: TestPostgres;
let dir = '';
let sqlitePath = '';
let publicKey = '';

before(async () => {
  server = await startPostgres();
  dir = await tempDir('concord-db-');
});
after(() => server?.stop());

type Store = Storage & TableAccess;

/** Every row of every table, in write order. */
async function contents(store: Store): Promise<Record<string, unknown[]>> {
  const all: Record<string, unknown[]> = {};
  for (const table of TABLES) all[table.name] = await store.readRows(table, 0, 1_000_000);
  return all;
}

async function withSqlite<T>(path: string, fn: (s: SqliteStorage) => Promise<T>): Promise<T> {
  const s = new SqliteStorage(path);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

async function withPostgres<T>(url: string, fn: (s: PostgresStorage) => Promise<T>): Promise<T> {
  const s = new PostgresStorage({ url });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

describe('concord db', () => {
  it('copies a trained consortium from SQLite into PostgreSQL, every record intact, its audit chain verifying', { timeout: 300_000 }, async () => {
    const demo = join(dir, 'demo');
    const trained = await concordRun(['demo', '--members', '2', '--rounds', '2', '--epochs', '1', '--no-baseline', '--dir', demo], 240_000);
    assert.equal(trained.code, 0, trained.stderr);
    sqlitePath = join(demo, 'coordinator.sqlite');
    publicKey = (JSON.parse(await readFile(join(demo, 'coordinator.identity.json'), 'utf8')) as { publicKey: string }).publicKey;
    // Governance records of every kind beside what the demo wrote.
    await withSqlite(sqlitePath, async (s) => {
      const member = (await s.listMembers())[0]!;
      await s.addAgreementVersion({ version: 1, hash: 'h1', agreement: { version: 1 } as never, signatures: [], signers: [], adoptedAt: 1, adoptedBy: 'operator' });
      await s.addPlan({ planId: 'plan_1', planHash: 'ph', plan: { title: 'copy me' } as never, submittedBy: 'token:t', submittedAt: 2 });
      await s.addPlanApproval('plan_1', { planHash: 'ph', member: member.name, decision: 'approve', reason: null, at: 3, signature: 'sig' });
      await s.addInvitation({ codeHash: 'code', role: 'researcher', memberName: null, createdAt: 4, expiresAt: 5, usedAt: null, usedBy: null });
      await s.addApiToken({ tokenId: 'tok', tokenHash: 'th', role: 'auditor', scopes: ['audit:read'], label: 'ethics board', createdAt: 6, expiresAt: null, revokedAt: 7 });
      await s.setMemberResources(member.memberId, { capacity: 100, efficiency: 0.8 });
      await s.revokeMember((await s.listMembers())[1]!.memberId);
    });

    const target = await server.createDatabase('copied');
    const copied = await concordRun(['db', 'copy', '--from', `sqlite:${sqlitePath}`, '--to', target, '--json']);
    assert.equal(copied.code, 0, copied.stderr);
    const report = lastJson(copied.stdout) as { tables: Record<string, number> };
    assert.equal(report.tables.rounds, 2);
    assert.equal(report.tables.checkpoints, 2);
    assert.ok(report.tables.audit_log! > 5, `audit entries copied: ${report.tables.audit_log}`);

    const before = await withSqlite(sqlitePath, contents);
    assert.deepEqual(await withPostgres(target, contents), before, 'every row of every table, in order, byte for byte');
    // And through the storage interface, as a coordinator reads it.
    await withSqlite(sqlitePath, (s) =>
      withPostgres(target, async (p) => {
        assert.deepEqual(await p.listRuns(), await s.listRuns());
        assert.deepEqual(await p.listMembers(), await s.listMembers());
        assert.deepEqual(await p.listPlans(), await s.listPlans());
        assert.deepEqual(await p.listAudit(), await s.listAudit());
        const run = (await s.listRuns())[0]!;
        assert.deepEqual(await p.listRounds(run.runId), await s.listRounds(run.runId));
        assert.deepEqual(await p.getCheckpoint(run.runId, 2), await s.getCheckpoint(run.runId, 2));
        assert.deepEqual(await p.listMemberUpdates(run.runId, 1), await s.listMemberUpdates(run.runId, 1));
      }),
    );

    const verified = await concordRun(['audit', 'verify', '--db', target, '--public-key', publicKey, '--json']);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.equal((lastJson(verified.stdout) as { count: number }).count, before.audit_log!.length);

    // Nothing is overwritten: the same copy again is refused.
    const again = await concordRun(['db', 'copy', '--from', `sqlite:${sqlitePath}`, '--to', target, '--json']);
    assert.equal(again.code, 65, again.stdout);
    assert.match(again.stdout, /already holds a consortium/);
    assert.deepEqual(await withPostgres(target, contents), before);
  });

  it('runs a coordinator on the copy, which serves its runs and extends its one audit chain', { timeout: 120_000 }, async () => {
    assert.ok(sqlitePath, 'runs after the copy');
    const target = server.url.replace(/\/concord$/, '/copied');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const coordinator = concord(['coordinator', '--db', target, '--identity', join(dir, 'demo', 'coordinator.identity.json'), '--operator-token', 'op-db', '--port', String(port), '--json']);
    children.push(coordinator);
    const listening = await waitForEvent(coordinator, 'listening');
    assert.equal(listening.publicKey, publicKey);
    const headers = { authorization: 'Bearer op-db' };
    const runs = ((await (await fetch(`${url}/v1/runs`, { headers })).json()) as { runs: { runId: string; status: string }[] }).runs;
    assert.deepEqual(runs.map((r) => r.status), ['completed']);
    const served = Buffer.from(await (await fetch(`${url}/v1/runs/${runs[0]!.runId}/model?round=2`, { headers })).arrayBuffer());
    const stored = await withSqlite(sqlitePath, (s) => s.getCheckpoint(runs[0]!.runId, 2));
    assert.ok(served.includes(Buffer.from(stored!.parameters.data.buffer)), 'the model served from PostgreSQL is the one trained on SQLite');

    const token = await concordRun(['tokens', 'create', '--role', 'auditor', '--coordinator', url, '--token', 'op-db', '--json']);
    assert.equal(token.code, 0, token.stderr);
    const online = await concordRun(['audit', 'verify', '--coordinator', url, '--token', 'op-db', '--public-key', publicKey, '--json']);
    assert.equal(online.code, 0, online.stdout);
    const sqliteEntries = await withSqlite(sqlitePath, (s) => s.countAudit());
    assert.equal((lastJson(online.stdout) as { count: number }).count, sqliteEntries + 1, 'the new entry continues the copied chain');
    coordinator.kill('SIGTERM');
  });

  it('backs up and restores PostgreSQL (pg_dump, pg_restore) and SQLite (backup API) into identical databases, never over data', { timeout: 120_000 }, async () => {
    assert.ok(sqlitePath, 'runs after the copy');
    const source = server.url.replace(/\/concord$/, '/copied');
    const dump = join(dir, 'copied.dump');
    const backup = await concordRun(['db', 'backup', '--db', source, '--out', dump, '--json']);
    assert.equal(backup.code, 0, backup.stdout + backup.stderr);
    assert.equal((lastJson(backup.stdout) as { format: string }).format, 'pg_dump-custom');
    const exists = await concordRun(['db', 'backup', '--db', source, '--out', dump, '--json']);
    assert.equal(exists.code, 65, exists.stdout);

    const restored = await server.createDatabase('restored');
    const restore = await concordRun(['db', 'restore', '--db', restored, '--from', dump, '--json']);
    assert.equal(restore.code, 0, restore.stdout + restore.stderr);
    assert.deepEqual(await withPostgres(restored, contents), await withPostgres(source, contents));
    const twice = await concordRun(['db', 'restore', '--db', restored, '--from', dump, '--json']);
    assert.equal(twice.code, 65, twice.stdout);
    assert.match(twice.stdout, /already holds Concord data/);
    const verified = await concordRun(['audit', 'verify', '--db', restored, '--public-key', publicKey, '--json']);
    assert.equal(verified.code, 0, verified.stdout);

    const file = join(dir, 'backup.sqlite');
    assert.equal((await concordRun(['db', 'backup', '--db', `sqlite:${sqlitePath}`, '--out', file, '--json'])).code, 0);
    const copy = join(dir, 'restored', 'coordinator.sqlite');
    const sqliteRestore = await concordRun(['db', 'restore', '--db', copy, '--from', file, '--json']);
    assert.equal(sqliteRestore.code, 0, sqliteRestore.stdout + sqliteRestore.stderr);
    assert.deepEqual(await withSqlite(copy, contents), await withSqlite(sqlitePath, contents));
    assert.equal((await concordRun(['db', 'restore', '--db', copy, '--from', file, '--json'])).code, 65);
  });

  it('migrates an empty PostgreSQL database, and read-only commands refuse one that holds no Concord data', async () => {
    const empty = await server.createDatabase('empty');
    const refused = await concordRun(['audit', 'verify', '--db', empty, '--public-key', publicKey, '--json']);
    assert.equal(refused.code, 66, refused.stdout);
    assert.match(refused.stdout, /holds no Concord data/);
    const fresh = await server.createDatabase('fresh');
    const migrated = await concordRun(['db', 'migrate', '--db', fresh, '--json']);
    assert.equal(migrated.code, 0, migrated.stdout + migrated.stderr);
    const verified = await concordRun(['audit', 'verify', '--db', fresh, '--public-key', publicKey, '--json']);
    assert.equal(verified.code, 0, verified.stdout);
    assert.equal((lastJson(verified.stdout) as { count: number }).count, 0);
  });
});
