import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../protocol/errors.js';
import { FedTrimmedAvg } from './fedtrimmedavg.js';
import { assertClose, assertConcordError, params, trainResult } from './strategy-conformance.js';

const FOUR = [trainResult('a', [1, 2, 3], 1), trainResult('b', [3, 6, -1], 1), trainResult('c', [2, 0, 5], 1), trainResult('d', [100, 100, 100], 1)];

test('FedTrimmedAvg: β = 0.2 of five drops one value at each end of every coordinate', () => {
  const s = new FedTrimmedAvg();
  assert.equal(s.beta, 0.2);
  // Columns {1, 2, 3, 4, 100} keep {2, 3, 4} → 3; {10, −50, 20, 30, 40} keep {10, 20, 30} → 20; all 0 → 0.
  const out = s.aggregateTrain(1, params([0, 0, 0]), [trainResult('a', [1, 10, 0], 1), trainResult('b', [2, -50, 0], 1), trainResult('c', [3, 20, 0], 1), trainResult('d', [4, 30, 0], 1), trainResult('e', [100, 40, 0], 1)], []);
  assert.ok(out);
  assert.deepEqual(Array.from(out.parameters.data), [3, 20, 0]);
  assert.equal(out.metrics.trimmed, 1);
});

test('FedTrimmedAvg: β = 0.25 of four keeps the middle two; β = 0.2 of four trims nothing (the plain mean)', () => {
  // Columns {1, 2, 3, 100} keep {2, 3} → 2.5; {0, 2, 6, 100} keep {2, 6} → 4; {−1, 3, 5, 100} keep {3, 5} → 4.
  const quarter = new FedTrimmedAvg({ beta: 0.25 }).aggregateTrain(1, params([0, 0, 0]), FOUR, []);
  assert.ok(quarter);
  assert.deepEqual(Array.from(quarter.parameters.data), [2.5, 4, 4]);
  assert.equal(quarter.metrics.trimmed, 1);
  // ⌊0.2·4⌋ = 0: (1 + 3 + 2 + 100)/4 = 26.5, (2 + 6 + 0 + 100)/4 = 27, (3 − 1 + 5 + 100)/4 = 26.75.
  const none = new FedTrimmedAvg().aggregateTrain(1, params([0, 0, 0]), FOUR, []);
  assert.ok(none);
  assert.deepEqual(Array.from(none.parameters.data), [26.5, 27, 26.75]);
  assert.equal(none.metrics.trimmed, 0);
});

test('FedTrimmedAvg: an outlier among five is trimmed away', () => {
  const results = [
    trainResult('a', [1, 0, 0], 10),
    trainResult('b', [1.25, 0.125, 0], 10),
    trainResult('c', [0.75, -0.125, 0.125], 10),
    trainResult('d', [1, 0, -0.125], 10),
    trainResult('evil', [-50, 50, 50], 1000),
  ];
  // Column 0 {−50, 0.75, 1, 1, 1.25} keeps {0.75, 1, 1} → 2.75/3; column 1 {−0.125, 0, 0, 0.125, 50} keeps {0, 0, 0.125} → 0.125/3;
  // column 2 {−0.125, 0, 0, 0.125, 50} keeps {0, 0, 0.125} → 0.125/3.
  const out = new FedTrimmedAvg().aggregateTrain(1, params([0, 0, 0]), results, []);
  assert.ok(out);
  assertClose(out.parameters.data, [2.75 / 3, 0.125 / 3, 0.125 / 3], 1e-7);
});

test('FedTrimmedAvg: β must be in [0, 0.5)', () => {
  assertConcordError(() => new FedTrimmedAvg({ beta: 0.5 }), ErrorCode.INVALID_ARGUMENT, 'strategy.options.beta');
  assertConcordError(() => new FedTrimmedAvg({ beta: -0.1 }), ErrorCode.INVALID_ARGUMENT, 'strategy.options.beta');
  assertConcordError(() => new FedTrimmedAvg({ proportion: 0.1 } as never), ErrorCode.INVALID_ARGUMENT, 'strategy.options.proportion');
});
