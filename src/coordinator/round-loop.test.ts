import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { temporaryDirs } from '../core/temp-dirs.fixture.js';
import { PROTOCOL_VERSION, RunConfigSchema } from '../protocol/messages.js';
import { makeParameters, type Parameters } from '../protocol/tensors.js';
import { SqliteStorage } from '../storage/sqlite.js';
import { FedAvg } from '../strategies/fedavg.js';
import { FedMedian } from '../strategies/fedmedian.js';
import type { Strategy } from '../strategies/strategy.js';
import type { Grid, OutgoingTask, SendOptions, TaskReply } from './grid.js';
import { runFederation } from './round-loop.js';

const tempDir = temporaryDirs();
const SPECS = [{ name: 'w', shape: [5] }];
const MEMBERS = 130; // more than the 100 whose updates are kept by default

/**
 * Members whose update is the global model plus their own offset. Like the task board, the
 * grid adds each update to the round's fold when it is given one (`folding`), else returns it.
 */
function grid(folding: boolean): Grid & { offered: number } {
  const members = Array.from({ length: MEMBERS }, (_, k) => ({ memberId: `mem_${String(k).padStart(3, '0')}`, name: `m${k}`, numExamples: 1 + (k % 7) * 40 }));
  const g = {
    offered: 0,
    available: () => members,
    waitForMembers: async () => undefined,
    async sendAndReceive(tasks: OutgoingTask[], options: SendOptions) {
      if (options.fold) g.offered++;
      const replies: TaskReply[] = tasks.map((t) => {
        const k = members.findIndex((m) => m.memberId === t.memberId);
        const global = t.parameters as Parameters;
        const update = makeParameters(SPECS, global.data.map((v, i) => v + Math.sin(k * 5 + i) * (1 + k / 10)));
        const numExamples = members[k]!.numExamples;
        const header = { protocolVersion: PROTOCOL_VERSION, taskId: `t${k}`, kind: t.kind, runId: t.runId, round: t.round, numExamples, metrics: { loss: k / MEMBERS } };
        if (folding && options.fold) {
          options.fold.add(update.data, numExamples);
          return { memberId: t.memberId, header, bytesOut: 0, bytesIn: 0, seconds: 0 };
        }
        return { memberId: t.memberId, header, parameters: update, bytesOut: 0, bytesIn: 0, seconds: 0 };
      });
      return { replies, failures: [] };
    },
  };
  return g as Grid & { offered: number };
}

async function run(strategy: Strategy, g: Grid, over: Record<string, unknown> = {}) {
  const storage = new SqliteStorage(join(await tempDir('concord-round-loop-'), 'db.sqlite'));
  await storage.migrate();
  const config = RunConfigSchema.parse({ model: { family: 'mlp', inputShape: [5], hidden: [], classes: 2 }, rounds: 2, minAvailableMembers: MEMBERS, minTrainMembers: MEMBERS, fractionEvaluate: 0, minEvaluateMembers: 0, ...over });
  const record = await storage.createRun(config, makeParameters(SPECS, Float32Array.of(0.5, -1, 2, 0, 3)));
  await runFederation({ run: record, storage, grid: g, strategy, signal: new AbortController().signal, retryDelayMs: 0 });
  const done = await storage.getRun(record.runId);
  assert.equal(done!.status, 'completed', done!.error ?? '');
  const model = (await storage.getCheckpoint(record.runId, 2))!.parameters;
  const kept = await storage.listMemberUpdates(record.runId, 2);
  const metrics = (await storage.lastRound(record.runId))!;
  await storage.close();
  return { model, kept, metrics };
}

test('a round too large to keep its updates sums them as they arrive: the same model and metrics as averaging them at the end', async () => {
  const flatGrid = grid(true);
  const flat = await run(new FedAvg(), flatGrid, { keepUpdates: true });
  assert.equal(flatGrid.offered, 0, 'kept updates are needed one by one');
  assert.equal(flat.kept.length, MEMBERS);

  for (const folding of [true, false]) {
    // Whether the grid adds the updates itself (task board) or returns them (other grids), the loop sums them once.
    const g = grid(folding);
    const streamed = await run(new FedAvg(), g);
    assert.equal(g.offered, 2, 'both rounds were offered a fold');
    assert.equal(streamed.kept.length, 0);
    for (let i = 0; i < 5; i++) assert.ok(Math.abs(streamed.model.data[i]! - flat.model.data[i]!) <= 4e-6 * Math.max(1, Math.abs(flat.model.data[i]!)), `value ${i}: ${streamed.model.data[i]} vs ${flat.model.data[i]}`);
    assert.ok(streamed.model.data.some((v, i) => v !== [0.5, -1, 2, 0, 3][i]), 'the model moved');
    assert.equal(streamed.metrics.trainMetrics.members, MEMBERS);
    assert.equal(streamed.metrics.trainMetrics.numExamples, flat.metrics.trainMetrics.numExamples);
    assert.ok(Math.abs(streamed.metrics.trainMetrics.loss! - flat.metrics.trainMetrics.loss!) < 1e-12);
    assert.deepEqual(streamed.metrics.participants, flat.metrics.participants);
  }
});

test('a strategy that looks at each update is never offered a fold', async () => {
  const g = grid(true);
  await run(new FedMedian(), g);
  assert.equal(g.offered, 0);
});
