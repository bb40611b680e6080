// What a member may claim in a result: its weight in the average is bounded by the data it
// enrolled with, and what it reports as metrics is bounded in number and length.

import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../src/protocol/errors.js';
import { MAX_METRICS } from '../src/protocol/messages.js';
import { addMember, plus, startHarness, startRun, waitForRun, type Harness } from './support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('member results', () => {
  it('a member enrolled with 10 examples cannot weigh 1e12 in FedAvg; the others still average', async () => {
    h = await startHarness();
    addMember(h, 'honest-1', 10, plus(1));
    addMember(h, 'honest-2', 10, plus(3));
    const liar = addMember(h, 'liar', 10, plus(1000), (handler) => ({
      ...handler,
      train: async (task, global) => ({ ...(await handler.train(task, global)), numExamples: 1e12 }),
    }));
    const runId = await startRun(h, { rounds: 1, minAvailableMembers: 3, minTrainMembers: 2, fractionEvaluate: 0, minEvaluateMembers: 0 });
    assert.equal(await waitForRun(h, runId), 'completed', (await h.storage.getRun(runId))?.error ?? '');
    const [round] = await h.storage.listRounds(runId);
    const liarId = liar.client.credentials!.memberId;
    assert.ok(!round!.participants.includes(liarId));
    const failure = round!.failures.find((f) => f.memberId === liarId)!;
    assert.match(failure.reason, /numExamples is 1000000000000, but this member enrolled with 10 examples/);
    await until(() => liar.rejected.length > 0);
    assert.equal(liar.rejected[0]!.code, ErrorCode.INVALID_MESSAGE);
    // Only the honest +1 and +3 updates, equally weighted: every parameter moved by 2.
    const checkpoint = await h.storage.getCheckpoint(runId, 1);
    assert.ok(checkpoint!.parameters.data.every((v) => v === 2), String(checkpoint!.parameters.data));
  });

  it(`metrics are bounded: ${MAX_METRICS + 1} keys, or a key of 100 characters, are refused`, async () => {
    h = await startHarness();
    const flood = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`m${i}`, i]));
    const cases = [flood, { ['k'.repeat(100)]: 1 }];
    addMember(h, 'honest-1', 10, plus(1));
    addMember(h, 'honest-2', 10, plus(1));
    const floods = cases.map((metrics, k) =>
      addMember(h!, `flood-${k}`, 10, plus(1), (handler) => ({
        ...handler,
        train: async (task, global) => ({ ...(await handler.train(task, global)), metrics }),
      })),
    );
    const runId = await startRun(h, { rounds: 1, minAvailableMembers: 4, minTrainMembers: 2, fractionEvaluate: 0, minEvaluateMembers: 0 });
    assert.equal(await waitForRun(h, runId), 'completed', (await h.storage.getRun(runId))?.error ?? '');
    const [round] = await h.storage.listRounds(runId);
    assert.equal(round!.participants.length, 2);
    await until(() => floods.every((f) => f.rejected.length > 0));
    assert.match(floods[0]!.rejected[0]!.message, /result header: metrics: at most 64 metrics, received 10000/);
    assert.match(floods[1]!.rejected[0]!.message, /result header: metrics: metric names have 1 to 64 characters, received one of 100/);
    assert.ok(Object.keys(round!.trainMetrics).length < 20, 'no flooded key reached the round record');
  });
});

async function until(predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
