// An asynchronous (FedBuff) run whose tasks keep failing ends, as a synchronous round does
// after maxRoundAttempts tries: once maxRoundAttempts × bufferSize tasks failed since the
// last applied version, the run fails with the count and the last member's reason, instead
// of dispatching forever. A version that does get applied starts the count again. Under
// secure aggregation a lost cohort counts each of its K members.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { createCoordinator, type Coordinator } from '../src/coordinator/server.js';
import { initialParameters } from '../src/model/build.js';
import type { TaskHandler } from '../src/node/member.js';
import { withSecureAggregation } from '../src/node/secagg-handler.js';
import { nodePrimitives } from '../src/privacy/secagg/primitives-node.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { LocalExecutor } from '../src/simulation/member-executor.js';
import { MemoryGrid } from '../src/simulation/memory-grid.js';
import { SqliteStorage } from '../src/storage/sqlite.js';
import { processScope } from './support/processes.js';

const { tempDir } = processScope();
const OPERATOR = 'async-failures-operator';
let coordinator: Coordinator;
let storage: SqliteStorage;
let url: string;
/** Train tasks answered so far, across members; those from `failFrom` on throw. */
let answered = 0;
let failFrom = Infinity;

const handler: TaskHandler = {
  async train(_task, global) {
    if (answered++ >= failFrom) throw new Error('the device ran out of memory');
    return { parameters: makeParameters(global.specs, global.data.map((v) => v + 1)), numExamples: 10, metrics: { loss: 0.5 } };
  },
  evaluate: async () => ({ numExamples: 5, metrics: { loss: 0.4, accuracy: 0.5 } }),
};

before(async () => {
  const dir = await tempDir('concord-async-failures-');
  storage = new SqliteStorage(join(dir, 'c.sqlite'));
  await storage.migrate();
  // Every member answers secure-aggregation stages too; they call `handler` when they train.
  const members = new Map<string, TaskHandler>();
  const grid = new MemoryGrid({ executor: new LocalExecutor((id) => members.get(id), { concurrency: 4 }) });
  for (let i = 0; i < 4; i++) {
    const m = await storage.addMember({ name: `m${i}`, publicKey: `${String(i).repeat(43)}`.slice(0, 43), dataset: { name: 'toy', numExamples: 10, numHoldout: 5, inputShape: [3], classes: 2 } });
    members.set(m.memberId, withSecureAggregation(handler, { memberId: () => m.memberId, primitives: nodePrimitives }));
    grid.add({ memberId: m.memberId, name: m.name, numExamples: 10, numHoldout: 5 });
  }
  coordinator = await createCoordinator({ storage, operatorToken: OPERATOR, memberBoard: grid, initialParameters: async (config) => initialParameters(config.model, config.seed), retryDelayMs: 20 });
  url = await coordinator.listen(0, '127.0.0.1');
});

after(async () => {
  await coordinator?.close();
  await storage?.close();
});

async function endOf(body: Record<string, unknown>) {
  const res = await fetch(`${url}/v1/runs`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as { runId: string };
  assert.equal(res.status, 200, JSON.stringify(json));
  for (let i = 0; i < 2400; i++) {
    const run = await storage.getRun(json.runId);
    if (run && run.status !== 'running' && run.status !== 'pending') return run;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('timed out waiting for the run to end');
}

const model = { family: 'mlp', inputShape: [3], hidden: [], classes: 2 };
const fedbuff = { name: 'fedbuff', options: { bufferSize: 2, concurrency: 2, maxStaleness: 5 } };

it('fails an asynchronous run once maxRoundAttempts × bufferSize tasks failed since the last version, naming the count and the reason', { timeout: 120_000 }, async () => {
  // Two versions are applied (4 tasks), then every task fails: the count starts at version 2.
  answered = 0;
  failFrom = 4;
  const run = await endOf({ model, rounds: 10, minAvailableMembers: 2, maxRoundAttempts: 3, strategy: fedbuff, keepUpdates: false });
  assert.equal(run.status, 'failed');
  assert.match(run.error ?? '', /^version 3 failed: 6 tasks failed since version 2 \(maxRoundAttempts × bufferSize = 6\); last: .*the device ran out of memory/);
  assert.deepEqual((await storage.listRounds(run.runId)).map((r) => r.round), [1, 2]);
  const events = await storage.listEvents(run.runId);
  assert.ok(events.some((e) => e.kind === 'run-failed' && e.message === run.error), JSON.stringify(events.map((e) => e.kind)));
  // Exactly the limit was dispatched after version 2, plus at most the tasks already in flight.
  assert.ok(answered - 4 >= 6 && answered - 4 <= 6 + 2, `tasks after version 2: ${answered - 4}`);
});

it('keeps going while failures stay under the limit between versions', { timeout: 120_000 }, async () => {
  // Every other task fails: each version sees 2 failures at most (limit 2 × 2 = 4).
  let n = 0;
  answered = 0;
  failFrom = Infinity;
  const original = handler.train;
  handler.train = async (task, global, ...rest) => {
    if (n++ % 2 === 1) throw new Error('the device ran out of memory');
    return original(task, global, ...rest);
  };
  try {
    const run = await endOf({ model, rounds: 4, minAvailableMembers: 2, maxRoundAttempts: 2, strategy: fedbuff, keepUpdates: false });
    assert.equal(run.status, 'completed', run.error ?? '');
    const rounds = await storage.listRounds(run.runId);
    assert.deepEqual(rounds.map((r) => r.round), [1, 2, 3, 4]);
    assert.ok(rounds.some((r) => r.failures.length > 0), 'some versions carried failures');
  } finally {
    handler.train = original;
  }
});

it('counts a secure cohort lost to a failed member as K failed tasks, and fails the run at the same limit', { timeout: 180_000 }, async () => {
  // Two cohorts of 2 are applied, then every training fails: each lost cohort counts 2.
  answered = 0;
  failFrom = 4;
  const run = await endOf({ model, rounds: 10, minAvailableMembers: 2, maxRoundAttempts: 3, secureAggregation: true, strategy: fedbuff, keepUpdates: false });
  assert.equal(run.status, 'failed', run.error ?? '');
  assert.match(run.error ?? '', /^version 3 failed: 6 tasks failed since version 2 \(maxRoundAttempts × bufferSize = 6\); last: /);
  assert.deepEqual((await storage.listRounds(run.runId)).map((r) => r.round), [1, 2]);
  // Three cohorts of 2 were lost: 6 trainings after version 2, plus at most a cohort in flight.
  assert.ok(answered - 4 >= 6 && answered - 4 <= 6 + 2, `trainings after version 2: ${answered - 4}`);
});
