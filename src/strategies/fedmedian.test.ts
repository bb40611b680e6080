import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../protocol/errors.js';
import { FedAvg } from './fedavg.js';
import { FedMedian } from './fedmedian.js';
import { assertClose, assertConcordError, params, trainResult } from './strategy-conformance.js';

test('FedMedian: coordinate-wise median of three, and of four (mean of the middle two)', () => {
  const s = new FedMedian();
  // Columns {1, 3, 100} → 3, {2, 6, −100} → 2, {3, −1, 0} → 0.
  const three = s.aggregateTrain(1, params([0, 0, 0]), [trainResult('a', [1, 2, 3], 1), trainResult('b', [3, 6, -1], 1), trainResult('c', [100, -100, 0], 1)], []);
  assert.ok(three);
  assert.deepEqual(Array.from(three.parameters.data), [3, 2, 0]);
  // Columns {1, 3, 2, 100} → (2 + 3)/2 = 2.5, {2, 6, 0, 100} → (2 + 6)/2 = 4, {3, −1, 5, 100} → (3 + 5)/2 = 4.
  const four = s.aggregateTrain(2, params([0, 0, 0]), [trainResult('a', [1, 2, 3], 1), trainResult('b', [3, 6, -1], 1), trainResult('c', [2, 0, 5], 1), trainResult('d', [100, 100, 100], 1)], []);
  assert.ok(four);
  assert.deepEqual(Array.from(four.parameters.data), [2.5, 4, 4]);
  assert.equal(four.metrics.members, 4);
});

test('FedMedian: an outlier among five is rejected where FedAvg follows it', () => {
  const results = [
    trainResult('a', [1, 0, 0], 10),
    trainResult('b', [1.25, 0.125, 0], 10),
    trainResult('c', [0.75, -0.125, 0.125], 10),
    trainResult('d', [1, 0, -0.125], 10),
    trainResult('evil', [-50, 50, 50], 10),
  ];
  // Columns sorted: {−50, 0.75, 1, 1, 1.25} → 1; {−0.125, 0, 0, 0.125, 50} → 0; {−0.125, 0, 0, 0.125, 50} → 0.
  const median = new FedMedian().aggregateTrain(1, params([0, 0, 0]), results, []);
  assert.ok(median);
  assert.deepEqual(Array.from(median.parameters.data), [1, 0, 0]);
  // FedAvg: (1 + 1.25 + 0.75 + 1 − 50)/5 = −9.2, (0.125 − 0.125 + 50)/5 = 10, (0.125 − 0.125 + 50)/5 = 10.
  const avg = new FedAvg().aggregateTrain(1, params([0, 0, 0]), results, []);
  assert.ok(avg);
  assertClose(avg.parameters.data, [-9.2, 10, 10], 1e-5);
});

test('FedMedian: claimed example counts do not weigh; results without examples are left out', () => {
  const s = new FedMedian();
  // A member claiming a million examples is one vote: median of {0, 1, 9} = 1 in each column.
  const out = s.aggregateTrain(1, params([0, 0, 0]), [trainResult('a', [0, 0, 0], 1), trainResult('b', [1, 1, 1], 1), trainResult('c', [9, 9, 9], 1_000_000)], []);
  assert.ok(out);
  assert.deepEqual(Array.from(out.parameters.data), [1, 1, 1]);
  // With 'c' at zero examples the median is that of {0, 1}: 0.5.
  const without = s.aggregateTrain(1, params([0, 0, 0]), [trainResult('a', [0, 0, 0], 1), trainResult('b', [1, 1, 1], 1), trainResult('c', [9, 9, 9], 0)], []);
  assert.ok(without);
  assert.deepEqual(Array.from(without.parameters.data), [0.5, 0.5, 0.5]);
  assert.equal(without.metrics.members, 3);
});

test('FedMedian: takes no options', () => {
  assertConcordError(() => new FedMedian({ beta: 0.1 } as never), ErrorCode.INVALID_ARGUMENT, 'strategy.options.beta');
});
