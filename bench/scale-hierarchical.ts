// Subsection `hierarchical` of `npm run bench -- scale`: one round's aggregation of K updates
// of the MNIST MLP (101,770 parameters) by shard aggregator processes over NATS JetStream
// (`concord aggregator`, src/distributed/), against the same weighted average in this process
// (core/aggregate.ts), side by side in one run. The hierarchical time includes publishing
// every update (407 KB each, through the object store), the shards' sums and the partials'
// return, all on loopback on this 2-core machine, so it shows the engine's overhead rather
// than a speed-up: the shards pay off when they run on other hosts and the updates are large.
// Then whole secure rounds (SecAgg+, simulated MNIST members) flat against per shard group:
// each group runs its own SecAgg+ instance and its shard takes the masks off its group's sum.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { weightedAverage } from '../src/core/aggregate.js';
import { seededRandom } from '../src/core/random.js';
import { MasterAggregator } from '../src/distributed/master-aggregator.js';
import type { ShardUpdate } from '../src/distributed/partial.js';
import { simulated } from './scale-simulation.js';
import { median, printTable } from './table.js';
import type { ScaleOptions } from './scale.js';

const CLI = fileURLToPath(new URL('../bin/concord.mjs', import.meta.url));
const NATS_SERVER = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';
const PARAMETERS = 101_770;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function waitForLine(child: ChildProcess, stream: 'stdout' | 'stderr', pattern: RegExp, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`${what}: the process exited (${code})`)));
    createInterface({ input: child[stream]! }).on('line', (line) => {
      if (pattern.test(line)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

function updatesOf(count: number): ShardUpdate[] {
  const random = seededRandom(15);
  return Array.from({ length: count }, (_, k) => {
    const data = new Float32Array(PARAMETERS);
    for (let i = 0; i < PARAMETERS; i++) data[i] = (random() - 0.5) * 0.1;
    return { memberId: `member-${String(k).padStart(4, '0')}`, weight: 20 + Math.floor(random() * 40), data };
  });
}

export async function benchHierarchical(options: ScaleOptions): Promise<void> {
  const title = 'scale (d) hierarchical aggregation over NATS JetStream on loopback, MNIST MLP updates (101,770 parameters, 407 KB each)';
  const dir = await mkdtemp(join(tmpdir(), 'concord-bench-nats-'));
  const port = await freePort();
  const nats = spawn(NATS_SERVER, ['-js', '-sd', dir, '-p', String(port), '-a', '127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const spawnFailed = new Promise<Error>((resolve) => nats.once('error', resolve));
  const started = await Promise.race([waitForLine(nats, 'stderr', /Server is ready/, 'nats-server').then(() => null), spawnFailed]).catch((e: unknown) => e as Error);
  if (started !== null) {
    console.log(`\n${title}: skipped — ${NATS_SERVER} did not start (${started.message}); install it with apt-get install nats-server`);
    await rm(dir, { recursive: true, force: true });
    return;
  }
  const url = `nats://127.0.0.1:${port}`;
  const aggregators: ChildProcess[] = [];
  try {
    const counts = options.quick ? [20] : [20, 100];
    const shardCounts = options.quick ? [2] : [1, 2, 4];
    const repeats = options.quick ? 2 : 3;
    for (let s = 0; s < Math.max(...shardCounts); s++) {
      const child = spawn(process.execPath, [CLI, 'aggregator', '--nats', url, '--shard', String(s), '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
      aggregators.push(child);
      await waitForLine(child, 'stdout', /"event":"ready"/, `aggregator ${s}`);
    }
    const rows: string[][] = [];
    for (const k of counts) {
      const updates = updatesOf(k);
      const flatTimes: number[] = [];
      for (let r = 0; r < repeats; r++) {
        const t0 = performance.now();
        weightedAverage(updates.map((u) => ({ data: u.data, weight: u.weight })));
        flatTimes.push((performance.now() - t0) / 1000);
      }
      const flat = median(flatTimes);
      rows.push([String(k), 'in this process', flat.toFixed(3), '1.00×']);
      for (const shards of shardCounts) {
        // A shard that stops answering fails the subsection with its name instead of hanging it.
        const master = await MasterAggregator.open({ servers: url, shards, partialTimeoutMs: 120_000 });
        try {
          const times: number[] = [];
          for (let r = 0; r < repeats; r++) times.push((await master.aggregate({ runId: 'bench', round: r + 1, updates })).seconds);
          const t = median(times);
          rows.push([String(k), `${shards} shard${shards === 1 ? '' : 's'} over JetStream`, t.toFixed(3), `${(t / flat).toFixed(1)}×`]);
        } finally {
          await master.close();
        }
      }
    }
    printTable(`${title}; median of ${repeats}; the time includes moving every update through JetStream`, ['updates', 'where', 's per round', '÷ in-process'], rows);

    // Secure rounds of simulated members (every member trains each round), flat and per shard group.
    const members = options.quick ? 20 : 40;
    const rounds = options.quick ? 2 : 3;
    const secureRows: string[][] = [];
    let flatSeconds = 0;
    for (const shards of [0, 2]) {
      const s = await simulated({ members, fraction: 1, evaluateFraction: 0, rounds, workers: 1, secure: true, ...(shards > 0 ? { nats: url, shards, minGroupSize: 2 } : {}) });
      const seconds = median(s.rounds.map((r) => r.seconds));
      if (shards === 0) flatSeconds = seconds;
      secureRows.push([String(members), shards === 0 ? 'one SecAgg+ instance (flat)' : `${shards} shard groups, SecAgg+ in each`, seconds.toFixed(2), `${(seconds / flatSeconds).toFixed(2)}×`, s.accuracy === null ? '—' : s.accuracy.toFixed(3)]);
    }
    printTable(
      `scale (d') secure aggregation per shard group: ${rounds} rounds of ${members} simulated MNIST members (all train; one worker thread), median round; the time includes the members' training`,
      ['members', 'aggregation', 's per round', '÷ flat', 'test accuracy'],
      secureRows,
    );
  } finally {
    for (const a of aggregators) a.kill('SIGTERM');
    nats.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await rm(dir, { recursive: true, force: true });
  }
}
