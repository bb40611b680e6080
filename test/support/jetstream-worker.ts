// A JetStream simulation worker as its own process, for the redelivery tests. Its executor
// answers a frame with the frame's bytes XOR 0x5a (so the answer is checkable and as large as
// the frame); with JS_WORKER_HANG=1 it takes tasks and never finishes them, as a worker busy
// training when it is killed. Prints one JSON line per event.

import { runJetStreamWorker } from '../../src/simulation/jetstream-executor.js';
import type { MemberAnswer, MemberExecutor } from '../../src/simulation/memory-grid.js';

const hang = process.env.JS_WORKER_HANG === '1';
const executor: MemberExecutor = {
  run(_memberId: string, frame: Uint8Array): Promise<MemberAnswer> {
    if (hang) return new Promise(() => undefined);
    const body = new Uint8Array(frame.byteLength);
    for (let i = 0; i < frame.byteLength; i++) body[i] = frame[i]! ^ 0x5a;
    return Promise.resolve({ ok: true, body });
  },
};
const stop = new AbortController();
process.on('SIGTERM', () => stop.abort());
console.log(JSON.stringify({ event: 'started', pid: process.pid }));
const result = await runJetStreamWorker({
  servers: process.env.NATS_URL!,
  pool: process.env.JS_POOL ?? 'default',
  ackWaitMs: Number(process.env.JS_ACK_WAIT_MS ?? 30_000),
  executor,
  signal: stop.signal,
  onEvent: (e) => console.log(JSON.stringify(e)),
});
console.log(JSON.stringify({ event: 'stopped', ...result }));
