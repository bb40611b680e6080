// `concord db copy`: moves a whole consortium from one database to another (SQLite to
// PostgreSQL, or back, or between two of a kind), table by table in write order
// (storage/tables.ts), in one transaction of the target: it holds everything afterwards
// or nothing. The target must hold no consortium yet, so nothing of it is overwritten;
// after the copy every table's row count is compared with the source's.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { Storage } from './storage.js';
import { TABLES, type TableAccess } from './tables.js';

export type CopyableStorage = Storage & TableAccess;

export interface CopyReport {
  /** Rows copied per table. */
  tables: Record<string, number>;
}

export function isCopyable(storage: Storage): storage is CopyableStorage {
  const s = storage as Partial<TableAccess>;
  return typeof s.readRows === 'function' && typeof s.writeRows === 'function' && typeof s.countRows === 'function';
}

export async function copyStorage(source: CopyableStorage, target: CopyableStorage, options: { onTable?: (table: string, rows: number) => void } = {}): Promise<CopyReport> {
  const occupied: string[] = [];
  for (const table of TABLES) if ((await target.countRows(table)) > 0) occupied.push(table.name);
  if (occupied.length > 0) {
    throw new ConcordError(ErrorCode.CONFLICT, `the target database already holds a consortium (rows in ${occupied.join(', ')}); copy into an empty database, so nothing in it is overwritten`, {
      details: { field: '--to', expected: 'an empty database', received: occupied },
    });
  }
  const tables: Record<string, number> = {};
  await target.transaction(async (tx) => {
    const into = tx as unknown as TableAccess;
    for (const table of TABLES) {
      const batch = table.heavy ? 8 : 1000;
      let copied = 0;
      for (;;) {
        const rows = await source.readRows(table, copied, batch);
        if (rows.length === 0) break;
        await into.writeRows(table, rows);
        copied += rows.length;
      }
      tables[table.name] = copied;
      options.onTable?.(table.name, copied);
    }
  });
  for (const table of TABLES) {
    const [from, to] = [await source.countRows(table), await target.countRows(table)];
    if (from !== to || to !== tables[table.name]) {
      throw new ConcordError(ErrorCode.STORAGE, `after the copy ${table.name} has ${to} rows in the target but ${from} in the source (was the source written to meanwhile? stop its coordinator first)`, {
        details: { field: table.name, expected: from, received: to },
      });
    }
  }
  return { tables };
}
