// `concord db backup` and `concord db restore`. SQLite: an online, consistent copy through
// SQLite's backup API, restored by copying it into place. PostgreSQL: pg_dump's custom
// format (pg_dump and pg_restore of the server's version must be on PATH), restored with
// pg_restore in one transaction. Neither ever overwrites: a backup file that exists, or a
// target that already holds Concord data, is refused. A password in a postgres:// URL is
// handed to the tools in PGPASSWORD, never on their command line.

import { spawn } from 'node:child_process';
import { constants, existsSync, statSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { PostgresStorage } from './postgres.js';
import { SqliteStorage } from './sqlite.js';
import { parseStorageUrl, redactPassword } from './storage-url.js';
import { assertDatabaseExists } from './index.js';

export interface BackupReport {
  format: 'sqlite' | 'pg_dump-custom';
  file: string;
  bytes: number;
}

export async function backupDatabase(url: string, file: string): Promise<BackupReport> {
  refuseExisting(file, '--out', 'a backup file that does not exist yet');
  const target = parseStorageUrl(url);
  if (target.kind === 'sqlite') {
    assertDatabaseExists(target.path);
    const storage = new SqliteStorage(target.path);
    try {
      await storage.backup(file);
    } finally {
      await storage.close();
    }
    return { format: 'sqlite', file, bytes: statSync(file).size };
  }
  const storage = new PostgresStorage({ url: target.url });
  try {
    await storage.assertMigrated();
  } finally {
    await storage.close();
  }
  const { url: bare, env } = withoutPassword(target.url);
  await runTool('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', `--file=${file}`, `--dbname=${bare}`], env);
  return { format: 'pg_dump-custom', file, bytes: statSync(file).size };
}

export async function restoreDatabase(url: string, file: string): Promise<BackupReport> {
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new ConcordError(ErrorCode.NOT_FOUND, `there is no backup file ${file}`, { details: { field: '--from', received: file } });
  }
  const target = parseStorageUrl(url);
  if (target.kind === 'sqlite') {
    refuseExisting(target.path, '--db', 'a database file that does not exist yet (restoring never overwrites one)');
    // Only a Concord database is put in place.
    const check = new SqliteStorage(file);
    try {
      await check.countAudit();
    } catch (error) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${file} is not a backup of a Concord SQLite database: ${(error as Error).message}`, { details: { field: '--from', received: file }, cause: error });
    } finally {
      await check.close();
    }
    await mkdir(dirname(target.path), { recursive: true });
    await copyFile(file, target.path, constants.COPYFILE_EXCL);
    return { format: 'sqlite', file, bytes: statSync(file).size };
  }
  const storage = new PostgresStorage({ url: target.url });
  try {
    let empty = false;
    try {
      await storage.assertMigrated();
    } catch (error) {
      if (!(error instanceof ConcordError && error.code === ErrorCode.NOT_FOUND)) throw error;
      empty = true;
    }
    if (!empty) {
      throw new ConcordError(ErrorCode.CONFLICT, `the PostgreSQL database ${redactPassword(target.url)} already holds Concord data; restore into an empty database (createdb), so nothing in it is overwritten`, {
        details: { field: '--db', expected: 'an empty database' },
      });
    }
  } finally {
    await storage.close();
  }
  const { url: bare, env } = withoutPassword(target.url);
  await runTool('pg_restore', ['--no-owner', '--no-privileges', '--exit-on-error', '--single-transaction', `--dbname=${bare}`, file], env);
  return { format: 'pg_dump-custom', file, bytes: statSync(file).size };
}

function refuseExisting(path: string, field: string, expected: string): void {
  if (existsSync(path)) throw new ConcordError(ErrorCode.CONFLICT, `${path} already exists; Concord does not overwrite it`, { details: { field, expected, received: path } });
}

function withoutPassword(url: string): { url: string; env: NodeJS.ProcessEnv } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  return { url: parsed.toString(), env: password ? { ...process.env, PGPASSWORD: password } : process.env };
}

function runTool(tool: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new ConcordError(ErrorCode.UNAVAILABLE, `${tool} is not installed or not on PATH; it comes with PostgreSQL's client tools (apt-get install postgresql-client), of the server's version`, { details: { field: tool }, cause: error })
          : error,
      ),
    );
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new ConcordError(ErrorCode.STORAGE, `${tool} failed (exit ${code}): ${stderr.trim()}`, { details: { field: tool, received: code } })),
    );
  });
}
