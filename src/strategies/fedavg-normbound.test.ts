import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../protocol/errors.js';
import { FedAvg } from './fedavg.js';
import { FedAvgNormBound } from './fedavg-normbound.js';
import { assertClose, assertConcordError, params, trainResult } from './strategy-conformance.js';

// Deltas from θ = 0: a (3, 4, 0) with norm 5, b (0, 1, 0) with norm 1, c (0, 0, 2) with norm 2; weights 1/4, 1/4, 2/4.
// With M = 2, a is scaled by 2/5 to (1.2, 1.6, 0):
//   θ' = ¼(1.2, 1.6, 0) + ¼(0, 1, 0) + ½(0, 0, 2) = (0.3, 0.65, 1).
const RESULTS = [trainResult('a', [3, 4, 0], 1), trainResult('b', [0, 1, 0], 1), trainResult('c', [0, 0, 2], 2)];

test('FedAvgNormBound: clips each delta to normBound before the example-weighted average', () => {
  const out = new FedAvgNormBound({ normBound: 2 }).aggregateTrain(1, params([0, 0, 0]), RESULTS, []);
  assert.ok(out);
  assertClose(out.parameters.data, [0.3, 0.65, 1], 1e-6);
  assert.equal(out.metrics.clipped, 1);
  assert.equal(out.metrics.normBound, 2);
});

test('FedAvgNormBound: without normBound the bound is the median delta norm (here median{5, 1, 2} = 2)', () => {
  const out = new FedAvgNormBound().aggregateTrain(1, params([0, 0, 0]), RESULTS, []);
  assert.ok(out);
  assertClose(out.parameters.data, [0.3, 0.65, 1], 1e-6);
  assert.equal(out.metrics.normBound, 2);
});

test('FedAvgNormBound: clips the delta from the current model, not the model', () => {
  // Every model shifted by (1, 1, 1), and θ = (1, 1, 1): the same deltas, θ' = (1.3, 1.65, 2).
  const shifted = RESULTS.map((r) => trainResult(r.memberId, Array.from(r.parameters.data, (v) => v + 1), r.numExamples));
  const out = new FedAvgNormBound({ normBound: 2 }).aggregateTrain(1, params([1, 1, 1]), shifted, []);
  assert.ok(out);
  assertClose(out.parameters.data, [1.3, 1.65, 2], 1e-6);
});

test('FedAvgNormBound: when nothing is clipped it is exactly FedAvg', () => {
  const current = params([0.5, -0.25, 1]);
  const results = [trainResult('a', [0.7, -0.2, 1.1], 3), trainResult('b', [0.4, -0.3, 0.9], 5), trainResult('c', [0.55, -0.1, 1], 7)];
  const bounded = new FedAvgNormBound({ normBound: 10 }).aggregateTrain(1, current, results, []);
  const plain = new FedAvg().aggregateTrain(1, current, results, []);
  assert.ok(bounded && plain);
  assert.deepEqual(Array.from(bounded.parameters.data), Array.from(plain.parameters.data));
  assert.equal(bounded.metrics.clipped, 0);
});

test('FedAvgNormBound: a boosted update weighs no more than an honest one', () => {
  // Four honest deltas (1, 0, 0) and one boosted ×100. The median norm is 1, so the boosted one
  // is clipped to (1, 0, 0): θ' = (1, 0, 0). FedAvg would give (4 + 100)/5 = 20.8.
  const results = [...['a', 'b', 'c', 'd'].map((id) => trainResult(id, [1, 0, 0], 10)), trainResult('evil', [100, 0, 0], 10)];
  const out = new FedAvgNormBound().aggregateTrain(1, params([0, 0, 0]), results, []);
  assert.ok(out);
  assertClose(out.parameters.data, [1, 0, 0], 1e-6);
  assert.equal(out.metrics.clipped, 1);
  const avg = new FedAvg().aggregateTrain(1, params([0, 0, 0]), results, []);
  assert.ok(avg);
  assertClose(avg.parameters.data, [20.8, 0, 0], 1e-5);
});

test('FedAvgNormBound: normBound must be a positive finite number', () => {
  assertConcordError(() => new FedAvgNormBound({ normBound: 0 }), ErrorCode.INVALID_ARGUMENT, 'strategy.options.normBound');
  assertConcordError(() => new FedAvgNormBound({ normBound: -1 }), ErrorCode.INVALID_ARGUMENT, 'strategy.options.normBound');
  assertConcordError(() => new FedAvgNormBound({ normBound: Infinity }), ErrorCode.INVALID_ARGUMENT, 'strategy.options.normBound');
});
