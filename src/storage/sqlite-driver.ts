// The slice of better-sqlite3 that SqliteStorage uses, typed here so the project needs no
// extra type package. better-sqlite3 is CommonJS and synchronous; storage/sqlite.ts wraps
// it in the asynchronous Storage interface.

import { createRequire } from 'node:module';

export interface RunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

/** Values better-sqlite3 can bind: it refuses booleans and undefined. */
export type SqlValue = number | string | bigint | Buffer | null;

export interface Statement {
  run(...params: SqlValue[]): RunResult;
  get(...params: SqlValue[]): unknown;
  all(...params: SqlValue[]): unknown[];
}

export interface Transaction<A extends unknown[], R> {
  (...args: A): R;
  /** BEGIN IMMEDIATE: takes the write lock before the first read, so a read-then-write cannot race another process. */
  immediate(...args: A): R;
}

export interface Database {
  readonly open: boolean;
  readonly inTransaction: boolean;
  prepare(sql: string): Statement;
  exec(sql: string): void;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): Transaction<A, R>;
  /** SQLite's online backup API: a consistent copy of the database in `file`. */
  backup(file: string): Promise<unknown>;
  close(): void;
}

type DatabaseConstructor = new (path: string, options?: { timeout?: number }) => Database;

const require = createRequire(import.meta.url);

export function openDatabase(path: string, options: { busyTimeoutMs: number }): Database {
  const Sqlite = require('better-sqlite3') as DatabaseConstructor;
  return new Sqlite(path, { timeout: options.busyTimeoutMs });
}
