// Which rounds keep members' updates (for contribution valuation) when the run does not
// say: rounds of up to KEPT_UPDATES_MAX_MEMBERS do, larger ones do not, and keepUpdates
// overrides either way. Members answer through the in-memory grid on the real coordinator.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KEPT_UPDATES_MAX_MEMBERS } from '../src/coordinator/contributions.js';
import { createCoordinator, type Coordinator } from '../src/coordinator/server.js';
import { initialParameters } from '../src/model/build.js';
import type { TaskHandler } from '../src/node/member.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { LocalExecutor } from '../src/simulation/member-executor.js';
import { MemoryGrid } from '../src/simulation/memory-grid.js';
import { SqliteStorage } from '../src/storage/sqlite.js';
import { processScope } from './support/processes.js';

const { tempDir } = processScope();
const OPERATOR = 'kept-operator';
const POPULATION = KEPT_UPDATES_MAX_MEMBERS + 1;
let coordinator: Coordinator;
let storage: SqliteStorage;
let url: string;

const handler: TaskHandler = {
  train: async (_task, global) => ({ parameters: makeParameters(global.specs, global.data.map((v) => v + 1)), numExamples: 10, metrics: { loss: 0.5 } }),
  evaluate: async () => ({ numExamples: 5, metrics: { loss: 0.4 } }),
};

before(async () => {
  storage = new SqliteStorage(join(await tempDir('concord-kept-'), 'c.sqlite'));
  await storage.migrate();
  const grid = new MemoryGrid({ executor: new LocalExecutor(() => handler, { concurrency: 16 }) });
  for (let i = 0; i < POPULATION; i++) {
    const m = await storage.addMember({ name: `m-${i}`, publicKey: `k${String(i).padStart(42, '0')}`, dataset: { name: 'toy', numExamples: 10, numHoldout: 5, inputShape: [3], classes: 2 } });
    grid.add({ memberId: m.memberId, name: m.name, numExamples: 10, numHoldout: 5 });
  }
  coordinator = await createCoordinator({ storage, operatorToken: OPERATOR, memberBoard: grid, initialParameters: async (config) => initialParameters(config.model, config.seed), retryDelayMs: 50 });
  url = await coordinator.listen(0, '127.0.0.1');
});

after(async () => {
  await coordinator?.close();
  await storage?.close();
});

/** One round with `members` of the population training; the number of updates it stored. */
async function keptBy(members: number, keepUpdates?: boolean): Promise<number> {
  const body = {
    model: { family: 'mlp', inputShape: [3], hidden: [], classes: 2 },
    rounds: 1,
    minAvailableMembers: POPULATION,
    fractionTrain: members / POPULATION,
    minTrainMembers: members,
    fractionEvaluate: 0,
    minEvaluateMembers: 0,
    ...(keepUpdates !== undefined ? { keepUpdates } : {}),
  };
  const res = await fetch(`${url}/v1/runs`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as { runId: string };
  assert.equal(res.status, 200, JSON.stringify(json));
  for (let i = 0; i < 1200; i++) {
    const run = await storage.getRun(json.runId);
    if (run && run.status !== 'running' && run.status !== 'pending') {
      assert.equal(run.status, 'completed', run.error ?? '');
      const [round] = await storage.listRounds(json.runId);
      assert.equal(round!.participants.length, members);
      return (await storage.listMemberUpdates(json.runId, 1)).length;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out waiting for the run');
}

describe('kept updates', () => {
  it(`keeps a round's updates by default up to ${KEPT_UPDATES_MAX_MEMBERS} members, not beyond; keepUpdates decides when given`, { timeout: 120_000 }, async () => {
    assert.equal(await keptBy(KEPT_UPDATES_MAX_MEMBERS), KEPT_UPDATES_MAX_MEMBERS);
    assert.equal(await keptBy(POPULATION), 0);
    assert.equal(await keptBy(POPULATION, true), POPULATION);
    assert.equal(await keptBy(10, false), 0);
  });
});
