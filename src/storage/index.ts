// Opens the storage a URL names: `sqlite:PATH`, `sqlite::memory:` or a plain file path is
// the embedded SQLite backend; `postgres://…` is the deployment backend (not in this build).

import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { SqliteStorage } from './sqlite.js';
import type { Storage } from './storage.js';

export { SqliteStorage, type SqliteStorageOptions } from './sqlite.js';
export type * from './storage.js';

export type StorageTarget = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

const EXPECTED = 'sqlite:PATH, a file path, or postgres://…';

export function parseStorageUrl(url: string): StorageTarget {
  const trimmed = url.trim();
  if (/^postgres(ql)?:\/\//i.test(trimmed)) return { kind: 'postgres', url: trimmed };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) && !/^sqlite:/i.test(trimmed)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `unsupported storage URL scheme in ${trimmed}; expected ${EXPECTED}`, {
      details: { field: 'db', expected: EXPECTED, received: trimmed },
    });
  }
  // sqlite:///abs/path and sqlite://rel/path are accepted too, as other tools write them.
  const path = /^sqlite:/i.test(trimmed) ? trimmed.slice('sqlite:'.length).replace(/^\/\//, '') : trimmed;
  if (path === '') {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `storage URL ${JSON.stringify(url)} names no database file; expected ${EXPECTED}`, {
      details: { field: 'db', expected: EXPECTED, received: url },
    });
  }
  return { kind: 'sqlite', path };
}

/**
 * Returns a migrated store; the parent directory of a SQLite file is created if missing.
 * With `existing` (read-only commands: export, contributions, audit) a database that is not
 * there is NOT_FOUND instead of a new, empty one.
 */
export async function openStorage(url: string, options: { existing?: boolean } = {}): Promise<Storage> {
  const target = parseStorageUrl(url);
  if (options.existing && target.kind === 'sqlite') assertDatabaseExists(target.path);
  if (target.kind === 'postgres') {
    throw new ConcordError(ErrorCode.UNAVAILABLE, 'PostgreSQL storage is not available in this build yet; use a SQLite file (sqlite:PATH) for now', {
      details: { field: 'db', expected: 'sqlite:PATH or a file path', received: redactPassword(target.url) },
    });
  }
  if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
  const storage = new SqliteStorage(target.path);
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

function redactPassword(url: string): string {
  return url.replace(/^([^:]+:\/\/[^:/@]+):[^@]*@/, '$1:***@');
}
