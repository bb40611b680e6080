import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../protocol/errors.js';
import { seededRandom } from './random.js';
import { sampleMembers, sampleSize } from './sampling.js';

test('sampleSize: max(ceil(fraction·N), min) capped at N', () => {
  assert.equal(sampleSize(10, 0.3, 2), 3);
  assert.equal(sampleSize(10, 0.05, 2), 2); // ceil(0.5) = 1 < min
  assert.equal(sampleSize(10, 0.25, 0), 3); // ceil(2.5)
  assert.equal(sampleSize(30, 0.1, 1), 3); // 0.1·30 = 3.0000000000000004 in floating point, still 3
  assert.equal(sampleSize(10, 1, 2), 10);
  assert.equal(sampleSize(3, 0.5, 5), 3); // min above N
  assert.equal(sampleSize(0, 1, 2), 0);
  assert.equal(sampleSize(10, 0, 0), 0);
});

test('sampleSize: bad fraction or min is INVALID_ARGUMENT', () => {
  for (const [fraction, min, field] of [[1.5, 1, 'fraction'], [NaN, 1, 'fraction'], [-0.1, 1, 'fraction'], [0.5, -1, 'min'], [0.5, 1.5, 'min']] as const) {
    assert.throws(() => sampleSize(10, fraction, min), (e: { code: string; details: { field: string } }) => e.code === ErrorCode.INVALID_ARGUMENT && e.details.field === field);
  }
});

test('sampleMembers: distinct members in input order, reproducible per seed', () => {
  const available = Array.from({ length: 20 }, (_, i) => `m${i}`);
  const a = sampleMembers(available, 0.25, 1, seededRandom(42));
  assert.equal(a.length, 5);
  assert.equal(new Set(a).size, 5);
  assert.deepEqual(a, [...a].sort((x, y) => available.indexOf(x) - available.indexOf(y)));
  assert.deepEqual(sampleMembers(available, 0.25, 1, seededRandom(42)), a);
  assert.deepEqual(available.slice(0, 3), ['m0', 'm1', 'm2'], 'input untouched');
  assert.deepEqual(sampleMembers(available, 1, 1, seededRandom(1)), available);
});

test('sampleMembers: uniform over members', () => {
  // 2000 draws of 3 of 6: each member expected 1000 times; binomial sd ≈ 22, allow ±5 sd.
  const counts = new Array<number>(6).fill(0);
  const random = seededRandom(7);
  for (let r = 0; r < 2000; r++) for (const m of sampleMembers([0, 1, 2, 3, 4, 5], 0.5, 1, random)) counts[m]!++;
  for (const c of counts) assert.ok(Math.abs(c - 1000) < 110, `count ${c}`);
});
