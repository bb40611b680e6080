// A throwaway PostgreSQL server for tests, from Debian's `postgresql` package: initdb into a
// temporary folder, `postgres` on a free port (TCP on the given address, and a Unix socket
// in the folder), stopped and removed at the end. initdb and postgres refuse to run as
// root, so under root (CI) they run as the `postgres` system user, who is given the folder.
// The server is tuned for tests (fsync off): the tests kill coordinators, not the database.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './processes.js';

export interface TestPostgres {
  /** postgres://concord@HOST:PORT/concord */
  url: string;
  host: string;
  port: number;
  /** The folder of pg_dump, pg_restore, psql of the same version. */
  binDir: string;
  /** A URL of the database through the server's Unix socket (reachable from any network namespace). */
  socketUrl(database: string): string;
  /** A URL of a fresh, empty database on this server. */
  createDatabase(name: string): Promise<string>;
  /** Fast shutdown; waits for the server to exit, then removes its folder. Idempotent. */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Default: a free port. */
  port?: number;
  /** Runs the server inside this command (e.g. ['ip', 'netns', 'exec', 'ns1']), as the network namespace tests do; it must run as root. */
  wrap?: string[];
}

/** Where Debian keeps the server binaries (newest version first), or the folder of pg_ctl on PATH. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  try {
    const initdb = execFileSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).trim();
    return initdb ? join(initdb, '..') : undefined;
  } catch {
    return undefined;
  }
}

/** The uid and gid to run the server as: ours, unless we are root. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error('running as root, but there is no "postgres" system user to run PostgreSQL as (apt-get install postgresql creates it)');
  }
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<TestPostgres> {
  const binDir = postgresBinDir();
  if (!binDir) throw new Error('PostgreSQL server binaries not found (apt-get install postgresql; .ci/run does)');
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'concord-pg-'));
  const data = join(dir, 'data');
  const user = serverUser();
  if (user) chownSync(dir, user.uid, user.gid);
  chmodSync(dir, 0o700);
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  execFileSync(join(binDir, 'initdb'), ['-D', data, '-U', 'concord', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], { stdio: 'pipe', ...as });
  // initdb trusts loopback only; a server on a namespace's address also trusts its own subnet.
  appendFileSync(join(data, 'pg_hba.conf'), 'host all all samenet trust\n');

  const serverArgs = [join(binDir, 'postgres'), '-D', data, '-p', String(port), '-k', dir, '-c', `listen_addresses=${host}`, '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'];
  // Inside a wrapper (a network namespace) the wrapper runs as root and hands over to the postgres user.
  const wrapped = options.wrap ? [...options.wrap, ...(user ? ['runuser', '-u', 'postgres', '--'] : []), ...serverArgs] : serverArgs;
  const [command, ...args] = wrapped;
  const server: ChildProcess = spawn(command!, args, { stdio: ['ignore', 'ignore', 'pipe'], ...(options.wrap ? {} : as) });
  let log = '';
  server.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log = (log + chunk).slice(-8000)));
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  // A test runner that dies leaves no server behind.
  const killOnExit = () => server.kill('SIGKILL');
  process.once('exit', killOnExit);

  // Checked and administered through the Unix socket in the folder, which any network namespace shares.
  const url = `postgres://concord@${encodeURIComponent(dir)}:${port}/postgres`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`postgres exited with code ${server.exitCode}: ${log}`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.end();
      break;
    } catch {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) {
        server.kill('SIGKILL');
        throw new Error(`postgres did not accept connections within 60 s: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://concord@${host}:${port}/concord`,
    host,
    port,
    binDir,
    socketUrl: (database: string) => `postgres://concord@${encodeURIComponent(dir)}:${port}/${database}`,
    async createDatabase(name) {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return `postgres://concord@${host}:${port}/${name}`;
    },
    stop() {
      stopped ??= (async () => {
        process.removeListener('exit', killOnExit);
        if (server.exitCode === null && server.signalCode === null) {
          server.kill('SIGINT'); // fast shutdown: connections are closed, no waiting for clients
          const timer = setTimeout(() => server.kill('SIGKILL'), 20_000);
          await exited;
          clearTimeout(timer);
        }
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
