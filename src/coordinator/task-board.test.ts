import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeFrame, encodeFrame } from '../protocol/frame.js';
import { PROTOCOL_VERSION } from '../protocol/messages.js';
import { makeParameters } from '../protocol/tensors.js';
import type { ModelTask } from './grid.js';
import { TaskBoard } from './task-board.js';

// Nothing here waits on a clock: deadlines and the silence window are an hour away, so every
// failure below comes from what the member did, not from how fast the machine is.
const HOUR = 3_600_000;
const member = { memberId: 'mem_a', name: 'a', numExamples: 4 };
const open = new AbortController().signal;

function board(): TaskBoard {
  return new TaskBoard({ onlineWindowMs: HOUR, heartbeatTimeoutMs: HOUR });
}

function task(over: Partial<ModelTask> = {}): ModelTask {
  return {
    memberId: member.memberId,
    kind: 'secagg',
    runId: 'run_t',
    round: 1,
    model: { family: 'mlp', inputShape: [2], hidden: [], classes: 2, activation: 'relu' },
    config: { epochs: 1, batchSize: 1, learningRate: 0.1, optimizer: 'sgd', proximalMu: 0, seed: 0 },
    ...over,
  };
}

/** The result frame a member sends for a delivered task (secagg stages carry only a payload). */
function resultFor(frame: Buffer): Uint8Array {
  const header = decodeFrame(frame).header as { taskId: string; kind: string; stage?: string; runId: string; round: number };
  return encodeFrame({ protocolVersion: PROTOCOL_VERSION, taskId: header.taskId, kind: header.kind, stage: header.stage, runId: header.runId, round: header.round, numExamples: 4, metrics: {}, payload: {} });
}

test('a poll from a member that holds a delivered task fails that task at once, saying why', async (t) => {
  const b = board();
  b.seen(member);
  const shutdown = new AbortController(); // ends the exchange should the poll not
  t.after(() => shutdown.abort());
  let outcome: Awaited<ReturnType<TaskBoard['sendAndReceive']>> | undefined;
  void b.sendAndReceive([task({ kind: 'train', parameters: makeParameters([{ name: 'w', shape: [2] }]) })], { deadline: Date.now() + HOUR, signal: shutdown.signal }).then((o) => (outcome = o));
  const delivered = await b.poll(member, 0, open);
  assert.ok(delivered, 'the task is delivered');
  // The member comes back (restarted on its state dir) and asks for work without answering.
  assert.equal(await b.poll(member, 0, open), null);
  await new Promise(setImmediate);
  assert.deepEqual(outcome, {
    replies: [],
    failures: [{ memberId: member.memberId, reason: 'the member asked for new work while this task was open: it restarted or lost the task' }],
  });
  // Its late result is stale, as for any closed task.
  assert.throws(() => b.submit(member.memberId, delivered.taskId, resultFor(delivered.frame)), /is not open/);
});

test('stages answered one after another, each before the next poll, with heartbeats between, fail nothing', async () => {
  const b = board();
  b.seen(member);
  const other = { memberId: 'mem_b', name: 'b', numExamples: 4 };
  b.seen(other);
  for (const stage of ['setup', 'shareKeys', 'collectMaskedVectors', 'unmask']) {
    // The member is already long-polling when the stage's tasks go out.
    const waiting = b.poll(member, HOUR, open);
    const exchange = b.sendAndReceive([task({ stage }), task({ stage, memberId: other.memberId })], { deadline: Date.now() + HOUR, signal: open });
    const mine = await waiting;
    const theirs = await b.poll(other, 0, open);
    assert.ok(mine && theirs);
    b.heartbeat(member);
    b.heartbeat(other);
    b.submit(member.memberId, mine.taskId, resultFor(mine.frame));
    // A poll by one member does not touch another member's open task.
    assert.equal(await b.poll(member, 0, open), null);
    b.heartbeat(other);
    b.submit(other.memberId, theirs.taskId, resultFor(theirs.frame));
    const { replies, failures } = await exchange;
    assert.deepEqual(failures, [], stage);
    assert.deepEqual(replies.map((r) => [r.memberId, r.header.stage]), [[member.memberId, stage], [other.memberId, stage]]);
  }
});

test('a queued task that was never delivered is handed out by the next poll, not failed', async () => {
  const b = board();
  b.seen(member);
  const exchange = b.sendAndReceive([task({ stage: 'setup' })], { deadline: Date.now() + HOUR, signal: open });
  const delivered = await b.poll(member, 0, open);
  assert.ok(delivered);
  b.submit(member.memberId, delivered.taskId, resultFor(delivered.frame));
  assert.deepEqual((await exchange).failures, []);
});

test('a train update the round sums on arrival is added to its fold with its example count, returned without parameters, and its body is not kept', async () => {
  const b = board();
  b.seen(member);
  const specs = [{ name: 'w', shape: [2] }];
  const added: { data: number[]; weight: number }[] = [];
  const fold = { add: (data: Float32Array, weight: number) => void added.push({ data: [...data], weight }) };
  const exchange = b.sendAndReceive([task({ kind: 'train', parameters: makeParameters(specs) })], { deadline: Date.now() + HOUR, signal: open, fold });
  const delivered = (await b.poll(member, 0, open))!;
  const header = decodeFrame(delivered.frame).header as { taskId: string; runId: string; round: number };
  const result = encodeFrame({ protocolVersion: PROTOCOL_VERSION, taskId: header.taskId, kind: 'train', runId: header.runId, round: header.round, numExamples: 3, metrics: { loss: 0.5 } }, makeParameters(specs, Float32Array.of(1.5, -2)));
  assert.equal(b.submit(member.memberId, header.taskId, result), false, 'the caller may reuse the body');
  const { replies, failures } = await exchange;
  assert.deepEqual(failures, []);
  assert.deepEqual(added, [{ data: [1.5, -2], weight: 3 }]);
  assert.equal(replies.length, 1);
  assert.equal(replies[0]!.parameters, undefined);
  assert.deepEqual(replies[0]!.header.metrics, { loss: 0.5 });
});

test('without a fold the update comes back with the reply and the body is kept; a non-finite update is never added', async () => {
  const b = board();
  b.seen(member);
  const specs = [{ name: 'w', shape: [2] }];
  const plain = b.sendAndReceive([task({ kind: 'train', parameters: makeParameters(specs) })], { deadline: Date.now() + HOUR, signal: open });
  let delivered = (await b.poll(member, 0, open))!;
  let header = decodeFrame(delivered.frame).header as { taskId: string; runId: string; round: number };
  const frame = (values: Float32Array) => encodeFrame({ protocolVersion: PROTOCOL_VERSION, taskId: header.taskId, kind: 'train', runId: header.runId, round: header.round, numExamples: 3, metrics: {} }, makeParameters(specs, values));
  assert.equal(b.submit(member.memberId, header.taskId, frame(Float32Array.of(1, 2))), true);
  assert.deepEqual([...(await plain).replies[0]!.parameters!.data], [1, 2]);

  let adds = 0;
  const folded = b.sendAndReceive([task({ kind: 'train', parameters: makeParameters(specs) })], { deadline: Date.now() + HOUR, signal: open, fold: { add: () => void adds++ } });
  delivered = (await b.poll(member, 0, open))!;
  header = decodeFrame(delivered.frame).header as { taskId: string; runId: string; round: number };
  assert.throws(() => b.submit(member.memberId, header.taskId, frame(Float32Array.of(1, Number.NaN))), /holds NaN/);
  const outcome = await folded;
  assert.equal(adds, 0);
  assert.equal(outcome.replies.length, 0);
  assert.match(outcome.failures[0]!.reason, /update rejected/);
});
