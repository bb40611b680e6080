import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { openDatabase } from './sqlite-driver.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';
import type { RetentionPolicy } from './retention.js';
import { SqliteStorage } from './sqlite.js';
import { completedRound, dataset, runConfig, smallParameters, storageConformance, summaryOf } from './storage-conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'concord-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshPath = (): string => join(dir, `store-${++files}.sqlite`);

async function fileStorage(path = freshPath(), retention?: RetentionPolicy): Promise<SqliteStorage> {
  const storage = new SqliteStorage(path, retention ? { retention } : {});
  await storage.migrate();
  return storage;
}

storageConformance('SqliteStorage on a file', (retention) => fileStorage(freshPath(), retention));
storageConformance('SqliteStorage in memory', async (retention) => {
  const storage = new SqliteStorage(':memory:', retention ? { retention } : {});
  await storage.migrate();
  return storage;
});

function rawCount(path: string, table: string): number {
  const db = openDatabase(path, { busyTimeoutMs: 1000 });
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('SqliteStorage files', () => {
  it('reopening a database keeps its data and applies each migration once', async () => {
    const path = freshPath();
    let s = await fileStorage(path);
    const member = await s.addMember({ name: 'a', publicKey: 'k', dataset: dataset('d', 1) });
    const run = await s.createRun(runConfig('r'), smallParameters(0));
    const round = completedRound(run.runId, 1);
    await s.saveRound(round);
    await s.close();

    s = new SqliteStorage(path);
    await s.migrate();
    await s.migrate();
    assert.deepEqual(await s.listMembers(), [member]);
    assert.deepEqual(await s.getRun(run.runId), run);
    assert.deepEqual(await s.listRounds(run.runId), [summaryOf(round)]);
    await s.close();

    const db = openDatabase(path, { busyTimeoutMs: 1000 });
    try {
      assert.deepEqual(
        db.prepare('SELECT version FROM schema_version ORDER BY version').all(),
        SQLITE_MIGRATIONS.map((m) => ({ version: m.version })),
      );
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
  });

  it('refuses a database written by a newer schema', async () => {
    const path = freshPath();
    const newer = new SqliteStorage(path, {
      migrations: [...SQLITE_MIGRATIONS, { version: 99, description: 'from the future', sql: 'CREATE TABLE future (x INTEGER)' }],
    });
    await newer.migrate();
    await newer.close();
    const s = new SqliteStorage(path);
    await assert.rejects(s.migrate(), (error: unknown) => {
      assert.ok(error instanceof ConcordError);
      assert.equal(error.code, ErrorCode.STORAGE);
      assert.equal(error.details.field, 'schema_version');
      assert.equal(error.details.received, 99);
      return true;
    });
    await s.close();
  });

  it('rolls back a round whose last write fails, then stores it cleanly', async () => {
    const path = freshPath();
    const s = await fileStorage(path);
    const run = await s.createRun(runConfig('r'), smallParameters(0));
    // Make the third member-metrics insert fail, after the round and checkpoint rows went in.
    const db = openDatabase(path, { busyTimeoutMs: 1000 });
    db.exec(`CREATE TRIGGER poison BEFORE INSERT ON member_metrics WHEN NEW.member_id = 'mem_poison'
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
    db.close();
    const round = completedRound(run.runId, 1);
    const poisoned = { ...round, members: [...round.members.slice(0, 2), { ...round.members[2]!, memberId: 'mem_poison' }] };
    await assert.rejects(s.saveRound(poisoned), (error: unknown) => {
      assert.ok(error instanceof ConcordError);
      assert.equal(error.code, ErrorCode.STORAGE);
      assert.match(error.message, /injected failure/);
      return true;
    });
    for (const table of ['rounds', 'checkpoints', 'member_metrics']) assert.equal(rawCount(path, table), 0, table);
    assert.equal(await s.lastRound(run.runId), undefined);

    await s.saveRound(round);
    assert.deepEqual(await s.lastRound(run.runId), summaryOf(round));
    assert.equal(rawCount(path, 'member_metrics'), 3);
    await s.close();
  });

  it('migration 3 keeps members enrolled with tokens, without a key, and adds the governance tables', async () => {
    const path = freshPath();
    const old = new SqliteStorage(path, { migrations: SQLITE_MIGRATIONS.filter((m) => m.version <= 2) });
    await old.migrate();
    await old.close();
    const db = openDatabase(path, { busyTimeoutMs: 1000 });
    db.prepare('INSERT INTO members (id, name, token_hash, dataset, enrolled_at, last_seen_at, revoked) VALUES (?, ?, ?, ?, ?, ?, ?)').run('mem_b', 'b', 'hb', JSON.stringify(dataset('d', 2)), 2, null, 1);
    db.prepare('INSERT INTO members (id, name, token_hash, dataset, enrolled_at, last_seen_at, revoked) VALUES (?, ?, ?, ?, ?, ?, ?)').run('mem_a', 'a', 'ha', JSON.stringify(dataset('d', 1)), 1, 5, 0);
    db.close();

    const s = await fileStorage(path);
    assert.deepEqual(await s.listMembers(), [
      { memberId: 'mem_a', name: 'a', publicKey: null, dataset: dataset('d', 1), enrolledAt: 1, lastSeenAt: 5, revoked: false },
      { memberId: 'mem_b', name: 'b', publicKey: null, dataset: dataset('d', 2), enrolledAt: 2, lastSeenAt: null, revoked: true },
    ]);
    // A legacy member can be given a key; names and keys stay unique.
    assert.equal((await s.replaceMemberKey('mem_a', 'key-a', dataset('d', 1))).publicKey, 'key-a');
    await assert.rejects(s.addMember({ name: 'c', publicKey: 'key-a', dataset: dataset('d', 1) }), (e: unknown) => e instanceof ConcordError && e.details.field === 'publicKey');
    assert.equal(await s.countAudit(), 0);
    assert.deepEqual(await s.listInvitations(), []);
    assert.deepEqual(await s.listApiTokens(), []);
    await s.close();
  });

  it('reports an unopenable path and a closed store as STORAGE errors', async () => {
    assert.throws(
      () => new SqliteStorage(join(dir, 'missing-dir', 'deeper', 'x.sqlite')),
      (error: unknown) => error instanceof ConcordError && error.code === ErrorCode.STORAGE && error.details.field === 'path',
    );
    const s = await fileStorage();
    await s.close();
    await s.close();
    await assert.rejects(s.listRuns(), (error: unknown) => error instanceof ConcordError && error.code === ErrorCode.STORAGE);
  });
});

describe('SqliteStorage crash safety', () => {
  const fixture = fileURLToPath(new URL('./crash-writer.fixture.ts', import.meta.url));
  const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
  const parameterCount = 250_000; // ~1 MB per checkpoint, so a kill often lands mid-commit
  const membersPerRound = 3;

  /**
   * Runs the writer until it announces `saving killAt`, waits `graceMs`, then SIGKILLs it;
   * returns the last rounds it reported saved and started.
   */
  function writeUntilKilled(path: string, runId: string, killAt: number, graceMs = 0): Promise<{ lastSaved: number; lastStarted: number }> {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, path, runId, String(parameterCount), String(membersPerRound)], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (!killed && stdout.includes(`saving ${killAt}\n`)) {
        killed = true;
        setTimeout(() => child.kill('SIGKILL'), graceMs);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        if (signal !== 'SIGKILL') return reject(new Error(`crash writer exited with code ${code} before it was killed: ${stderr}`));
        const last = (word: string) => Math.max(0, ...[...stdout.matchAll(new RegExp(`^${word} (\\d+)$`, 'gm'))].map((m) => Number(m[1])));
        resolve({ lastSaved: last('saved'), lastStarted: last('saving') });
      });
    });
  }

  async function assertIntact(path: string, runId: string, reported: { lastSaved: number; lastStarted: number }): Promise<number> {
    const s = new SqliteStorage(path);
    await s.migrate();
    try {
      const rounds = (await s.listRounds(runId)).map((r) => r.round);
      const k = rounds.length;
      assert.deepEqual(rounds, Array.from({ length: k }, (_, i) => i + 1), 'rounds are contiguous from 1');
      assert.ok(k >= reported.lastSaved, `round ${reported.lastSaved} was committed but the store has only ${k}`);
      assert.ok(k <= reported.lastStarted, `the store has round ${k} but the writer only started ${reported.lastStarted}`);
      for (const round of rounds) {
        const cp = await s.getCheckpoint(runId, round);
        assert.ok(cp, `round ${round} has its checkpoint`);
        assert.equal(cp.parameters.data.length, parameterCount);
        assert.ok(cp.parameters.data.every((v) => v === round), `round ${round} parameters are whole`);
        assert.ok(cp.strategyState!.data.every((v) => v === -round), `round ${round} strategy state is whole`);
        assert.deepEqual(
          (await s.listMemberMetrics(runId, round)).map((m) => m.numExamples),
          Array.from({ length: membersPerRound }, (_, i) => 100 * round + i),
        );
      }
      return k;
    } finally {
      await s.close();
    }
  }

  it('a writer killed with SIGKILL mid-loop leaves whole, contiguous rounds that can be continued', { timeout: 60_000 }, async () => {
    const path = freshPath();
    const setup = await fileStorage(path);
    const run = await setup.createRun(runConfig('crash'), smallParameters(0));
    await setup.close();

    // First crash, deliberately inside the transaction of round 3: once round 3's round and
    // checkpoint rows are written, its first member-metrics insert fires a trigger whose query
    // never finishes (100^6 rows), so round 3 cannot commit and the kill finds it half written.
    const db = openDatabase(path, { busyTimeoutMs: 1000 });
    db.exec(`CREATE TABLE crash_spin (x INTEGER);
             INSERT INTO crash_spin WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100) SELECT x FROM n;
             CREATE TRIGGER crash_pause AFTER INSERT ON member_metrics WHEN NEW.round = 3
             BEGIN SELECT count(*) FROM crash_spin a, crash_spin b, crash_spin c, crash_spin d, crash_spin e, crash_spin f; END;`);
    db.close();
    const first = await writeUntilKilled(path, run.runId, 3, 300);
    assert.equal(await assertIntact(path, run.runId, first), 2);
    const cleanup = openDatabase(path, { busyTimeoutMs: 1000 });
    cleanup.exec('DROP TRIGGER crash_pause; DROP TABLE crash_spin;');
    cleanup.close();
    const k1 = 2;

    // Second crash at whatever point the kill happens to land, resuming after the first.
    const second = await writeUntilKilled(path, run.runId, k1 + 3);
    const k2 = await assertIntact(path, run.runId, second);
    assert.ok(k2 > k1);

    const check = openDatabase(path, { busyTimeoutMs: 1000 });
    assert.equal(check.pragma('integrity_check', { simple: true }), 'ok');
    check.close();

    const s = new SqliteStorage(path);
    await s.migrate();
    await s.saveRound(completedRound(run.runId, k2 + 1));
    assert.equal((await s.lastRound(run.runId))!.round, k2 + 1);
    await s.close();
  });
});
