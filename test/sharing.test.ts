// Sharing fairly, over real HTTP: a run's resource plan decides who trains and how much
// (plan next to execution in the stored rounds), members' updates are kept and valued
// (Shapley values, leave-one-out, benefit shares), and bad plans are refused up front.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ErrorCode } from '../src/protocol/errors.js';
import type { TrainConfig } from '../src/protocol/messages.js';
import type { TaskHandler } from '../src/node/member.js';
import { OPERATOR, addMember, plus, startHarness, startRun, waitForRun, type Harness } from './support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function operatorGet<T>(path: string): Promise<T> {
  const response = await fetch(`${h!.url}${path}`, { headers: { authorization: `Bearer ${OPERATOR}` } });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as T;
}

async function postRun(config: Record<string, unknown>): Promise<{ status: number; body: { error?: { code: string; message: string; details: { field?: string } } } }> {
  const response = await fetch(`${h!.url}/v1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: { family: 'mlp', inputShape: [2], hidden: [], classes: 2 }, rounds: 1, ...config }),
  });
  return { status: response.status, body: (await response.json()) as never };
}

/** Examples a trainer goes through with this config: whole batches per epoch, stopping after maxSteps. */
function examplesProcessed(n: number, config: TrainConfig): number {
  let steps = 0;
  let processed = 0;
  for (let e = 0; e < config.epochs; e++) {
    for (let start = 0; start < n && steps < (config.maxSteps ?? Infinity); start += config.batchSize, steps++) processed += Math.min(config.batchSize, n - start);
  }
  return processed;
}

/** Reports the work done, as a real member's trainer does. */
const reportingWork =
  (n: number, seen: TrainConfig[]) =>
  (handler: TaskHandler): TaskHandler => ({
    ...handler,
    async train(task, global) {
      seen.push(task.config);
      const out = await handler.train(task, global);
      return { ...out, metrics: { ...out.metrics, examplesProcessed: examplesProcessed(n, task.config) } };
    },
  });

const resources = {
  members: [
    { name: 'a', capacity: 15, efficiency: 0.8 },
    { name: 'b', capacity: 40, efficiency: 0.6 },
    { name: 'c', capacity: 0, efficiency: 1 },
  ],
};

describe('a run with a resource plan', () => {
  it('trains only members with work, as much as the plan allots, and stores plan next to execution', async () => {
    h = await startHarness();
    const seen: Record<string, TrainConfig[]> = { a: [], b: [], c: [] };
    addMember(h, 'a', 10, plus(1), reportingWork(10, seen.a!));
    addMember(h, 'b', 20, plus(3), reportingWork(20, seen.b!));
    addMember(h, 'c', 10, plus(100), reportingWork(10, seen.c!));
    const runId = await startRun(h, {
      rounds: 2,
      minAvailableMembers: 3,
      minTrainMembers: 2,
      train: { epochs: 1, batchSize: 5, learningRate: 0.1 },
      plan: { resources, objective: 'max-compute' },
    });
    assert.equal(await waitForRun(h, runId), 'completed');
    // max 0.8·R_a + 0.6·R_b + R_c with R_a ≤ 15, R_b ≤ 40, R_c ≤ 0 → 15, 40, 0 units per round.
    // a: 15 examples of 10 in batches of 5 → 2 epochs cut after 3 steps; b: 40 of 20 → 2 whole epochs.
    assert.equal(seen.c!.length, 0, 'c has no allocation and never trains');
    assert.equal(seen.a!.length, 2);
    for (const config of seen.a!) assert.deepEqual([config.epochs, config.maxSteps], [2, 3]);
    for (const config of seen.b!) assert.deepEqual([config.epochs, config.maxSteps], [2, undefined]);
    // FedAvg of a (+1, 10 examples) and b (+3, 20 examples) only: 7/3 per round.
    for (const v of (await h.storage.getCheckpoint(runId, 1))!.parameters.data) assert.ok(Math.abs(v - 7 / 3) < 1e-6);

    const rounds = await h.storage.listRounds(runId);
    assert.equal(rounds[0]!.trainMetrics.plannedUnits, 55);
    assert.equal(rounds[0]!.trainMetrics.examplesProcessed, 55);
    const { plan } = await operatorGet<{ plan: { status: string; allocation: { name: string; units: number }[]; unitsPerRound: Record<string, number>; rounds: { round: number; planned: number; actual: number; members: { name: string; planned: number; actual: number }[] }[]; total: { planned: number; actual: number } } }>(
      `/v1/runs/${runId}/plan`,
    );
    assert.deepEqual(plan.unitsPerRound, { a: 15, b: 40, c: 0 });
    assert.deepEqual(plan.rounds[1], { round: 2, planned: 55, actual: 55, members: plan.rounds[1]!.members });
    assert.deepEqual(plan.rounds[1]!.members.sort((x, y) => x.name.localeCompare(y.name)), [
      { name: 'a', planned: 15, actual: 15 },
      { name: 'b', planned: 40, actual: 40 },
    ]);
    assert.deepEqual(plan.total, { planned: 110, actual: 110 });
  });

  it('refuses a plan without an optimum, bad resources, and keeping updates under secure aggregation, naming the field', async () => {
    h = await startHarness();
    const infeasible = await postRun({ plan: { resources, objective: 'min-cost', demand: 1000 } });
    assert.equal(infeasible.status, 400);
    assert.equal(infeasible.body.error!.code, ErrorCode.INVALID_ARGUMENT);
    assert.equal(infeasible.body.error!.details.field, 'plan');
    assert.match(infeasible.body.error!.message, /infeasible/);
    const bad = await postRun({ plan: { resources: { members: [{ name: 'a', capacity: 1, efficiency: 2 }] }, objective: 'max-compute' } });
    assert.equal(bad.body.error!.details.field, 'plan.resources.members[0].efficiency');
    const unknownOption = await postRun({ plan: { resources, objective: 'max-compute', fairness: 0.1 } });
    assert.equal(unknownOption.body.error!.details.field, 'plan.fairness');
    assert.match(unknownOption.body.error!.message, /unknown field "fairness"/);
    const secret = await postRun({ secureAggregation: true, keepUpdates: true });
    assert.equal(secret.body.error!.details.field, 'keepUpdates');
    assert.deepEqual(await h.storage.listRuns(), []);
  });
});

describe('contributions of a run', () => {
  it('values kept updates by Shapley and leave-one-out and shares a reward pool', async () => {
    // Utility = the first weight: from 0, a sends 1 and b sends 3 (one example each).
    h = await startHarness({ validationAccuracy: async (_config, p) => p.data[0]! });
    addMember(h, 'a', 1, plus(1));
    addMember(h, 'b', 1, plus(3));
    const runId = await startRun(h, { rounds: 1 });
    assert.equal(await waitForRun(h, runId), 'completed');
    assert.equal((await h.storage.listMemberUpdates(runId, 1)).length, 2);

    // v(∅) = 0, v(a) = 1, v(b) = 3, v(ab) = 2 → φ_a = ½·1 + ½·(2 − 3) = 0, φ_b = ½·3 + ½·(2 − 1) = 2.
    type Report = { available: boolean; method: string; values: Record<string, number>; standardErrors: Record<string, number> | null; shares?: { shares: Record<string, number>; undistributed: number }; participation: { name: string; rounds: number; examples: number }[] };
    // The default is final-model Shapley; over one round it equals the round-wise value.
    const finalModel = await operatorGet<Report>(`/v1/runs/${runId}/contributions`);
    assert.equal(finalModel.method, 'final-model');
    assert.deepEqual(finalModel.values, { a: 0, b: 2 });
    const exact = await operatorGet<Report>(`/v1/runs/${runId}/contributions?rewardPool=100&method=exact`);
    assert.equal(exact.available, true);
    assert.equal(exact.method, 'exact');
    assert.deepEqual(exact.values, { a: 0, b: 2 });
    assert.deepEqual(exact.shares!.shares, { a: 0, b: 100 });
    assert.deepEqual(exact.participation.sort((x, y) => x.name.localeCompare(y.name)), [
      { name: 'a', rounds: 1, examples: 1 },
      { name: 'b', rounds: 1, examples: 1 },
    ]);
    // LOO: v(ab) − v(b) = −1 for a, v(ab) − v(a) = 1 for b.
    const loo = await operatorGet<Report>(`/v1/runs/${runId}/contributions?method=loo`);
    assert.deepEqual(loo.values, { a: -1, b: 1 });
    assert.equal(loo.standardErrors, null);

    const response = await fetch(`${h.url}/v1/runs/${runId}/contributions?method=banzhaf`, { headers: { authorization: `Bearer ${OPERATOR}` } });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: { details: { field: string } } }).error.details.field, 'method');
  });

  it('says why contributions are unavailable when updates were not kept, and what is known', async () => {
    h = await startHarness({ validationAccuracy: async () => 0.5 });
    addMember(h, 'a', 4, plus(1));
    addMember(h, 'b', 6, plus(3));
    const runId = await startRun(h, { rounds: 2, keepUpdates: false });
    assert.equal(await waitForRun(h, runId), 'completed');
    assert.deepEqual(await h.storage.listMemberUpdates(runId, 1), []);
    const report = await operatorGet<{ available: boolean; reason: string; participation: { name: string; rounds: number; examples: number }[] }>(`/v1/runs/${runId}/contributions`);
    assert.equal(report.available, false);
    assert.match(report.reason, /keepUpdates/);
    assert.deepEqual(report.participation.sort((x, y) => x.name.localeCompare(y.name)), [
      { name: 'a', rounds: 2, examples: 8 },
      { name: 'b', rounds: 2, examples: 12 },
    ]);
  });
});
