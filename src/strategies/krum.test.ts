import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../protocol/errors.js';
import { Krum, MultiKrum } from './krum.js';
import { assertClose, assertConcordError, params, trainResult } from './strategy-conformance.js';

// Four close models and one far away (third coordinate 0 throughout). Squared distances:
// d01 = 1, d02 = 1, d03 = 5, d04 = 200, d12 = 2, d13 = 4, d14 = 181, d23 = 2, d24 = 181, d34 = 145.
// Scores with f = 1 (two nearest): a 1+1 = 2, b 1+2 = 3, c 1+2 = 3, d 2+4 = 6, evil 145+181 = 326.
// Scores with f = 0 (three nearest): a 7, b 7, c 5, d 11, evil 507.
const RESULTS = [
  trainResult('a', [0, 0, 0], 10),
  trainResult('b', [1, 0, 0], 10),
  trainResult('c', [0, 1, 0], 10),
  trainResult('d', [1, 2, 0], 10),
  trainResult('evil', [10, 10, 0], 1_000_000),
];

test('Krum: default f = ⌊(5 − 3)/2⌋ = 1 adopts the best-scored model, never the outlier', () => {
  const s = new Krum();
  const out = s.aggregateTrain(1, params([0, 0, 0]), RESULTS, []);
  assert.ok(out);
  assert.deepEqual(Array.from(out.parameters.data), [0, 0, 0]);
  assert.deepEqual(s.lastSelected, ['a']);
  assert.equal(out.metrics.tolerated, 1);
  assert.equal(out.metrics.selected, 1);
  assert.equal(out.metrics.members, 5);
  // The adopted model is a copy, not the member's buffer.
  assert.notEqual(out.parameters.data, RESULTS[0]!.parameters.data);
});

test('Krum: f = 0 scores by three neighbours and picks c', () => {
  const s = new Krum({ f: 0 });
  const out = s.aggregateTrain(1, params([0, 0, 0]), RESULTS, []);
  assert.ok(out);
  assert.deepEqual(Array.from(out.parameters.data), [0, 1, 0]);
  assert.deepEqual(s.lastSelected, ['c']);
});

test('MultiKrum: default m = K − f = 4 averages the four honest models uniformly', () => {
  const s = new MultiKrum();
  const out = s.aggregateTrain(1, params([0, 0, 0]), RESULTS, []);
  assert.ok(out);
  // (a + b + c + d)/4 = (0 + 1 + 0 + 1, 0 + 0 + 1 + 2, 0)/4 = (0.5, 0.75, 0).
  assert.deepEqual(Array.from(out.parameters.data), [0.5, 0.75, 0]);
  assert.deepEqual(s.lastSelected, ['a', 'b', 'c', 'd']);
  assert.equal(out.metrics.selected, 4);
});

test('MultiKrum: explicit m; m above K is capped at K', () => {
  // m = 3: a, b, c (b and c tie at 3; the lower index first) → (1/3, 1/3, 0).
  const three = new MultiKrum({ f: 1, m: 3 }).aggregateTrain(1, params([0, 0, 0]), RESULTS, []);
  assert.ok(three);
  assertClose(three.parameters.data, [1 / 3, 1 / 3, 0], 1e-7);
  // m = 10 of 5: all five, (12/5, 13/5, 0) = (2.4, 2.6, 0).
  const all = new MultiKrum({ m: 10 }).aggregateTrain(1, params([0, 0, 0]), RESULTS, []);
  assert.ok(all);
  assertClose(all.parameters.data, [2.4, 2.6, 0], 1e-6);
  assert.equal(all.metrics.selected, 5);
});

test('Krum: results without examples are not candidates', () => {
  const s = new Krum();
  const out = s.aggregateTrain(1, params([0, 0, 0]), [trainResult('a', [0, 0, 0], 0), ...RESULTS.slice(1)], []);
  assert.ok(out);
  // Candidates b, c, d, evil; f = ⌊(4 − 3)/2⌋ = 0, two nearest each: b 2 + 4 = 6, c 2 + 2 = 4, d 2 + 4 = 6, evil 145 + 181 → c.
  assert.deepEqual(s.lastSelected, ['c']);
  assert.equal(out.metrics.tolerated, 0);
});

test('Krum options: f and m are whole numbers; Krum has no m', () => {
  assertConcordError(() => new Krum({ f: -1 }), ErrorCode.INVALID_ARGUMENT, 'strategy.options.f');
  assertConcordError(() => new Krum({ f: 1.5 }), ErrorCode.INVALID_ARGUMENT, 'strategy.options.f');
  assertConcordError(() => new Krum({ m: 2 } as never), ErrorCode.INVALID_ARGUMENT, 'strategy.options.m');
  assertConcordError(() => new MultiKrum({ m: 0 }), ErrorCode.INVALID_ARGUMENT, 'strategy.options.m');
});
