// Asynchronous rounds (FedBuff) on the real coordinator, with members answered through the
// in-memory grid: every version applies exactly K updates discounted by their staleness, a
// straggler holds no version back (it is released only after three versions were stored
// without it) and its update, staler than allowed, is dropped with the reason. Client-level
// DP clips each update, noises each buffer, charges each member a buffer holds and ends the
// run when budgets run out; the DP settings asynchronous rounds cannot honour are refused
// rather than silently skipped.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCoordinator, type Coordinator } from '../src/coordinator/server.js';
import { initialParameters } from '../src/model/build.js';
import { computeEpsilon } from '../src/privacy/rdp.js';
import type { TaskHandler } from '../src/node/member.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { LocalExecutor } from '../src/simulation/member-executor.js';
import { MemoryGrid } from '../src/simulation/memory-grid.js';
import { SqliteStorage } from '../src/storage/sqlite.js';
import { processScope } from './support/processes.js';

const { tempDir } = processScope();
const OPERATOR = 'async-operator';
let coordinator: Coordinator;
let storage: SqliteStorage;
let url: string;
let release: () => void = () => undefined;
const gate = new Promise<void>((resolve) => (release = resolve));
let stragglerDone: () => void = () => undefined;
const straggled = new Promise<void>((resolve) => (stragglerDone = resolve));

const handler = (slow: boolean): TaskHandler => ({
  async train(task, global) {
    if (slow) {
      await gate;
      stragglerDone();
    } else if (task.round > 3) {
      // Versions 4 and 5 wait until the straggler has answered (a macrotask later, so its
      // reply is taken first): the run cannot end before its stale update arrives.
      await straggled;
      await new Promise((r) => setTimeout(r, 10));
    }
    // Every update moves every weight by exactly 1 from the model it started from.
    return { parameters: makeParameters(global.specs, global.data.map((v) => v + 1)), numExamples: 10, metrics: { loss: 0.5 } };
  },
  evaluate: async () => ({ numExamples: 5, metrics: { loss: 0.4, accuracy: 0.5 } }),
});

before(async () => {
  const dir = await tempDir('concord-async-');
  storage = new SqliteStorage(join(dir, 'c.sqlite'));
  await storage.migrate();
  const handlers = new Map<string, TaskHandler>();
  const grid = new MemoryGrid({ executor: new LocalExecutor((id) => handlers.get(id), { concurrency: 8 }) });
  for (let i = 0; i < 6; i++) {
    const m = await storage.addMember({ name: i === 5 ? 'straggler' : `fast-${i}`, publicKey: `${String(i).repeat(43)}`.slice(0, 43), dataset: { name: 'toy', numExamples: 10, numHoldout: 5, inputShape: [3], classes: 2 } });
    handlers.set(m.memberId, handler(i === 5));
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
  for (let i = 0; i < 1200; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('asynchronous rounds (FedBuff)', () => {
  it('applies buffers of K staleness-discounted updates without waiting for a straggler, and drops its stale update', { timeout: 120_000 }, async () => {
    const { status, json } = await startRun({ model, rounds: 5, minAvailableMembers: 6, strategy: { name: 'fedbuff', options: { bufferSize: 3, maxStaleness: 2, stalenessExponent: 0.5 } }, train: { epochs: 1, batchSize: 4, learningRate: 0.1 }, keepUpdates: false });
    assert.equal(status, 200, JSON.stringify(json));
    const runId = json.runId as string;
    // Three versions are stored while the straggler is still training on version 0's model.
    await until(async () => ((await storage.listRounds(runId)).length >= 3 ? true : undefined), 'three versions');
    release();
    const run = await until(async () => {
      const r = await storage.getRun(runId);
      return r && r.status !== 'running' && r.status !== 'pending' ? r : undefined;
    }, 'the run to end');
    assert.equal(run.status, 'completed', run.error ?? '');
    const rounds = await storage.listRounds(runId);
    assert.deepEqual(rounds.map((r) => r.round), [1, 2, 3, 4, 5]);
    const straggler = (await storage.listMembers()).find((m) => m.name === 'straggler')!;
    for (const r of rounds.slice(0, 3)) assert.ok(!r.participants.includes(straggler.memberId), `version ${r.round} waited for the straggler`);
    const dropped = rounds.flatMap((r) => r.failures).filter((f) => f.memberId === straggler.memberId);
    assert.ok(dropped.length === 1 && /^update dropped: \d+ versions stale, the most allowed is 2$/.test(dropped[0]!.reason), JSON.stringify(dropped));

    // θ_v − θ_{v−1} = (1/K) Σ_k (1 + τ_k)^(−1/2) · 1, from the staleness stored with each update.
    let previous = (await storage.getInitialParameters(runId))!.data;
    for (const r of rounds) {
      assert.equal(r.participants.length, 3);
      const rows = (await storage.listMemberMetrics(runId, r.round)).filter((m) => m.phase === 'train');
      assert.equal(rows.length, 3);
      const expected = rows.reduce((s, m) => s + (1 + m.metrics.staleness!) ** -0.5, 0) / 3;
      const theta = (await storage.getCheckpoint(runId, r.round))!.parameters.data;
      for (let i = 0; i < theta.length; i++) assert.ok(Math.abs(theta[i]! - previous[i]! - expected) < 1e-5, `version ${r.round} weight ${i}: moved ${theta[i]! - previous[i]!}, expected ${expected}`);
      assert.ok(r.trainMetrics.maxStaleness! <= 2);
      previous = theta;
    }
  });

  it('with client-level DP: clips each update to C, adds N(0, (zC/K)²) to each buffer\'s mean, charges each member a buffer holds, and ends when budgets run out', { timeout: 120_000 }, async () => {
    release();
    const z = 0.2;
    const C = 1;
    const K = 3;
    // Each member's budget pays for two buffers and not three (q = 1: no amplification claimed).
    const two = computeEpsilon({ samplingRate: 1, noiseMultiplier: z, steps: 2, delta: 1e-5 }).epsilon;
    const three = computeEpsilon({ samplingRate: 1, noiseMultiplier: z, steps: 3, delta: 1e-5 }).epsilon;
    const names = (await storage.listMembers()).map((m) => m.name);
    const { status, json } = await startRun({
      model,
      rounds: 20,
      minAvailableMembers: 6,
      strategy: { name: 'fedbuff', options: { bufferSize: K, maxStaleness: 20, stalenessExponent: 0.5 } },
      train: { epochs: 1, batchSize: 4, learningRate: 0.1 },
      keepUpdates: false,
      // Earlier runs charged nothing: each dataset starts this run with an empty ledger.
      differentialPrivacy: { level: 'client', noiseMultiplier: z, clippingNorm: C, budget: { epsilon: 8, delta: 1e-5 }, budgets: Object.fromEntries(names.map((n) => [n, { epsilon: (two + three) / 2, delta: 1e-5 }])) },
    });
    assert.equal(status, 200, JSON.stringify(json));
    const runId = json.runId as string;
    const run = await until(async () => {
      const r = await storage.getRun(runId);
      return r && r.status !== 'running' && r.status !== 'pending' ? r : undefined;
    }, 'the run to end');
    // 6 members × 2 buffers each = 12 places, 3 per buffer, one per member: 3 or 4 buffers, then no buffer can fill.
    assert.equal(run.status, 'failed');
    assert.match(run.error ?? '', /^privacy budget exhausted: dataset [^:;]+: the next buffer would spend ε=\d+\.\d+ > budget [\d.]+ \(spent [\d.]+, δ=0\.00001\)(; dataset [^:;]+: [^;]+)*$/);
    const rounds = await storage.listRounds(runId);
    assert.ok(rounds.length === 3 || rounds.length === 4, `${rounds.length} versions`);

    const charges = (await storage.listPrivacyCharges()).filter((c) => c.runId === runId);
    assert.equal(charges.length, rounds.length * K);
    for (const r of rounds) {
      const mine = charges.filter((c) => c.round === r.round);
      assert.deepEqual(mine.map((c) => c.memberId).sort(), [...r.participants].sort());
      assert.equal(new Set(r.participants).size, K, `version ${r.round} holds one update per member`);
      for (const c of mine) assert.deepEqual([c.samplingRate, c.noiseMultiplier, c.steps], [1, z, 1]);
    }
    const perMember = new Map<string, number>();
    for (const c of charges) perMember.set(c.memberId, (perMember.get(c.memberId) ?? 0) + 1);
    assert.ok([...perMember.values()].every((n) => n <= 2), JSON.stringify([...perMember]));

    // Every update moves every one of the 8 weights by 1 (‖Δ‖ = √8): clipped, each moves by C/√8.
    // What is left after the clipped, staleness-discounted mean is the noise: N(0, (zC/K)²) per weight.
    const residuals: number[] = [];
    let previous = (await storage.getInitialParameters(runId))!.data;
    for (const r of rounds) {
      const rows = (await storage.listMemberMetrics(runId, r.round)).filter((m) => m.phase === 'train');
      const mean = rows.reduce((s, m) => s + (1 + m.metrics.staleness!) ** -0.5 * (C / Math.sqrt(8)), 0) / K;
      const theta = (await storage.getCheckpoint(runId, r.round))!.parameters.data;
      for (let i = 0; i < theta.length; i++) residuals.push((theta[i]! - previous[i]! - mean) / ((z * C) / K));
      previous = theta;
    }
    const average = residuals.reduce((s, x) => s + x, 0) / residuals.length;
    const sd = Math.sqrt(residuals.reduce((s, x) => s + (x - average) ** 2, 0) / (residuals.length - 1));
    assert.ok(Math.abs(average) < 0.8, `residual mean ${average} (unclipped updates would leave about 8)`);
    assert.ok(sd > 0.5 && sd < 1.6, `residual sd ${sd} in units of zC/K (no noise would leave 0)`);
  });

  it('refuses the DP settings an asynchronous run cannot honour, naming why', async () => {
    const refusal = async (body: Record<string, unknown>): Promise<string> => {
      const { status, json } = await startRun({ model, rounds: 2, minAvailableMembers: 2, ...body });
      assert.equal(status, 400, JSON.stringify(json));
      return (json.error as { message: string }).message;
    };
    const budget = { epsilon: 8, delta: 1e-5 };
    const fedbuff = { name: 'fedbuff', options: {} };
    // Secure aggregation per buffer: test/async-secure-rounds.test.ts.
    assert.match(await refusal({ strategy: fedbuff, differentialPrivacy: { level: 'sample', noiseMultiplier: 1, clippingNorm: 1, budget } }), /differentialPrivacy\.level: asynchronous rounds take client-level DP/);
    assert.match(await refusal({ strategy: fedbuff, differentialPrivacy: { level: 'client', mode: 'distributed', noiseMultiplier: 1, clippingNorm: 1, budget } }), /differentialPrivacy\.mode: asynchronous rounds add the noise on the coordinator/);
    assert.match(await refusal({ strategy: fedbuff, differentialPrivacy: { level: 'client', noiseMultiplier: 1, clippingNorm: 1, budget, adaptiveClipping: {} } }), /differentialPrivacy\.adaptiveClipping: asynchronous rounds clip with a fixed clippingNorm/);
    assert.match(await refusal({ strategy: { name: 'fedbuff', options: { weighting: 'examples' } }, differentialPrivacy: { level: 'client', noiseMultiplier: 1, clippingNorm: 1, budget } }), /strategy\.options\.weighting: weighting "examples" makes a member's weight depend/);
  });

  it('refuses unknown FedBuff options with the closest one', async () => {
    const { status, json } = await startRun({ model, rounds: 2, minAvailableMembers: 2, strategy: { name: 'fedbuff', options: { bufferSise: 4 } } });
    assert.equal(status, 400);
    assert.match((json.error as { message: string }).message, /strategy\.options\.bufferSise: unknown field "bufferSise"; did you mean `strategy\.options\.bufferSize`\?/);
  });
});
