// A coordinator replica cut off from PostgreSQL while the server is sending it a result
// (a task frame, a checkpoint) must not keep its locks: the server's backend then waits in
// ClientWrite, where TCP keepalives never fire because data is unacknowledged, and without
// tcp_user_timeout the kernel would retry for about 15 minutes while the other replicas
// wait on the rows it locked. Two network namespaces: the database on `db`, the replica's
// session (opened with PostgresStorage's own connection settings) on `replica`.

import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PostgresStorage } from '../src/storage/postgres.js';
import { TestNetwork, unavailable } from './support/netns.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

const why = unavailable();
const NODE_MODULES = fileURLToPath(new URL('../node_modules', import.meta.url));
let net: TestNetwork | undefined;
let server: TestPostgres | undefined;
after(async () => {
  await server?.stop();
  net?.destroy();
});

it('frees the locks of a replica cut off while the database sends it a result', { skip: why ?? false, timeout: 180_000 }, async (t) => {
  net = TestNetwork.create(['db', 'replica']);
  server = await startPostgres({ host: net.host('db').address, wrap: net.wrap('db') });
  await server.createDatabase('consortium');
  const local = new pg.Client({ connectionString: server.socketUrl('consortium') });
  await local.connect();
  try {
    await local.query('CREATE TABLE leases (id int PRIMARY KEY); INSERT INTO leases VALUES (1)');
    const config = new PostgresStorage({ url: `postgres://concord@${net.host('db').address}:${server.port}/consortium` }).connectionConfig();
    // The replica locks the row, then asks for a result far larger than any socket buffer.
    const script = `const pg = require('pg');
      (async () => {
        const c = new pg.Client(${JSON.stringify({ connectionString: config.connectionString, keepAlive: true, options: config.options })});
        await c.connect();
        await c.query('BEGIN');
        await c.query('SELECT * FROM leases FOR UPDATE');
        console.log('locked');
        // 1 MB rows, at most about 100 a second, so the client does not pile up gigabytes before the cut.
        c.query("SELECT repeat('x', 1000000), pg_sleep(0.01) FROM generate_series(1, 100000)").catch(() => undefined);
      })();`;
    const replica = net.spawn('replica', process.execPath, ['-e', script], { ...process.env, NODE_PATH: NODE_MODULES });
    t.after(() => void replica.kill('SIGKILL'));
    await new Promise<void>((resolve, reject) => {
      replica.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
      replica.once('exit', (code) => reject(new Error(`the replica's session exited (${code}) before locking`)));
    });
    await new Promise((r) => setTimeout(r, 500)); // the result is streaming now
    net.partition('replica', 'db');
    const cutAt = Date.now();

    let freedAfterS: number | undefined;
    let state = '';
    while (Date.now() - cutAt < 90_000) {
      try {
        await local.query('BEGIN');
        await local.query("SET LOCAL lock_timeout = '1s'");
        await local.query('SELECT * FROM leases FOR UPDATE');
        await local.query('COMMIT');
        freedAfterS = (Date.now() - cutAt) / 1000;
        break;
      } catch {
        await local.query('ROLLBACK');
        const { rows } = await local.query<{ state: string; wait_event: string | null }>("SELECT state, wait_event FROM pg_stat_activity WHERE datname = 'consortium' AND pid <> pg_backend_pid()");
        state = rows.map((r) => `${r.state}/${r.wait_event}`).join(', ');
      }
    }
    t.diagnostic(freedAfterS === undefined ? `still locked after 90 s (${state})` : `the row was free again ${freedAfterS.toFixed(1)} s after the cut (the session was ${state || 'gone'})`);
    // 10 s of tcp_user_timeout, then the backend exits; far below the kernel's ~15 minutes.
    assert.ok(freedAfterS !== undefined && freedAfterS < 60, `the lock of the cut-off session is released (${state})`);
  } finally {
    await local.end();
  }
});
