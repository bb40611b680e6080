// Asynchronous rounds (FedBuff) under secure aggregation on the real coordinator: each buffer
// is a cohort of K members that train from one version and run SecAgg+ among themselves, so
// the coordinator learns each cohort's sum only, applied as one version with the cohort's
// staleness discount. A straggler holds back its own cohort, not the run: versions are stored
// while it trains. Settings a secure buffer cannot honour are refused, naming why.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
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
const OPERATOR = 'async-secure-operator';
let coordinator: Coordinator;
let storage: SqliteStorage;
let url: string;
let release: () => void = () => undefined;
const gate = new Promise<void>((resolve) => (release = resolve));
/** How far each member's update moves every weight: member i by i + 1. */
const shift = new Map<string, number>();

const handler = (step: number, slow: boolean): TaskHandler => ({
  async train(_task, global) {
    if (slow) await gate;
    return { parameters: makeParameters(global.specs, global.data.map((v) => v + step)), numExamples: 10, metrics: { loss: 0.5 } };
  },
  evaluate: async () => ({ numExamples: 5, metrics: { loss: 0.4, accuracy: 0.5 } }),
});

before(async () => {
  const dir = await tempDir('concord-async-secure-');
  storage = new SqliteStorage(join(dir, 'c.sqlite'));
  await storage.migrate();
  const handlers = new Map<string, TaskHandler>();
  const grid = new MemoryGrid({ executor: new LocalExecutor((id) => handlers.get(id), { concurrency: 9 }) });
  for (let i = 0; i < 9; i++) {
    const m = await storage.addMember({ name: i === 8 ? 'straggler' : `fast-${i}`, publicKey: `${String(i).repeat(43)}`.slice(0, 43), dataset: { name: 'toy', numExamples: 10, numHoldout: 5, inputShape: [3], classes: 2 } });
    shift.set(m.memberId, i + 1);
    handlers.set(m.memberId, withSecureAggregation(handler(i + 1, i === 8), { memberId: () => m.memberId, primitives: nodePrimitives }));
    grid.add({ memberId: m.memberId, name: m.name, numExamples: 10, numHoldout: 5 });
  }
  coordinator = await createCoordinator({ storage, operatorToken: OPERATOR, memberBoard: grid, initialParameters: async (config) => initialParameters(config.model, config.seed), retryDelayMs: 50 });
  url = await coordinator.listen(0, '127.0.0.1');
});

after(async () => {
  release();
  await coordinator?.close();
  await storage?.close();
});

async function startRun(body: Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/v1/runs`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const model = { family: 'mlp', inputShape: [3], hidden: [], classes: 2 };

async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 2400; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('asynchronous rounds (FedBuff) under secure aggregation', () => {
  it('applies each cohort of K members as one secure sum, discounted by its staleness, while a straggler\'s cohort is still training', { timeout: 180_000 }, async () => {
    const K = 3;
    const { status, json } = await startRun({ model, rounds: 5, minAvailableMembers: 9, secureAggregation: true, strategy: { name: 'fedbuff', options: { bufferSize: K, concurrency: 6, maxStaleness: 2, stalenessExponent: 0.5 } }, train: { epochs: 1, batchSize: 4, learningRate: 0.1 }, keepUpdates: false });
    assert.equal(status, 200, JSON.stringify(json));
    const runId = json.runId as string;
    const straggler = (await storage.listMembers()).find((m) => m.name === 'straggler')!;
    // Three versions are stored while the straggler (and so its cohort) is still training.
    await until(async () => ((await storage.listRounds(runId)).length >= 3 ? true : undefined), 'three versions');
    const early = await storage.listRounds(runId);
    for (const r of early.slice(0, 3)) assert.ok(!r.participants.includes(straggler.memberId), `version ${r.round} waited for the straggler`);
    release();
    const run = await until(async () => {
      const r = await storage.getRun(runId);
      return r && r.status !== 'running' && r.status !== 'pending' ? r : undefined;
    }, 'the run to end');
    assert.equal(run.status, 'completed', run.error ?? '');
    const rounds = await storage.listRounds(runId);
    assert.deepEqual(rounds.map((r) => r.round), [1, 2, 3, 4, 5]);

    // θ_v − θ_{v−1} = (1 + τ)^(−1/2) · (1/K) Σ_k shift_k: uniform weights, one staleness per cohort.
    let previous = (await storage.getInitialParameters(runId))!.data;
    for (const r of rounds) {
      assert.equal(new Set(r.participants).size, K, `version ${r.round}: a cohort of ${K} distinct members`);
      const rows = (await storage.listMemberMetrics(runId, r.round)).filter((m) => m.phase === 'train');
      assert.equal(rows.length, K);
      const stalenesses = new Set(rows.map((m) => m.metrics.staleness));
      assert.equal(stalenesses.size, 1, `version ${r.round}: one staleness for its cohort`);
      const tau = rows[0]!.metrics.staleness!;
      assert.ok(tau <= 2);
      // Secure aggregation hides each member's loss from the coordinator.
      for (const m of rows) assert.equal(m.loss, null);
      const expected = (1 + tau) ** -0.5 * (r.participants.reduce((s, id) => s + shift.get(id)!, 0) / K);
      const theta = (await storage.getCheckpoint(runId, r.round))!.parameters.data;
      for (let i = 0; i < theta.length; i++) assert.ok(Math.abs(theta[i]! - previous[i]! - expected) < 1e-5, `version ${r.round} weight ${i}: moved ${theta[i]! - previous[i]!}, expected ${expected}`);
      previous = theta;
    }
  });

  it('refuses what a secure buffer cannot honour, naming why', async () => {
    const refusal = async (body: Record<string, unknown>): Promise<string> => {
      const { status, json } = await startRun({ model, rounds: 2, minAvailableMembers: 2, secureAggregation: true, ...body });
      assert.equal(status, 400, JSON.stringify(json));
      return (json.error as { message: string }).message;
    };
    assert.match(await refusal({ strategy: { name: 'fedbuff', options: { bufferSize: 1 } } }), /strategy\.options\.bufferSize: is 1; with secure aggregation a buffer is one secure sum, which needs at least 2 members/);
    assert.match(await refusal({ strategy: { name: 'fedbuff', options: { bufferSize: 4, concurrency: 3 } } }), /strategy\.options\.concurrency: is 3; with secure aggregation a buffer's 4 members train together/);
    assert.match(await refusal({ strategy: { name: 'fedbuff', options: {} }, differentialPrivacy: { level: 'client', noiseMultiplier: 1, clippingNorm: 1, budget: { epsilon: 8, delta: 1e-5 } } }), /differentialPrivacy\.level: client-level DP in asynchronous rounds clips each arriving update on the coordinator, which secure aggregation per buffer hides/);
    assert.match(await refusal({ strategy: { name: 'fedbuff', options: {} }, keepUpdates: true }), /keepUpdates: keeping updates needs individual updates/);
    assert.match(await refusal({ strategy: { name: 'fedbuff', options: {} }, secureAggregationOptions: { neighbors: 2 } }), /secureAggregationOptions\.neighbors: unknown field "neighbors"; did you mean `secureAggregationOptions\.neighbours`\?/);
  });
});
