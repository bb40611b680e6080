// Simulation work across processes through NATS JetStream: the coordinator's JetStreamExecutor
// publishes task frames to a work queue, worker processes answer them, and a worker killed
// while holding a task loses nothing — the task is delivered again to another worker and the
// answer is the one it would have been.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { JetStreamExecutor } from '../src/simulation/jetstream-executor.js';
import { startNatsServer } from './support/nats.js';
import { exited, processScope, spawnWithEvents, until, type EventfulProcess } from './support/processes.js';

const WORKER = fileURLToPath(new URL('./support/jetstream-worker.ts', import.meta.url));
const scope = processScope();

type Worker = EventfulProcess;

function startWorker(url: string, env: Record<string, string> = {}): Worker {
  return spawnWithEvents(['--import', 'tsx', WORKER], { env: { NATS_URL: url, JS_ACK_WAIT_MS: '2000', ...env }, children: scope.children });
}

const xor = (bytes: Uint8Array): Uint8Array => bytes.map((b) => b ^ 0x5a);

test('tasks spread over worker processes; one killed mid-task is redelivered and answered the same', { timeout: 180_000 }, async () => {
  const nats = await startNatsServer();
  const executor = await JetStreamExecutor.open({ servers: nats.url, pool: 'redelivery', ackWaitMs: 2000 });
  try {
    // Worker A takes a task and never finishes it (busy training), then is killed.
    const a = startWorker(nats.url, { JS_POOL: 'redelivery', JS_WORKER_HANG: '1' });
    await until(async () => a.events.some((e) => e.event === 'started'), 60_000, 'worker A to start');
    // One frame above the inline limit (object store), one below it.
    const big = new Uint8Array(randomBytes(600_000));
    const small = new Uint8Array(randomBytes(1_000));
    const signal = new AbortController().signal;
    const bigAnswer = executor.run('m-big', big, signal);
    await until(async () => a.events.find((e) => e.event === 'taken' && e.memberId === 'm-big'), 60_000, 'worker A to take the task');
    a.child.kill('SIGKILL');
    await exited(a.child);

    const b = startWorker(nats.url, { JS_POOL: 'redelivery' });
    const smallAnswer = executor.run('m-small', small, signal);
    const [bigOut, smallOut] = await Promise.all([bigAnswer, smallAnswer]);
    assert.ok(bigOut.ok && smallOut.ok);
    assert.deepEqual(Buffer.from(bigOut.body), Buffer.from(xor(big)));
    assert.deepEqual(Buffer.from(smallOut.body), Buffer.from(xor(small)));
    const redelivered = b.events.find((e) => e.event === 'answered' && e.memberId === 'm-big');
    assert.ok(redelivered, 'worker B answered the task worker A held');
    assert.equal(redelivered.delivery, 2, 'the second delivery of the task');

    // Many tasks over two live workers: each answered exactly once, correctly.
    const c = startWorker(nats.url, { JS_POOL: 'redelivery' });
    await until(async () => c.events.some((e) => e.event === 'started'), 60_000, 'worker C to start');
    const frames = Array.from({ length: 40 }, () => new Uint8Array(randomBytes(2_000)));
    const answers = await Promise.all(frames.map((f, i) => executor.run(`m${i}`, f, signal)));
    answers.forEach((ans, i) => {
      assert.ok(ans.ok);
      assert.deepEqual(Buffer.from(ans.body), Buffer.from(xor(frames[i]!)));
    });
    for (const w of [b, c]) {
      w.child.kill('SIGTERM');
      await exited(w.child);
    }
    const answered = [b, c].flatMap((w) => w.events.filter((e) => e.event === 'answered' && String(e.memberId).match(/^m\d+$/)));
    assert.equal(answered.length, 40);
  } finally {
    await executor.close();
  }
});

test('a task abandoned by its round is taken off the queue', { timeout: 60_000 }, async () => {
  const nats = await startNatsServer();
  const executor = await JetStreamExecutor.open({ servers: nats.url, pool: 'abandon' });
  try {
    const stop = new AbortController();
    const pending = executor.run('m1', new Uint8Array(10), stop.signal);
    stop.abort();
    const answer = await pending;
    assert.deepEqual(answer, { ok: false, reason: 'abandoned: the round moved on' });
    const info = await until(async () => {
      const { jetstreamManager } = await import('@nats-io/jetstream');
      const { connect } = await import('@nats-io/transport-node');
      const nc = await connect({ servers: nats.url });
      try {
        const s = await (await jetstreamManager(nc)).streams.info('CONCORD_TASKS');
        return s.state.messages === 0 ? s : undefined;
      } finally {
        await nc.close();
      }
    }, 30_000, 'the task stream to be empty');
    assert.equal(info.state.messages, 0);
  } finally {
    await executor.close();
  }
});
