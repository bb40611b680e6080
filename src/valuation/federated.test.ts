import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { seededRandom, shuffle } from '../core/random.js';
import { loadDataset } from '../data/spec.js';
import { subset, type Dataset } from '../data/dataset.js';
import { initBackend } from '../model/backend.js';
import { buildModel, initialParameters } from '../model/build.js';
import { evaluate, trainLocal } from '../model/train.js';
import { getParameters, setParameters } from '../model/weights.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { ModelSpec } from '../protocol/messages.js';
import { makeParameters, type Parameters } from '../protocol/tensors.js';
import { shareRewards } from './benefit-sharing.js';
import { coalitionModel, valueRun, type ValuationRound } from './federated.js';

const SPECS = [{ name: 'w', shape: [1] }];
const scalar = (x: number): Parameters => makeParameters(SPECS, Float32Array.of(x));

describe('round-wise federated Shapley values', () => {
  it('values a hand-computed round: FedAvg coalitions, utility = the weight', async () => {
    // θ_0 = 0; a sends 1 (1 example), b sends 3 (3 examples).
    // v(∅) = 0, v(a) = 1, v(b) = 3, v(ab) = (1·1 + 3·3)/4 = 2.5.
    // φ_a = ½(1 − 0) + ½(2.5 − 3) = 0.25, φ_b = ½(3 − 0) + ½(2.5 − 1) = 2.25.
    const rounds: ValuationRound[] = [{ round: 1, previous: scalar(0), updates: [{ member: 'a', numExamples: 1, parameters: scalar(1) }, { member: 'b', numExamples: 3, parameters: scalar(3) }] }];
    const result = await valueRun(rounds, { utility: (p) => p.data[0]! });
    assert.equal(result.method, 'exact');
    assert.ok(Math.abs(result.values.a! - 0.25) < 1e-12);
    assert.ok(Math.abs(result.values.b! - 2.25) < 1e-12);
    assert.deepEqual(result.standardErrors, { a: 0, b: 0 });
    assert.equal(result.evaluations, 4);
    assert.equal(result.rounds[0]!.emptyValue, 0);
    assert.equal(result.rounds[0]!.grandValue, 2.5);
  });

  it('sums rounds; a member absent from a round gets nothing for it; leave-one-out per round', async () => {
    const rounds: ValuationRound[] = [
      { round: 1, previous: scalar(0), updates: [{ member: 'a', numExamples: 1, parameters: scalar(2) }, { member: 'b', numExamples: 1, parameters: scalar(4) }] },
      { round: 2, previous: scalar(3), updates: [{ member: 'b', numExamples: 2, parameters: scalar(5) }] },
    ];
    // Round 1 (additive here): v(a) = 2, v(b) = 4, v(ab) = 3 → φ_a = ½·2 + ½·(3 − 4) = 0.5, φ_b = 2.5.
    // Round 2: only b, from 3 to 5 → φ_b = 2. Efficiency: Σφ = (3 − 0) + (5 − 3) = 5.
    const shapley = await valueRun(rounds, { utility: (p) => p.data[0]! });
    assert.deepEqual(shapley.values, { a: 0.5, b: 4.5 });
    const loo = await valueRun(rounds, { utility: (p) => p.data[0]!, method: 'loo' });
    // Round 1: v(ab) − v(b) = −1 for a, v(ab) − v(a) = 1 for b; round 2: b gets 2.
    assert.equal(loo.method, 'loo');
    assert.deepEqual(loo.values, { a: -1, b: 3 });
    assert.equal(loo.standardErrors, null);
  });

  it('coalition models are sample-weighted FedAvg, θ_{t−1} for none, and a member without examples adds nothing', () => {
    const previous = makeParameters(SPECS, Float32Array.of(7));
    assert.equal(coalitionModel(previous, []), previous);
    const avg = coalitionModel(previous, [
      { member: 'a', numExamples: 1, parameters: scalar(1) },
      { member: 'b', numExamples: 3, parameters: scalar(5) },
      { member: 'c', numExamples: 0, parameters: scalar(100) },
    ]);
    assert.equal(avg.data[0], 4);
  });

  it('refuses two updates from one member in a round, naming it', async () => {
    const rounds: ValuationRound[] = [{ round: 3, previous: scalar(0), updates: [{ member: 'a', numExamples: 1, parameters: scalar(1) }, { member: 'a', numExamples: 1, parameters: scalar(2) }] }];
    await assert.rejects(valueRun(rounds, { utility: () => 0 }), (e: unknown) => e instanceof ConcordError && e.code === ErrorCode.INVALID_ARGUMENT && e.details.field === 'rounds.3.updates.1.member');
  });
});

describe('benefit sharing', () => {
  it('splits the pool in proportion to positive contributions; negative ones get nothing', () => {
    const result = shareRewards({ a: 0.3, b: 0.1, c: -0.2 }, 1000);
    assert.ok(Math.abs(result.shares.a! - 750) < 1e-9);
    assert.ok(Math.abs(result.shares.b! - 250) < 1e-9);
    assert.equal(result.shares.c, 0);
    assert.equal(result.undistributed, 0);
  });

  it('hands out nothing when no contribution is positive, and says so', () => {
    const result = shareRewards({ a: -0.1, b: 0 }, 500);
    assert.deepEqual(result.shares, { a: 0, b: 0 });
    assert.equal(result.undistributed, 500);
    assert.throws(() => shareRewards({ a: 1 }, -1), (e: unknown) => e instanceof ConcordError && e.details.field === 'rewardPool');
  });
});

describe('contributions in a small real federation (6 members, MNIST)', () => {
  const spec: ModelSpec = { family: 'mlp', inputShape: [784], hidden: [16], classes: 10, activation: 'relu' };
  const names = ['m0', 'm1', 'm2', 'm3', 'm4', 'noisy'];
  const rounds: ValuationRound[] = [];
  let utility: (p: Parameters) => Promise<number>;

  before(async () => {
    await initBackend('wasm');
    const pool = await loadDataset('mnist:pool,members=1,seed=3,test=400');
    const validation = await loadDataset('mnist:test,seed=3,test=400');
    // Six disjoint random shares of 150 digits (the pool is sorted by label); the last
    // member's labels are then replaced by random ones.
    const random = seededRandom(11);
    const order = shuffle(Array.from({ length: pool.y.length }, (_, i) => i), random);
    const shares: Dataset[] = names.map((_, k) => subset(pool, order.slice(k * 150, (k + 1) * 150)));
    const noisy = shares[5]!;
    noisy.y = noisy.y.map(() => Math.floor(random() * 10));
    const model = buildModel(spec, 1);
    utility = async (p) => {
      setParameters(model, p);
      return (await evaluate(model, validation)).accuracy;
    };
    // Three rounds of FedAvg, exactly as the coordinator runs them, keeping every update.
    let global = initialParameters(spec, 1);
    for (let round = 1; round <= 3; round++) {
      const updates = [];
      for (const [k, data] of shares.entries()) {
        setParameters(model, global);
        await trainLocal(model, data, { epochs: 1, batchSize: 16, learningRate: 0.1, optimizer: 'sgd', proximalMu: 0, seed: round * 10 + k });
        updates.push({ member: names[k]!, numExamples: data.y.length, parameters: getParameters(model) });
      }
      rounds.push({ round, previous: global, updates });
      global = coalitionModel(global, updates);
    }
  });

  it('gives the member with random labels clearly the lowest value; efficiency holds', async () => {
    const exact = await valueRun(rounds, { utility, method: 'exact' });
    const honest = names.slice(0, 5).map((m) => exact.values[m]!);
    const noisy = exact.values.noisy!;
    assert.ok(noisy < Math.min(...honest), `noisy ${noisy} vs honest ${honest.join(', ')}`);
    assert.ok(noisy < 0.5 * Math.min(...honest), `noisy ${noisy} is not clearly below the honest members' ${Math.min(...honest)}`);
    const sum = Object.values(exact.values).reduce((s, v) => s + v, 0);
    const gains = exact.rounds.reduce((s, r) => s + r.grandValue - r.emptyValue, 0);
    assert.ok(Math.abs(sum - gains) < 1e-9);
    assert.equal(exact.evaluations, 3 * 64);
    // Leave-one-out agrees on who helps least here.
    const loo = await valueRun(rounds, { utility, method: 'loo' });
    assert.equal(Object.entries(loo.values).sort((a, b) => a[1] - b[1])[0]![0], 'noisy');
  });

  it('Monte Carlo estimates lie within 3 stated standard errors of the exact values', async () => {
    const exact = await valueRun(rounds, { utility, method: 'exact' });
    const mc = await valueRun(rounds, { utility, method: 'monte-carlo', permutations: 200, seed: 1 });
    assert.equal(mc.method, 'monte-carlo');
    for (const m of names) {
      const se = mc.standardErrors![m]!;
      assert.ok(se > 0, `${m}: standard error ${se}`);
      assert.ok(Math.abs(mc.values[m]! - exact.values[m]!) <= 3 * se, `${m}: ${mc.values[m]} vs exact ${exact.values[m]} (se ${se})`);
    }
  });
});
