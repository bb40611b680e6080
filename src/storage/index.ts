// Opens the storage a URL names: `sqlite:PATH`, `sqlite::memory:` or a plain file path is
// the embedded SQLite backend; `postgres://…` (or `postgresql://…`) the PostgreSQL backend,
// whose driver is loaded only then.

import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { RetentionPolicy } from './retention.js';
import { SqliteStorage } from './sqlite.js';
import { parseStorageUrl } from './storage-url.js';
import type { Storage } from './storage.js';

export { SqliteStorage, type SqliteStorageOptions } from './sqlite.js';
export type * from './storage.js';
export { parseStorageUrl, redactPassword, type StorageTarget } from './storage-url.js';

export interface OpenStorageOptions {
  /**
   * Read-only commands (export, contributions, audit): a database that is not there, or a
   * PostgreSQL database without Concord's tables, is NOT_FOUND instead of a new, empty one,
   * and nothing is migrated.
   */
  existing?: boolean;
  /** Which checkpoints and kept updates to drop as rounds are stored. Default: keep all. */
  retention?: RetentionPolicy;
}

/** Returns a migrated store; the parent directory of a SQLite file is created if missing. */
export async function openStorage(url: string, options: OpenStorageOptions = {}): Promise<Storage> {
  const target = parseStorageUrl(url);
  const retention = options.retention ? { retention: options.retention } : {};
  let storage: Storage;
  if (target.kind === 'postgres') {
    const { PostgresStorage } = await import('./postgres.js');
    const pg = new PostgresStorage({ url: target.url, ...retention });
    if (options.existing) {
      try {
        await pg.assertMigrated();
      } catch (error) {
        await pg.close();
        throw error;
      }
      return pg;
    }
    storage = pg;
  } else {
    if (options.existing) assertDatabaseExists(target.path);
    if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
    storage = new SqliteStorage(target.path, retention);
  }
  try {
    await storage.migrate();
  } catch (error) {
    await storage.close();
    throw error;
  }
  return storage;
}

/** Throws NOT_FOUND unless a SQLite database file is at `path` (so that opening it creates nothing). */
export function assertDatabaseExists(path: string, field = '--db'): void {
  if (path === ':memory:') return;
  let file = false;
  try {
    file = statSync(path).isFile();
  } catch {
    // missing: said below
  }
  if (!file) {
    throw new ConcordError(ErrorCode.NOT_FOUND, `there is no coordinator database at ${path}; a command that reads one never creates it (check the path, or start the coordinator with --db ${path} first)`, {
      details: { field, expected: 'an existing SQLite database file', received: path },
    });
  }
}

