// `concord db migrate|backup|restore|copy`: the coordinator's database, SQLite or
// PostgreSQL (db-actions.ts, loaded when one runs).

import type { Command } from 'commander';
import { lazyAction } from './options.js';

const actions = () => import('./db-actions.js');

export function registerDbCommands(program: Command): void {
  const db = program.command('db').description("the coordinator's database: create or upgrade its schema, back it up, restore it, copy a consortium between databases");

  db.command('migrate')
    .description('create or upgrade the schema (coordinators also do this when they start); refuses a schema newer than this build')
    .requiredOption('--db <url>', 'sqlite:PATH, a file path, or postgres://user:password@host:port/database')
    .option('--json', 'machine-readable output')
    .action(lazyAction(actions, 'dbMigrate'));

  db.command('backup')
    .description('a consistent backup, taken while coordinators run: SQLite backup API, or pg_dump (custom format) for PostgreSQL')
    .requiredOption('--db <url>', 'the database to back up')
    .requiredOption('--out <file>', 'backup file to write (never overwritten)')
    .option('--json', 'machine-readable output')
    .action(lazyAction(actions, 'dbBackup'));

  db.command('restore')
    .description('restore a backup into a database that holds no Concord data yet (a new SQLite file, or an empty PostgreSQL database: pg_restore)')
    .requiredOption('--db <url>', 'the database to restore into')
    .requiredOption('--from <file>', 'a file written by "concord db backup"')
    .option('--json', 'machine-readable output')
    .action(lazyAction(actions, 'dbRestore'));

  db.command('copy')
    .description('copy a whole consortium (runs, rounds, checkpoints, audit log, governance records) into an empty database, e.g. from SQLite to PostgreSQL; stop the coordinator first')
    .requiredOption('--from <url>', 'source database, e.g. sqlite:.concord/coordinator.sqlite')
    .requiredOption('--to <url>', 'target database, e.g. postgres://concord@db:5432/concord (must hold no consortium)')
    .option('--json', 'machine-readable output')
    .action(lazyAction(actions, 'dbCopy'));
}
