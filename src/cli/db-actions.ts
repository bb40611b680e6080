// What `concord db …` does (registered in db-commands.ts).

import { backupDatabase, restoreDatabase } from '../storage/backup.js';
import { copyStorage, isCopyable } from '../storage/copy.js';
import { openStorage, redactPassword } from '../storage/index.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { Storage } from '../storage/storage.js';

const say = (json: boolean | undefined, value: unknown, human: string): void => {
  process.stdout.write(json ? JSON.stringify(value) + '\n' : human + '\n');
};

export async function dbMigrate(opts: { db: string; json?: boolean }): Promise<void> {
  const storage = await openStorage(opts.db);
  await storage.close();
  say(opts.json, { db: redactPassword(opts.db), migrated: true }, `schema of ${redactPassword(opts.db)} is up to date`);
}

export async function dbBackup(opts: { db: string; out: string; json?: boolean }): Promise<void> {
  const report = await backupDatabase(opts.db, opts.out);
  say(opts.json, { db: redactPassword(opts.db), ...report }, `backed up ${redactPassword(opts.db)} to ${report.file} (${report.format}, ${report.bytes} bytes)`);
}

export async function dbRestore(opts: { db: string; from: string; json?: boolean }): Promise<void> {
  const report = await restoreDatabase(opts.db, opts.from);
  say(opts.json, { db: redactPassword(opts.db), ...report }, `restored ${report.file} into ${redactPassword(opts.db)}`);
}

export async function dbCopy(opts: { from: string; to: string; json?: boolean }): Promise<void> {
  const source = await openStorage(opts.from, { existing: true });
  let target: Storage | undefined;
  try {
    target = await openStorage(opts.to);
    if (!isCopyable(source) || !isCopyable(target)) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'both databases must be SQLite or PostgreSQL', { details: { field: '--to' } });
    }
    const report = await copyStorage(source, target);
    const total = Object.values(report.tables).reduce((a, b) => a + b, 0);
    say(
      opts.json,
      { from: redactPassword(opts.from), to: redactPassword(opts.to), ...report },
      `copied ${total} rows from ${redactPassword(opts.from)} to ${redactPassword(opts.to)}: ${Object.entries(report.tables).map(([t, n]) => `${t} ${n}`).join(', ')}`,
    );
  } finally {
    await source.close();
    await target?.close();
  }
}
