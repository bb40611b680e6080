// Subsections of `npm run bench -- scale` that run `concord simulate` (src/simulation/):
//
// simulation: MNIST rounds of virtual members (fraction 0.1, the MLP of concord simulate, one
// local epoch) at 1,000 and 10,000 members with 1 and 2 worker threads: seconds per round,
// enrolment time and peak memory. Flower's simulation engine is not installed here, so no
// Flower column is printed for it.
//
// fedbuff-stragglers: time to accuracy of FedBuff against synchronous FedAvg when 20 % of the
// members are 5× slower. Members get simulated device time (simulation/device-time.ts: 1 s
// per task, 5 s for the slow ones), so a synchronous round waits for its slowest member as a
// real one does. Both train 20 members at a time out of 100; FedAvg selects 20 per round,
// FedBuff keeps 20 training and applies every 10 arrivals.

import { silentProgress } from '../src/cli/progress.js';
import { SIMULATE_DEFAULTS, type SimulateOptions } from '../src/simulation/options.js';
import { simulate, type SimulationSummary } from '../src/simulation/simulate.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, printTable } from './table.js';
import type { ScaleOptions } from './scale.js';

export async function simulated(settings: Partial<SimulateOptions>): Promise<SimulationSummary> {
  const dir = await mkdtemp(join(tmpdir(), 'concord-bench-sim-'));
  try {
    return await simulate({ ...SIMULATE_DEFAULTS, ...settings, dir: join(dir, 'sim'), progress: silentProgress });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function benchSimulation(options: ScaleOptions): Promise<void> {
  const populations = options.quick ? [1_000] : [1_000, 10_000];
  const rounds = options.quick ? 1 : 2;
  const rows: string[][] = [];
  for (const members of populations) {
    for (const workers of [1, 2]) {
      const s = await simulated({ members, fraction: 0.1, evaluateFraction: 0, rounds, workers });
      rows.push([
        members.toLocaleString('en-US'),
        String(Math.round(members * 0.1)),
        String(workers),
        median(s.rounds.map((r) => r.seconds)).toFixed(1),
        s.enrollSeconds.toFixed(1),
        (s.peakRssBytes / 2 ** 30).toFixed(2),
        s.accuracy === null ? '—' : s.accuracy.toFixed(3),
      ]);
    }
  }
  printTable(
    `scale (b) simulated MNIST rounds (concord simulate: fraction 0.1, MLP 784-128-10, 1 local epoch, batch 8), ${rounds} round${rounds === 1 ? '' : 's'} each; goal ≤ 60 s per round of 1,000 members, population memory < 2 GiB. Flower's simulation engine is not installed here: no side-by-side figure`,
    ['population', 'members/round', 'worker threads', 's/round (median)', 'enrolment s', 'peak RSS GiB', 'test accuracy'],
    rows,
  );
}

/** Seconds from the run's start to the first round at or above `target` accuracy; null if never. */
function timeTo(summary: SimulationSummary, target: number): { seconds: number; round: number } | null {
  const hit = summary.rounds.find((r) => r.accuracy !== null && r.accuracy >= target);
  return hit ? { seconds: hit.elapsed, round: hit.round } : null;
}

export async function benchFedBuffStragglers(options: ScaleOptions): Promise<void> {
  const target = options.quick ? 0.7 : 0.8;
  const base: Partial<SimulateOptions> = { members: 100, fraction: 0.2, evaluateFraction: 0, workers: 1, deviceSeconds: 1, slowFraction: 0.2, slowFactor: 5 };
  const sync = await simulated({ ...base, strategy: 'fedavg', rounds: options.quick ? 8 : 14 });
  const async = await simulated({ ...base, strategy: 'fedbuff', strategyOptions: { bufferSize: 10, concurrency: 20 }, rounds: options.quick ? 16 : 28 });
  const a = timeTo(sync, target);
  const b = timeTo(async, target);
  const row = (name: string, s: SimulationSummary, t: typeof a): string[] => [
    name,
    t ? t.seconds.toFixed(1) : `not reached (${s.rounds.at(-1)?.elapsed.toFixed(1)} s)`,
    t ? String(t.round) : '—',
    String(s.rounds.length),
    s.accuracy === null ? '—' : s.accuracy.toFixed(3),
  ];
  printTable(
    `scale (c) time to ${target} test accuracy, 100 simulated MNIST members, 20 % of them 5× slower (device time 1 s, slow 5 s), 20 training at a time. ` +
      (a && b ? `FedBuff reaches it ${(a.seconds / b.seconds).toFixed(2)}× sooner` : 'one of them did not reach it'),
    ['strategy', `s to ${target}`, 'rounds / buffers applied by then', 'rounds / buffers run', 'final accuracy'],
    [row('fedavg (synchronous, 20 per round)', sync, a), row('fedbuff (K = 10, 20 concurrent)', async, b)],
  );
}
