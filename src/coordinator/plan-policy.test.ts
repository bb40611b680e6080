import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { RunConfigSchema, type TrainConfig } from '../protocol/messages.js';
import type { MemberRoundMetrics } from '../storage/storage.js';
import { assignWork, planExecution, solveRunPlan } from './plan-policy.js';

const train: TrainConfig = { epochs: 3, batchSize: 10, learningRate: 0.1, optimizer: 'sgd', proximalMu: 0, seed: 0, maxSteps: 99 };
const config = (plan: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}) =>
  RunConfigSchema.parse({ model: { family: 'mlp', inputShape: [2], classes: 2 }, rounds: 4, ...(plan ? { plan } : {}), ...extra });
const seed = { members: [{ name: 'A', capacity: 100, efficiency: 0.8 }, { name: 'B', capacity: 200, efficiency: 0.6 }] };

describe('assignWork', () => {
  it('whole epochs need no step cap; the run\'s own epochs and cap are replaced', () => {
    const { maxSteps: _cap, ...uncapped } = train;
    assert.deepEqual(assignWork(60, 30, train), { config: { ...uncapped, epochs: 2 }, units: 60 });
  });

  it('the rest of the work is a cut epoch: 75 units of 30 examples in batches of 10 → 3 epochs, 6 + 2 steps', () => {
    const { config: c, units } = assignWork(75, 30, train);
    assert.equal(c.epochs, 3);
    assert.equal(c.maxSteps, 8);
    assert.equal(units, 75);
    // Fractional units round to whole examples; less than one example still trains one.
    assert.equal(assignWork(0.4, 30, train).units, 1);
    assert.equal(assignWork(12.6, 30, train).config.maxSteps, 2);
  });

  it('never asks for more than 1000 epochs', () => {
    const { config: c, units } = assignWork(1e9, 10, train);
    assert.equal(c.epochs, 1000);
    assert.equal(units, 10_000);
  });
});

describe('solveRunPlan', () => {
  it('solves the seed example once per run: per round, or spread over the run', async () => {
    const perRound = (await solveRunPlan(config({ resources: seed, objective: 'max-compute' })))!;
    assert.equal(perRound.plan.objective, 200);
    assert.deepEqual(perRound.unitsPerRound, { A: 100, B: 200 });
    const perRun = (await solveRunPlan(config({ resources: seed, objective: 'max-compute', period: 'run' })))!;
    assert.deepEqual(perRun.unitsPerRound, { A: 25, B: 50 });
    assert.equal(await solveRunPlan(config(undefined)), null);
  });

  it('refuses bad periods and sample-level DP, naming the field', async () => {
    const refused = (field: string) => (e: unknown) => e instanceof ConcordError && e.code === ErrorCode.INVALID_ARGUMENT && e.details.field === field;
    await assert.rejects(solveRunPlan(config({ resources: seed, objective: 'max-compute', period: 'week' })), refused('plan.period'));
    const dp = { differentialPrivacy: { level: 'sample', noiseMultiplier: 1, clippingNorm: 1, budget: { epsilon: 1, delta: 1e-5 } } };
    await assert.rejects(solveRunPlan(config({ resources: seed, objective: 'max-compute' }, dp)), refused('plan'));
    await assert.rejects(solveRunPlan(config({ resources: seed, objective: 'min-cost' })), refused('plan.demand'));
  });
});

describe('planExecution', () => {
  it('puts the plan next to the work members reported, per round and member', async () => {
    const rows: (MemberRoundMetrics & { round: number })[] = [
      { round: 1, memberId: 'm1', phase: 'train', numExamples: 50, loss: null, metrics: { plannedUnits: 100, examplesProcessed: 100 }, bytesIn: 0, bytesOut: 0, seconds: 1 },
      { round: 1, memberId: 'm2', phase: 'train', numExamples: 50, loss: null, metrics: { plannedUnits: 200, examplesProcessed: 210 }, bytesIn: 0, bytesOut: 0, seconds: 1 },
      { round: 1, memberId: 'm1', phase: 'evaluate', numExamples: 5, loss: 1, metrics: { accuracy: 1 }, bytesIn: 0, bytesOut: 0, seconds: 1 },
    ];
    const execution = (await planExecution(config({ resources: seed, objective: 'max-compute' }), rows, (id) => (id === 'm1' ? 'A' : 'B')))!;
    assert.deepEqual(execution.rounds, [{ round: 1, planned: 300, actual: 310, members: [{ name: 'A', planned: 100, actual: 100 }, { name: 'B', planned: 200, actual: 210 }] }]);
    assert.deepEqual(execution.total, { planned: 300, actual: 310 });
  });
});
