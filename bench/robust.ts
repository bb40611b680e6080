// Cost of the Byzantine-robust rules against plain FedAvg: coordinateMedian, trimmedMean
// (β = 0.2), the Krum pairwise distances + scores, and clipping every update to a norm
// bound (the work fedavg-normbound adds), each timed on the same K updates of P float32
// parameters as weightedAverage and reported as a multiple of its time.

import { weightedAverage } from '../src/core/aggregate.js';
import { coordinateMedian, distancesTo, krumScores, trimmedMean } from '../src/core/robust.js';
import { seededRandom } from '../src/core/random.js';
import { printTable, timeMedian } from './table.js';

export interface RobustBenchOptions {
  /** Smaller sizes for a smoke run. */
  quick?: boolean;
  /** Numbers of updates. Default [10, 50]. */
  ks?: number[];
  /** Parameters per update. Default [1e5, 1e6] (quick: [1e5]). */
  ps?: number[];
}

export interface RobustRow {
  K: number;
  P: number;
  /** Seconds per call. */
  weightedAverage: number;
  median: number;
  trimmedMean: number;
  krum: number;
  normClip: number;
}

function makeUpdates(K: number, P: number): Float32Array[] {
  const random = seededRandom(K, P);
  return Array.from({ length: K }, () => {
    const v = new Float32Array(P);
    for (let i = 0; i < P; i++) v[i] = random() - 0.5;
    return v;
  });
}

export async function benchRobust(options: RobustBenchOptions = {}): Promise<RobustRow[]> {
  const ks = options.ks ?? [10, 50];
  const ps = options.ps ?? (options.quick ? [100_000] : [100_000, 1_000_000]);
  const rows: RobustRow[] = [];
  for (const K of ks) {
    for (const P of ps) {
      const vectors = makeUpdates(K, P);
      const out = new Float32Array(P);
      const inputs = vectors.map((data, k) => ({ data, weight: 10 + k }));
      // Fewer repeats for the big cases: Krum at K = 50, P = 1e6 takes about a second.
      const repeats = K * P >= 5e7 ? 3 : 5;
      const time = (fn: () => unknown) => timeMedian(fn, { repeats, warmup: 1 });
      const global = vectors[0]!;
      rows.push({
        K,
        P,
        weightedAverage: time(() => weightedAverage(inputs, out)),
        median: time(() => coordinateMedian(vectors, out)),
        trimmedMean: time(() => trimmedMean(vectors, 0.2, out)),
        krum: time(() => krumScores(vectors, Math.max(0, Math.floor((K - 3) / 2)))),
        normClip: time(() => distancesTo(global, vectors)),
      });
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const ms = (s: number) => (s * 1e3).toFixed(1);
  const x = (s: number, base: number) => `${(s / base).toFixed(1)}×`;
  printTable(
    '(c) robust aggregation: milliseconds per call, and × the time of weightedAverage on the same updates',
    ['K', 'P', 'weightedAverage ms', 'median ms', 'trimmed ms', 'krum ms', 'norms ms', 'median ×', 'trimmed ×', 'krum ×', 'norms ×'],
    rows.map((r) => [
      String(r.K),
      r.P.toLocaleString('en-US'),
      ms(r.weightedAverage),
      ms(r.median),
      ms(r.trimmedMean),
      ms(r.krum),
      ms(r.normClip),
      x(r.median, r.weightedAverage),
      x(r.trimmedMean, r.weightedAverage),
      x(r.krum, r.weightedAverage),
      x(r.normClip, r.weightedAverage),
    ]),
  );
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) await benchRobust({ quick: process.argv.includes('--quick') });
