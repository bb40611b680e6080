import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FedProx } from './fedprox.js';
import { params, roundContext, trainResult } from './strategy-conformance.js';

test('FedProx: every train instruction carries proximalMu, default 0.01', () => {
  const ctx = roundContext({ config: { fractionTrain: 0.5 } });
  const instructions = new FedProx().configureTrain(ctx);
  assert.equal(instructions.length, 5);
  // The run's train settings, less the run-level learning-rate schedule (members get the round's rate).
  const { learningRateDecay: _, ...train } = ctx.config.train;
  for (const i of instructions) assert.deepEqual(i.config, { ...train, proximalMu: 0.01 });
  for (const i of new FedProx({ mu: 0.5 }).configureTrain(ctx)) assert.equal(i.config.proximalMu, 0.5);
});

test('FedProx: the run config is not modified and evaluation carries no proximal term', () => {
  const ctx = roundContext();
  new FedProx({ mu: 1 }).configureTrain(ctx);
  assert.equal(ctx.config.train.proximalMu, 0);
  for (const i of new FedProx({ mu: 1 }).configureEvaluate(ctx)) assert.equal(i.config.proximalMu, 0);
});

test('FedProx: aggregation is FedAvg over two rounds', () => {
  const s = new FedProx({ mu: 0.1 });
  // Round 1: (1·[1, 2, 3] + 3·[3, 6, −1]) / 4 = [2.5, 5, 0].
  const r1 = s.aggregateTrain(1, params([0, 0, 0]), [trainResult('a', [1, 2, 3], 1), trainResult('b', [3, 6, -1], 3)], []);
  assert.ok(r1);
  assert.deepEqual(Array.from(r1.parameters.data), [2.5, 5, 0]);
  // Round 2: (3·[−1, 0, 2] + 1·[3, 4, 2]) / 4 = [0, 4, 8] / 4 = [0, 1, 2].
  const r2 = s.aggregateTrain(2, r1.parameters, [trainResult('a', [-1, 0, 2], 3), trainResult('b', [3, 4, 2], 1)], []);
  assert.ok(r2);
  assert.deepEqual(Array.from(r2.parameters.data), [0, 1, 2]);
});
