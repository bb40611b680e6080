// `npm run bench -- scale`: how far one coordinator and one machine go. Each subsection is
// one entry of SCALE_SUBSECTIONS (a name and a function that prints its own table): no-op
// rounds (here), simulation and FedBuff with stragglers (scale-simulation.ts), hierarchical
// aggregation (scale-hierarchical.ts).
//
// noop-rounds: rounds of N no-op members (they return the model they received; no
// training) over loopback HTTP, members in separate processes (bench/noop-members.ts, at
// most 500 each), the coordinator in this one on SQLite with the run's defaults (members'
// updates kept for rounds of up to 100 members; larger rounds sum them as they arrive). The
// first round also fills the coordinator's pool of upload buffers and warms the JIT, so the
// median is over 5 rounds (3 with --quick). It prints the round's wall time (from one
// round's commit to the next, so the commit is included), the coordinator's own CPU seconds
// per member per round (process.cpuUsage of this process, which is the coordinator), and the
// bytes on the wire per member per round against 2 × the model (one model down, one up). Flower's figures are quoted from the
// issue's side-by-side measurement on this machine type (Flower's own engine, the same
// no-op members and model); Flower is measured here instead when `flwr` is importable.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCoordinator } from '../src/coordinator/server.js';
import { RunConfigSchema } from '../src/protocol/messages.js';
import { makeParameters, totalSize } from '../src/protocol/tensors.js';
import { SqliteStorage } from '../src/storage/sqlite.js';
import type { RunEvent } from '../src/storage/storage.js';
import { benchHierarchical } from './scale-hierarchical.js';
import { benchFedBuffStragglers, benchSimulation } from './scale-simulation.js';
import { median, printTable } from './table.js';

export interface ScaleOptions {
  quick: boolean;
}

export interface ScaleSubsection {
  name: string;
  run: (options: ScaleOptions) => Promise<void>;
}

/** The MNIST MLP of the coordinator section: 784-128-10, 101,770 float32 parameters (407 KB). */
export const NOOP_MODEL_SPECS = [
  { name: 'dense_1/kernel', shape: [784, 128] },
  { name: 'dense_1/bias', shape: [128] },
  { name: 'output/kernel', shape: [128, 10] },
  { name: 'output/bias', shape: [10] },
];

/** Seconds per no-op round of Flower's engine, quoted from issue 15's side-by-side measurement (not measured here). */
export const FLOWER_NOOP_ROUND_SECONDS: Readonly<Record<number, number>> = { 100: 0.49, 500: 2.34, 1000: 5.15 };
/** Concord's seconds per no-op round in the same measurement, before this work. */
export const CONCORD_BEFORE_NOOP_ROUND_SECONDS: Readonly<Record<number, number>> = { 100: 0.84, 500: 4.15, 1000: 8.24 };

export interface NoopRoundsResult {
  members: number;
  rounds: number;
  /** Median over rounds of the time from one round's commit to the next (the first from the run's start). */
  roundSeconds: number;
  /** Coordinator CPU (user + system) over all rounds, per member per round. */
  cpuSecondsPerMemberRound: number;
  bytesPerMemberRound: number;
  modelBytes: number;
}

const MEMBERS_PER_PROCESS = 500;

/** Runs `rounds` no-op rounds with `members` members; the coordinator runs in this process. */
export async function noopRounds(options: { members: number; rounds: number; keepUpdates?: boolean }): Promise<NoopRoundsResult> {
  const { members: n, rounds } = options;
  const specs = NOOP_MODEL_SPECS;
  const dir = await mkdtemp(join(tmpdir(), 'concord-scale-'));
  const storage = new SqliteStorage(join(dir, 'scale.sqlite'));
  await storage.migrate();
  const completedAt: number[] = [];
  const coordinator = await createCoordinator({
    storage,
    operatorToken: 'bench',
    initialParameters: async () => makeParameters(specs, Float32Array.from({ length: totalSize(specs) }, (_, i) => Math.sin(i))),
    parameterCount: () => totalSize(specs),
    retryDelayMs: 100,
    onEvent: (e: RunEvent) => {
      if (e.kind === 'round-completed') completedAt.push(performance.now());
    },
  });
  const url = await coordinator.listen(0, '127.0.0.1');
  // At most MEMBERS_PER_PROCESS members per child: one event loop with 2,000 members fell
  // behind on its own heartbeats, and the task board rightly called half of them silent.
  const children = Array.from({ length: Math.ceil(n / MEMBERS_PER_PROCESS) }, (_, c) => {
    const count = Math.min(MEMBERS_PER_PROCESS, n - c * MEMBERS_PER_PROCESS);
    return spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./noop-members.ts', import.meta.url)), url, String(count), `s${n}p${c}`], { stdio: 'inherit' });
  });
  try {
    while (coordinator.board.available().length < n) {
      const exited = children.find((child) => child.exitCode !== null);
      if (exited) throw new Error(`a no-op members process exited with ${exited.exitCode} before all ${n} enrolled`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const config = RunConfigSchema.parse({
      model: { family: 'mlp', inputShape: [784], hidden: [128], classes: 10 },
      rounds,
      minAvailableMembers: n,
      minTrainMembers: n,
      fractionEvaluate: 0,
      minEvaluateMembers: 0,
      roundDeadlineSeconds: 600,
      ...(options.keepUpdates !== undefined ? { keepUpdates: options.keepUpdates } : {}),
    });
    const run = await storage.createRun(config, makeParameters(specs));
    const cpu = process.cpuUsage();
    const started = performance.now();
    coordinator.startRun(run);
    await coordinator.idle();
    const used = process.cpuUsage(cpu);
    const status = (await storage.getRun(run.runId))!.status;
    if (status !== 'completed') throw new Error(`no-op run with ${n} members ended ${status}: ${(await storage.getRun(run.runId))!.error ?? ''}`);
    const metrics = await storage.listMemberMetrics(run.runId);
    const intervals = completedAt.map((t, i) => (t - (i === 0 ? started : completedAt[i - 1]!)) / 1000);
    return {
      members: n,
      rounds,
      roundSeconds: median(intervals),
      cpuSecondsPerMemberRound: (used.user + used.system) / 1e6 / (n * rounds),
      bytesPerMemberRound: metrics.reduce((s, m) => s + m.bytesIn + m.bytesOut, 0) / metrics.length,
      modelBytes: totalSize(specs) * 4,
    };
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await coordinator.close();
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Whether Flower can be imported here (then it should be measured side by side, not quoted). */
export function flowerInstalled(): boolean {
  const probe = spawnSync('python3', ['-c', 'import flwr'], { stdio: 'ignore' });
  return probe.status === 0;
}

async function benchNoopRounds(options: ScaleOptions): Promise<void> {
  const sizes = options.quick ? [100, 500] : [100, 500, 1000, 2000];
  const rounds = options.quick ? 3 : 5;
  const flower = flowerInstalled();
  const rows: string[][] = [];
  for (const n of sizes) {
    let r: NoopRoundsResult;
    try {
      r = await noopRounds({ members: n, rounds });
    } catch (error) {
      // A size this machine cannot carry is a result too: its row says why, the others still print.
      rows.push([String(n), `failed: ${(error instanceof Error ? error.message : String(error)).slice(0, 160)}`, '—', '—', '—', '—', '—', '—']);
      continue;
    }
    const quoted = FLOWER_NOOP_ROUND_SECONDS[n];
    const before = CONCORD_BEFORE_NOOP_ROUND_SECONDS[n];
    rows.push([
      String(n),
      r.roundSeconds.toFixed(3),
      (r.cpuSecondsPerMemberRound * 1000).toFixed(3),
      Math.round(r.bytesPerMemberRound).toLocaleString('en-US'),
      (r.bytesPerMemberRound / (2 * r.modelBytes)).toFixed(4),
      quoted === undefined ? '—' : quoted.toFixed(2),
      quoted === undefined ? '—' : `${(quoted / r.roundSeconds).toFixed(2)}×`,
      before === undefined ? '—' : `${(before / r.roundSeconds).toFixed(2)}×`,
    ]);
  }
  printTable(
    `scale (a) no-op round overhead, one coordinator on SQLite, ${rounds} rounds each, fractionEvaluate = 0, members over loopback in processes of at most ${MEMBERS_PER_PROCESS}. ` +
      `Flower: ${flower ? 'flwr is installed here but no side-by-side harness is wired yet; the figures are' : 'not installed here (python3 -c "import flwr" fails); its figures are'} quoted from issue 15's side-by-side measurement of Flower's own engine`,
    ['members', 's/round (median, incl. commit)', 'coordinator CPU ms/member/round', 'bytes/member/round', 'ratio to 2×model', 'Flower s/round (quoted)', 'Flower ÷ Concord', 'speed-up vs issue\'s Concord'],
    rows,
  );
}

export const SCALE_SUBSECTIONS: ScaleSubsection[] = [
  { name: 'noop-rounds', run: benchNoopRounds },
  { name: 'simulation', run: benchSimulation },
  { name: 'fedbuff-stragglers', run: benchFedBuffStragglers },
  { name: 'hierarchical', run: benchHierarchical },
];

/** Runs every subsection, or only those named in `only`. */
export async function benchScale(options: ScaleOptions & { only?: readonly string[] }): Promise<void> {
  for (const s of SCALE_SUBSECTIONS) {
    if (options.only && options.only.length > 0 && !options.only.includes(s.name)) continue;
    await s.run(options);
  }
}
