import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FedAvg } from './fedavg.js';
import { assertClose, params, trainResult } from './strategy-conformance.js';

test('FedAvg: two rounds of example-weighted averages', () => {
  const s = new FedAvg();
  // Round 1: (1·[1, 2, 3] + 3·[3, 6, −1]) / 4 = ([1, 2, 3] + [9, 18, −3]) / 4 = [10, 20, 0] / 4 = [2.5, 5, 0].
  const r1 = s.aggregateTrain(1, params([0, 0, 0]), [trainResult('a', [1, 2, 3], 1), trainResult('b', [3, 6, -1], 3)], []);
  assert.ok(r1);
  assert.deepEqual(Array.from(r1.parameters.data), [2.5, 5, 0]);
  // Round 2: (2·[2, 4, 1] + 2·[4, 4, −1]) / 4 = [12, 16, 0] / 4 = [3, 4, 0]; the current model plays no part.
  const r2 = s.aggregateTrain(2, r1.parameters, [trainResult('a', [2, 4, 1], 2), trainResult('b', [4, 4, -1], 2)], []);
  assert.ok(r2);
  assert.deepEqual(Array.from(r2.parameters.data), [3, 4, 0]);
  // Round 3, three members: (1·[0, 0, 9] + 1·[3, 3, 0] + 2·[0, 6, 0]) / 4 = [3, 15, 9] / 4 = [0.75, 3.75, 2.25].
  const r3 = s.aggregateTrain(3, r2.parameters, [trainResult('a', [0, 0, 9], 1), trainResult('b', [3, 3, 0], 1), trainResult('c', [0, 6, 0], 2)], []);
  assert.ok(r3);
  assert.deepEqual(Array.from(r3.parameters.data), [0.75, 3.75, 2.25]);
  assert.equal(r3.metrics.numExamples, 4);
  assert.equal(r3.metrics.members, 3);
});

test('FedAvg: a member with zero examples carries no weight', () => {
  // (0·[100, 100, 100] + 5·[1, −1, 0.5]) / 5 = [1, −1, 0.5].
  const out = new FedAvg().aggregateTrain(1, params([0, 0, 0]), [trainResult('a', [100, 100, 100], 0), trainResult('b', [1, -1, 0.5], 5)], []);
  assert.ok(out);
  assert.deepEqual(Array.from(out.parameters.data), [1, -1, 0.5]);
});

test('FedAvg: weights that do not divide evenly', () => {
  // (1·[1, 0, 0] + 2·[0, 1, 0]) / 3 = [1/3, 2/3, 0].
  const out = new FedAvg().aggregateTrain(1, params([0, 0, 0]), [trainResult('a', [1, 0, 0], 1), trainResult('b', [0, 1, 0], 2)], []);
  assert.ok(out);
  assertClose(out.parameters.data, [1 / 3, 2 / 3, 0], 1e-7);
});

test('FedAvg: evaluation loss weighted by examples', () => {
  // (10·0.5 + 30·0.1 + 60·0.2) / 100 = (5 + 3 + 12) / 100 = 0.2.
  const out = new FedAvg().aggregateEvaluate(
    1,
    [
      { memberId: 'a', loss: 0.5, numExamples: 10, metrics: { accuracy: 0.8 } },
      { memberId: 'b', loss: 0.1, numExamples: 30, metrics: { accuracy: 1 } },
      { memberId: 'c', loss: 0.2, numExamples: 60, metrics: { accuracy: 0.9 } },
    ],
    [],
  );
  assert.ok(out);
  // accuracy: (8 + 30 + 54) / 100 = 0.92.
  assertClose([out.loss, out.metrics.accuracy!, out.metrics.numExamples!, out.metrics.members!], [0.2, 0.92, 100, 3], 1e-12);
});
