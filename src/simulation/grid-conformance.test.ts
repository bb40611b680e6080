// One suite, two Grids: the HTTP coordinator's TaskBoard (driven here by member loops that
// poll, answer and submit exactly as a node does, minus the sockets) and the simulation's
// MemoryGrid. Both must give the round loop the same replies, the same failure reasons and
// the same byte counts for the same members.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Grid, OutgoingTask } from '../coordinator/grid.js';
import { TaskBoard } from '../coordinator/task-board.js';
import type { TaskHandler } from '../node/member.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { ModelSpec, TrainConfig } from '../protocol/messages.js';
import { makeParameters, type Parameters } from '../protocol/tensors.js';
import type { MemberRef } from '../strategies/strategy.js';
import { answerFrame, LocalExecutor } from './member-executor.js';
import { MemoryGrid } from './memory-grid.js';

const model: ModelSpec = { family: 'mlp', inputShape: [3], hidden: [], classes: 2 } as unknown as ModelSpec;
const config = { epochs: 1, batchSize: 8, learningRate: 0.1, optimizer: 'sgd', proximalMu: 0, seed: 1 } as unknown as TrainConfig;
const global = makeParameters([{ name: 'w', shape: [4] }], Float32Array.from([1, 2, 3, 4]));

const never = new Promise<never>(() => undefined);

/** What each member does with a train task. */
const behaviours: Record<string, (global: Parameters) => Promise<Parameters>> = {
  good: async (g) => makeParameters(g.specs, g.data.map((v) => v + 1)),
  decliner: async () => {
    throw new ConcordError(ErrorCode.FORBIDDEN, 'privacy budget of d/x: spent');
  },
  broken: async () => {
    throw new Error('out of memory');
  },
  nan: async (g) => makeParameters(g.specs, g.data.map(() => Number.NaN)),
  slow: () => never,
};

function handlerFor(kind: string): TaskHandler {
  return {
    train: async (_task, g) => ({ parameters: await behaviours[kind]!(g), numExamples: 10, metrics: { loss: 0.5 } }),
    evaluate: async () => ({ numExamples: 5, metrics: { loss: 0.25, accuracy: 0.8 } }),
  };
}

const members: MemberRef[] = Object.keys(behaviours).map((kind, i) => ({ memberId: `m${i}-${kind}`, name: kind, numExamples: 10, numHoldout: 5 }));
const handlers = new Map(members.map((m) => [m.memberId, handlerFor(m.name)]));

interface GridUnderTest {
  grid: Grid;
  close(): void;
}

/** The task board with members that poll it as nodes do. */
function taskBoard(): GridUnderTest {
  const board = new TaskBoard({ onlineWindowMs: 60_000, heartbeatTimeoutMs: 60_000 });
  const stop = new AbortController();
  for (const member of members) {
    board.seen(member);
    void (async () => {
      while (!stop.signal.aborted) {
        const task = await board.poll(member, 200, stop.signal);
        if (!task) continue;
        const answer = await answerFrame(handlers.get(member.memberId), member.memberId, task.frame);
        try {
          if (answer.ok) board.submit(member.memberId, task.taskId, answer.body);
          else board.decline(member.memberId, task.taskId, answer.reason);
        } catch {
          // a rejected result: the board has failed the task already, as over HTTP
        }
      }
    })();
  }
  return { grid: board, close: () => stop.abort() };
}

function memoryGrid(): GridUnderTest {
  const grid = new MemoryGrid({ executor: new LocalExecutor((id) => handlers.get(id), { concurrency: 4 }) });
  for (const member of members) grid.add(member);
  return { grid, close: () => undefined };
}

const task = (memberId: string, kind: 'train' | 'evaluate' = 'train'): OutgoingTask => ({ memberId, kind, runId: 'run_conformance', round: 1, model, config, parameters: global });

for (const [name, make] of [
  ['TaskBoard (HTTP members)', taskBoard],
  ['MemoryGrid (simulated members)', memoryGrid],
] as const) {
  describe(`Grid conformance: ${name}`, () => {
    it('lists members sorted by id and waits for enough of them', async () => {
      const { grid, close } = make();
      try {
        assert.deepEqual(grid.available().map((m) => m.memberId), [...members.map((m) => m.memberId)].sort());
        await grid.waitForMembers(members.length, new AbortController().signal);
      } finally {
        close();
      }
    });

    it('ends every task as exactly one reply or one failure, with the reasons the round loop records', { timeout: 30_000 }, async () => {
      const { grid, close } = make();
      try {
        const deadline = Date.now() + 3000;
        const { replies, failures } = await grid.sendAndReceive([...members.map((m) => task(m.memberId)), task('m9-absent')], { deadline, signal: new AbortController().signal });
        assert.equal(replies.length + failures.length, members.length + 1);
        assert.deepEqual(replies.map((r) => r.memberId), ['m0-good']);
        const reply = replies[0]!;
        assert.deepEqual([...reply.parameters!.data], [2, 3, 4, 5]);
        assert.equal(reply.header.numExamples, 10);
        // The same frames both ways: a 4-float model plus the header out, the update back.
        assert.ok(reply.bytesOut > 16 && reply.bytesIn > 16, `bytes ${reply.bytesOut} / ${reply.bytesIn}`);
        const reasons = Object.fromEntries(failures.map((f) => [f.memberId, f.reason]));
        assert.equal(reasons['m1-decliner'], 'declined by the member: privacy budget of d/x: spent');
        assert.equal(reasons['m2-broken'], 'declined by the member: the task failed on the member: out of memory');
        assert.match(reasons['m3-nan']!, /^update rejected \(CONCORD_ERR_NON_FINITE\)/);
        assert.equal(reasons['m4-slow'], 'missed the round deadline (3 s)');
        assert.equal(reasons['m9-absent'], 'member is not connected');
      } finally {
        close();
      }
    });

    it('given a fold, adds each accepted train update to it once, weighted by its examples, and returns the reply without it', { timeout: 30_000 }, async () => {
      const { grid, close } = make();
      try {
        const added: { data: number[]; weight: number }[] = [];
        const fold = { add: (data: Float32Array, weight: number) => void added.push({ data: [...data], weight }) };
        const { replies, failures } = await grid.sendAndReceive([task('m0-good'), task('m3-nan'), task('m0-good', 'evaluate')], { deadline: Date.now() + 5000, signal: new AbortController().signal, fold });
        // The rejected NaN update never reaches the sum; evaluate replies carry no update.
        assert.deepEqual(added, [{ data: [2, 3, 4, 5], weight: 10 }]);
        assert.deepEqual(replies.map((r) => [r.header.kind, r.parameters]).sort(), [['evaluate', undefined], ['train', undefined]]);
        assert.deepEqual(failures.map((f) => f.memberId), ['m3-nan']);
      } finally {
        close();
      }
    });

    it('measures the same bytes for the same task', async () => {
      const { grid, close } = make();
      try {
        const { replies } = await grid.sendAndReceive([task('m0-good'), task('m0-good', 'evaluate')], { deadline: Date.now() + 5000, signal: new AbortController().signal });
        const byKind = Object.fromEntries(replies.map((r) => [r.header.kind, r]));
        sizes[name] = { trainOut: byKind.train!.bytesOut, trainIn: byKind.train!.bytesIn, evaluateIn: byKind.evaluate!.bytesIn };
        assert.equal(byKind.evaluate!.header.metrics.loss, 0.25);
        if (Object.keys(sizes).length === 2) {
          const [a, b] = Object.values(sizes);
          assert.deepEqual(a, b);
        }
      } finally {
        close();
      }
    });

    it('fails open tasks when the coordinator shuts down', { timeout: 30_000 }, async () => {
      const { grid, close } = make();
      try {
        const shutdown = new AbortController();
        const pending = grid.sendAndReceive([task('m4-slow')], { deadline: Date.now() + 60_000, signal: shutdown.signal });
        setTimeout(() => shutdown.abort(), 300);
        const { replies, failures } = await pending;
        assert.equal(replies.length, 0);
        assert.deepEqual(failures, [{ memberId: 'm4-slow', reason: 'the coordinator is shutting down' }]);
      } finally {
        close();
      }
    });
  });
}

const sizes: Record<string, { trainOut: number; trainIn: number; evaluateIn: number }> = {};
