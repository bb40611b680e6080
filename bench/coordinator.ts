// Coordinator overhead: rounds with N ∈ {10, 100, 500} no-op members (they return the
// model they received) over loopback HTTP, members in a separate process. Reports seconds
// per round and bytes on the wire per member per round against 2 × the model size (one
// model down, one up — the floor for any protocol that ships full models). Side by side:
// the embedded coordinator (SQLite, task board in memory) and one PostgreSQL replica
// (tasks, leases and wake-ups in the database), whose ratio is the price of replication.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCoordinator } from '../src/coordinator/server.js';
import { RunConfigSchema } from '../src/protocol/messages.js';
import { makeParameters, totalSize } from '../src/protocol/tensors.js';
import { SqliteStorage } from '../src/storage/sqlite.js';
import { PostgresStorage } from '../src/storage/postgres.js';
import { PostgresCoordination } from '../src/storage/postgres-coordination.js';
import type { Storage } from '../src/storage/storage.js';
import { postgresBinDir, startPostgres, type TestPostgres } from '../test/support/postgres.js';
import { printTable } from './table.js';

const SPECS = [
  { name: 'dense_1/kernel', shape: [784, 128] },
  { name: 'dense_1/bias', shape: [128] },
  { name: 'output/kernel', shape: [128, 10] },
  { name: 'output/bias', shape: [10] },
];

export async function benchCoordinator(options: { sizes?: number[]; rounds?: number } = {}): Promise<void> {
  const sizes = options.sizes ?? [10, 100, 500];
  const rounds = options.rounds ?? 3;
  const modelBytes = totalSize(SPECS) * 4;
  const rows: string[][] = [];
  const server: TestPostgres | null = postgresBinDir() ? await startPostgres() : null;
  const backends = server ? (['sqlite', 'postgres'] as const) : (['sqlite'] as const);
  const perRound = new Map<string, number>();
  let databases = 0;
  for (const n of sizes) for (const backend of backends) {
    const dir = await mkdtemp(join(tmpdir(), 'concord-bench-'));
    let storage: Storage;
    let coordination: PostgresCoordination | null = null;
    if (backend === 'postgres') {
      const pg = new PostgresStorage({ url: await server!.createDatabase(`bench${++databases}`) });
      await pg.migrate();
      coordination = new PostgresCoordination(pg);
      await coordination.start();
      storage = pg;
    } else {
      storage = new SqliteStorage(join(dir, 'bench.sqlite'));
      await storage.migrate();
    }
    const coordinator = await createCoordinator({
      storage,
      ...(coordination ? { replication: { coordination } } : {}),
      operatorToken: 'bench',
      initialParameters: async () => makeParameters(SPECS, Float32Array.from({ length: totalSize(SPECS) }, (_, i) => Math.sin(i))),
      parameterCount: () => totalSize(SPECS),
      retryDelayMs: 100,
    });
    const url = await coordinator.listen(0, '127.0.0.1');
    const members = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./noop-members.ts', import.meta.url)), url, String(n), `m${n}`], { stdio: 'inherit' });
    try {
      while (coordinator.board.available().length < n) await new Promise((r) => setTimeout(r, 100));
      const config = RunConfigSchema.parse({
        model: { family: 'mlp', inputShape: [784], hidden: [128], classes: 10 },
        rounds,
        minAvailableMembers: n,
        minTrainMembers: n,
        fractionEvaluate: 0,
        minEvaluateMembers: 0,
        roundDeadlineSeconds: 600,
      });
      const started = process.hrtime.bigint();
      const run = await storage.createRun(config, makeParameters(SPECS));
      // A replica drives a run once it holds its lease (its supervisor claims it within a tick).
      if (!coordination) coordinator.startRun(run);
      while (coordination && coordinator.driving().length === 0 && (await storage.getRun(run.runId))!.status === 'pending') await new Promise((r) => setTimeout(r, 20));
      await coordinator.idle();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const status = (await storage.getRun(run.runId))!.status;
      if (status !== 'completed') throw new Error(`benchmark run ended ${status}`);
      const metrics = await storage.listMemberMetrics(run.runId);
      const perMemberRound = metrics.reduce((s, m) => s + m.bytesIn + m.bytesOut, 0) / metrics.length;
      const roundRows = await storage.listRounds(run.runId);
      const roundSeconds = roundRows.map((r) => (r.completedAt - r.startedAt) / 1000).sort((a, b) => a - b);
      perRound.set(`${backend} ${n}`, seconds / rounds);
      const sqlite = perRound.get(`sqlite ${n}`);
      rows.push([
        String(n),
        backend === 'sqlite' ? 'SQLite, board in memory' : 'PostgreSQL replica',
        (modelBytes / 1e6).toFixed(3),
        roundSeconds[Math.floor(roundSeconds.length / 2)]!.toFixed(3),
        (seconds / rounds).toFixed(3),
        Math.round(perMemberRound).toLocaleString('en-US'),
        (perMemberRound / (2 * modelBytes)).toFixed(4),
        backend === 'sqlite' || sqlite === undefined ? '1.00' : (seconds / rounds / sqlite).toFixed(2),
      ]);
    } finally {
      members.kill('SIGTERM');
      await coordinator.close();
      await coordination?.close();
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
  await server?.stop();
  printTable(
    `(b) coordinator overhead: no-op members over loopback, fractionEvaluate = 0${server ? '' : ' (no PostgreSQL server binaries here: SQLite only)'}`,
    ['members', 'backend', 'model MB', 's/round (median)', 's/round (mean, incl. commit)', 'bytes/member/round', 'ratio to 2×model', 'time vs SQLite'],
    rows,
  );
}
