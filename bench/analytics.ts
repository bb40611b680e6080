// Federated analytics: latency of one query and bytes on the wire per member, for
// N ∈ {5, 50, 200} members over loopback HTTP (members in a separate process, each with its
// own schema-validated hospital file of 40 records, in the sites' mixed formats; every member
// reads and validates its file again before each query). Queries: a mean and a
// 16-bin histogram under secure aggregation (SecAgg+, integer encoding: four stages), and the
// same mean without it (one stage, only where an agreement allows it), so the table shows
// what the protection costs. Bytes are the member's task frames down and results up.

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCoordinator } from '../src/coordinator/server.js';
import { hospitalSchema, writeHospitals } from '../src/data/hospitals.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { SqliteStorage } from '../src/storage/sqlite.js';
import type { AnalyticsQueryRecord } from '../src/storage/storage.js';
import { printTable } from './table.js';

const QUERIES: { label: string; query: Record<string, unknown> }[] = [
  { label: 'mean, SecAgg+', query: { type: 'mean', field: 'glucose' } },
  { label: 'histogram 16 bins, SecAgg+', query: { type: 'histogram', field: 'age', bins: { low: 20, high: 100, count: 16 } } },
  { label: 'mean, no secure aggregation', query: { type: 'mean', field: 'glucose', secureAggregation: false } },
];

export async function benchAnalytics(options: { sizes?: number[]; repeats?: number } = {}): Promise<void> {
  const sizes = options.sizes ?? [5, 50, 200];
  const repeats = options.repeats ?? 3;
  const rows: string[][] = [];
  for (const n of sizes) {
    const dir = await mkdtemp(join(tmpdir(), 'concord-bench-analytics-'));
    const { files } = await writeHospitals({ out: dir, sites: n, sizes: Array.from({ length: n }, () => 40) });
    const specsFile = join(dir, 'specs.json');
    await writeFile(specsFile, JSON.stringify(files.map((f) => f.spec)));
    const storage = new SqliteStorage(join(dir, 'bench.sqlite'));
    await storage.migrate();
    const coordinator = await createCoordinator({
      storage,
      operatorToken: 'bench',
      initialParameters: async () => makeParameters([{ name: 'w', shape: [1] }]),
      maxPollMs: 20_000,
      board: { onlineWindowMs: 120_000, heartbeatTimeoutMs: 120_000 },
      analytics: { schema: hospitalSchema(), timeoutMs: 600_000 },
    });
    const url = await coordinator.listen(0, '127.0.0.1');
    const members = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./analytics-members.ts', import.meta.url)), url, specsFile], { stdio: 'inherit' });
    try {
      while (coordinator.board.available().length < n) await new Promise((r) => setTimeout(r, 100));
      for (const { label, query } of QUERIES) {
        const seconds: number[] = [];
        let bytes = 0;
        let cells = 0;
        for (let r = 0; r < repeats; r++) {
          const started = process.hrtime.bigint();
          const res = await coordinator.app.inject({ method: 'POST', url: '/v1/analytics', headers: { authorization: 'Bearer bench' }, payload: query });
          seconds.push(Number(process.hrtime.bigint() - started) / 1e9);
          const record = (res.json() as { query?: AnalyticsQueryRecord; error?: { message: string } }).query;
          if (record?.status !== 'completed') throw new Error(`benchmark query ${label} with ${n} members: ${record?.error ?? res.body}`);
          const result = record.result as { members: { bytesIn: number; bytesOut: number }[]; values: unknown[] };
          if (result.members.length !== n) throw new Error(`only ${result.members.length} of ${n} members contributed`);
          bytes = result.members.reduce((s, m) => s + m.bytesIn + m.bytesOut, 0) / n;
          cells = result.values.length;
        }
        seconds.sort((a, b) => a - b);
        rows.push([String(n), label, String(cells), seconds[Math.floor(seconds.length / 2)]!.toFixed(3), Math.round(bytes).toLocaleString('en-US')]);
      }
    } finally {
      members.kill('SIGTERM');
      await coordinator.close();
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
  printTable(`federated analytics: one query over N members (40 records each), loopback HTTP, median of ${repeats}`, ['members', 'query', 'released values', 'seconds', 'bytes/member'], rows);
}
