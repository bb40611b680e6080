// Frame codec throughput: encodeFrame / decodeFrame of a model of P float32 parameters
// against a plain Buffer copy of the same payload bytes. decodeFrame returns a view of the
// payload when it is 4-byte aligned (the usual case), so it costs the JSON header only.

import { decodeFrame, encodeFrame } from '../src/protocol/frame.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { printTable, timeMedian } from './table.js';

export interface CodecBenchOptions {
  quick?: boolean;
  /** Parameters per model. Default [1e5, 1e6, 1e7] (quick: [1e5, 1e6]). */
  ps?: number[];
}

export interface CodecRow {
  P: number;
  frameBytes: number;
  encodeMBs: number;
  decodeMBs: number;
  copyMBs: number;
}

export async function benchCodec(options: CodecBenchOptions = {}): Promise<CodecRow[]> {
  const ps = options.ps ?? (options.quick ? [100_000, 1_000_000] : [100_000, 1_000_000, 10_000_000]);
  const rows: CodecRow[] = [];
  for (const P of ps) {
    // A realistic manifest: a two-layer network whose kernel takes the bulk of P.
    const specs = [
      { name: 'dense_1/kernel', shape: [P - 1_000 - 100 - 10, 1] },
      { name: 'dense_1/bias', shape: [1_000] },
      { name: 'output/kernel', shape: [100, 1] },
      { name: 'output/bias', shape: [10] },
    ];
    const data = new Float32Array(P);
    for (let i = 0; i < P; i++) data[i] = Math.sin(i);
    const parameters = makeParameters(specs, data);
    const header = { protocolVersion: 1, taskId: 'bench-task', kind: 'train', runId: 'bench-run', round: 1, numExamples: 1000, metrics: { loss: 0.5 } };
    const frame = encodeFrame(header, parameters);
    const payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const repeats = Math.max(5, Math.min(50, Math.round(2e9 / frame.length)));
    const encode = timeMedian(() => encodeFrame(header, parameters), { repeats });
    const decode = timeMedian(() => decodeFrame(frame).parameters!.data.length, { repeats });
    const copy = timeMedian(() => Buffer.from(payload), { repeats });
    const mb = frame.length / 1e6;
    rows.push({ P, frameBytes: frame.length, encodeMBs: mb / encode, decodeMBs: mb / decode, copyMBs: payload.length / 1e6 / copy });
  }
  printTable(
    '(c) frame codec: encodeFrame / decodeFrame vs Buffer copy of the payload (median)',
    ['P', 'frame MB', 'encode MB/s', 'decode MB/s', 'copy MB/s', 'encode / copy'],
    rows.map((r) => [
      r.P.toLocaleString('en-US'),
      (r.frameBytes / 1e6).toFixed(2),
      r.encodeMBs.toFixed(0),
      r.decodeMBs.toFixed(0),
      r.copyMBs.toFixed(0),
      (r.encodeMBs / r.copyMBs).toFixed(2),
    ]),
  );
  return rows;
}
