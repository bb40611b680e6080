// Aggregation throughput: weightedAverage over K updates of P float32 parameters against a
// plain copy of the same input bytes (each update copied with TypedArray.set into one
// destination of P values). Both read K·P·4 bytes; they run interleaved, repetition by
// repetition, so that load from other processes hits both alike.

import { freemem } from 'node:os';
import { weightedAverage } from '../src/core/aggregate.js';
import { simdAvailable } from '../src/core/weighted-sum-kernel.js';
import { median, printTable, timeOnce } from './table.js';

export interface AggregationBenchOptions {
  /** Smaller sizes for a smoke run. */
  quick?: boolean;
  /** Numbers of updates. Default [10, 100]. */
  ks?: number[];
  /** Parameters per update. Default [1e5, 1e6, 1e7] (quick: [1e5, 1e6]). */
  ps?: number[];
  /** Largest input to allocate, in bytes; larger cases are skipped. Default 8 GB, and at most 60 % of free memory. */
  maxBytes?: number;
}

export interface AggregationRow {
  K: number;
  P: number;
  inputBytes: number;
  repeats: number;
  averageGBs: number;
  copyGBs: number;
  ratio: number;
  skipped?: string;
}

/** Distinct buffers of arbitrary finite values, written once so every page is resident. */
function makeUpdates(K: number, P: number): { data: Float32Array; weight: number }[] {
  const seed = new Float32Array(Math.min(P, 65_536));
  for (let i = 0; i < seed.length; i++) seed[i] = Math.sin(i) * 0.01;
  return Array.from({ length: K }, (_, k) => {
    const data = new Float32Array(P);
    for (let at = 0; at < P; at += seed.length) data.set(seed.subarray(0, Math.min(seed.length, P - at)), at);
    data[0] = k;
    return { data, weight: 100 + k };
  });
}

export async function benchAggregation(options: AggregationBenchOptions = {}): Promise<AggregationRow[]> {
  const ks = options.ks ?? [10, 100];
  const ps = options.ps ?? (options.quick ? [100_000, 1_000_000] : [100_000, 1_000_000, 10_000_000]);
  const maxBytes = Math.min(options.maxBytes ?? 8e9, freemem() * 0.6);
  const rows: AggregationRow[] = [];
  for (const K of ks) {
    for (const P of ps) {
      const inputBytes = K * P * 4;
      if (inputBytes + P * 8 > maxBytes) {
        rows.push({ K, P, inputBytes, repeats: 0, averageGBs: NaN, copyGBs: NaN, ratio: NaN, skipped: `needs ${(inputBytes / 1e9).toFixed(1)} GB` });
        continue;
      }
      let updates: { data: Float32Array; weight: number }[] | null = makeUpdates(K, P);
      const inputs = updates;
      const out = new Float32Array(P);
      const copy = () => {
        for (const u of inputs) out.set(u.data);
      };
      const average = () => weightedAverage(inputs, out);
      // About 2 s of input per method, within 3..25 repetitions.
      const repeats = Math.max(3, Math.min(25, Math.round(16e9 / inputBytes)));
      copy();
      average();
      const copyTimes: number[] = [];
      const averageTimes: number[] = [];
      for (let r = 0; r < repeats; r++) {
        copyTimes.push(timeOnce(copy));
        averageTimes.push(timeOnce(average));
      }
      const copyGBs = inputBytes / median(copyTimes) / 1e9;
      const averageGBs = inputBytes / median(averageTimes) / 1e9;
      rows.push({ K, P, inputBytes, repeats, averageGBs, copyGBs, ratio: averageGBs / copyGBs });
      updates = null;
      await new Promise((resolve) => setImmediate(resolve)); // let the buffers go before the next size
    }
  }
  const fmt = (n: number, digits = 2) => (Number.isNaN(n) ? '-' : n.toFixed(digits));
  printTable(
    `(a) aggregation: weightedAverage vs copy of the same input bytes (${simdAvailable() ? 'WebAssembly SIMD kernel' : 'scalar kernel'}; distinct buffers; median of interleaved repeats)`,
    ['K', 'P', 'input GB', 'repeats', 'weightedAverage GB/s', 'copy GB/s', 'ratio', 'note'],
    rows.map((r) => [String(r.K), r.P.toLocaleString('en-US'), fmt(r.inputBytes / 1e9, 3), String(r.repeats), fmt(r.averageGBs), fmt(r.copyGBs), fmt(r.ratio), r.skipped ?? '']),
  );
  return rows;
}
