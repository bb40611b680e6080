import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { dirichlet, iid, shards, splitHoldout, stratifiedSample } from './partition.js';

/** Validates a ConcordError by code and by the `details` entries given (others may exist). */
const concordError =
  (details: Record<string, unknown>, code: string = ErrorCode.INVALID_ARGUMENT) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof ConcordError, `expected a ConcordError, got ${String(e)}`);
    assert.equal(e.code, code);
    for (const [key, value] of Object.entries(details)) assert.deepEqual(e.details[key], value, `details.${key}`);
    return true;
  };

/** 10 classes × 100 examples, interleaved: label of i is i % 10. */
const labels = Array.from({ length: 1000 }, (_, i) => i % 10);

function assertPartition(parts: number[][], n: number): void {
  const seen = new Set<number>();
  for (const part of parts) {
    assert.deepEqual(part, [...part].sort((a, b) => a - b), 'indices ascending');
    for (const i of part) {
      assert.ok(!seen.has(i), `index ${i} given to two members`);
      assert.ok(Number.isInteger(i) && i >= 0 && i < n);
      seen.add(i);
    }
  }
  assert.equal(seen.size, n, 'every index is given to some member');
}

const distinctLabels = (part: number[]): number => new Set(part.map((i) => labels[i])).size;
const meanLargestClassShare = (parts: number[][]): number =>
  parts.reduce((s, p) => {
    const counts = new Array<number>(10).fill(0);
    for (const i of p) counts[labels[i]!]! += 1;
    return s + Math.max(...counts) / p.length;
  }, 0) / parts.length;

test('iid: disjoint, covering, sizes within one, reproducible per seed', () => {
  const parts = iid(103, 4, 7);
  assertPartition(parts, 103);
  assert.deepEqual(parts.map((p) => p.length), [25, 26, 26, 26]);
  assert.deepEqual(iid(103, 4, 7), parts);
  assert.notDeepEqual(iid(103, 4, 8), parts);
});

test('iid: rejects more members than examples, naming members', () => {
  assert.throws(() => iid(3, 4, 0), concordError({ field: 'members', expected: 'at most 3', received: 4 }));
  assert.throws(() => iid(3, 0, 0), concordError({ field: 'members' }));
});

test('dirichlet: disjoint, covering, every member >= minSize, reproducible per seed', () => {
  const parts = dirichlet(labels, 5, 0.5, 42);
  assertPartition(parts, labels.length);
  assert.ok(parts.every((p) => p.length >= 10));
  assert.deepEqual(dirichlet(labels, 5, 0.5, 42), parts);
  assert.notDeepEqual(dirichlet(labels, 5, 0.5, 43), parts);
  const strict = dirichlet(labels, 5, 0.1, 1, { minSize: 60 });
  assert.ok(strict.every((p) => p.length >= 60));
});

test('dirichlet: small alpha skews labels, large alpha is close to uniform', () => {
  const skewed = meanLargestClassShare(dirichlet(labels, 5, 0.1, 1));
  const uniform = meanLargestClassShare(dirichlet(labels, 5, 100, 1));
  assert.ok(skewed > 0.3, `alpha 0.1: largest class holds ${skewed} of a member's data on average`);
  assert.ok(uniform < 0.15, `alpha 100: largest class holds ${uniform} on average (uniform would be 0.1)`);
});

test('dirichlet: bad alpha and impossible minimum sizes are rejected with the field named', () => {
  assert.throws(() => dirichlet(labels, 5, 0, 1), concordError({ field: 'alpha', received: 0 }));
  assert.throws(() => dirichlet(labels, 5, Number.NaN, 1), concordError({ field: 'alpha' }));
  assert.throws(() => dirichlet(labels, 101, 0.5, 1), concordError({ field: 'members', expected: 'at most 100' }));
  assert.throws(() => dirichlet(labels, 5, 0.01, 1, { minSize: 199, maxAttempts: 5 }), concordError({ field: 'alpha' }));
});

test('shards: each member gets two whole label-sorted shards, so at most two labels', () => {
  const parts = shards(labels, 5, 2, 3);
  assertPartition(parts, labels.length);
  assert.ok(parts.every((p) => p.length === 200));
  assert.ok(parts.every((p) => distinctLabels(p) <= 2), `labels per member: ${parts.map(distinctLabels).join(', ')}`);
  assert.deepEqual(shards(labels, 5, 2, 3), parts);
  assert.notDeepEqual(shards(labels, 5, 2, 4), parts);
});

test('shards: one shard per member of 10 balanced classes gives each member exactly one label', () => {
  const parts = shards(labels, 10, 1, 0);
  assertPartition(parts, labels.length);
  assert.ok(parts.every((p) => distinctLabels(p) === 1));
  assert.throws(() => shards(labels, 10, 0, 0), concordError({ field: 'shards' }));
  assert.throws(() => shards(labels.slice(0, 9), 5, 2, 0), concordError({ field: 'members' }));
});

test('splitHoldout: rounded fraction held out, disjoint, reproducible, per-stream independent', () => {
  const share = Array.from({ length: 50 }, (_, i) => i * 3);
  const { train, holdout } = splitHoldout(share, 0.2, 9);
  assert.equal(holdout.length, 10);
  assert.equal(train.length, 40);
  assert.deepEqual([...train, ...holdout].sort((a, b) => a - b), share);
  assert.deepEqual(splitHoldout(share, 0.2, 9), { train, holdout });
  assert.notDeepEqual(splitHoldout(share, 0.2, 9, 1).holdout, holdout);
  assert.deepEqual(splitHoldout(share, 0, 9), { train: share, holdout: [] });
  assert.throws(() => splitHoldout(share, 1, 9), concordError({ field: 'holdout' }));
});

test('stratifiedSample: exact count, classes in proportion with largest-remainder rounding', () => {
  const skewed = [...new Array<number>(60).fill(0), ...new Array<number>(30).fill(1), ...new Array<number>(10).fill(2)];
  const { selected, rest } = stratifiedSample(skewed, 10, 5);
  assert.deepEqual([0, 1, 2].map((c) => selected.filter((i) => skewed[i] === c).length), [6, 3, 1]);
  assert.equal(rest.length, 90);
  assert.deepEqual([...selected, ...rest].sort((a, b) => a - b), skewed.map((_, i) => i));
  // 5, 3, 2 examples; 5 drawn: exact quotas 2.5, 1.5, 1 → ties broken towards the lower class.
  const small = [0, 0, 0, 0, 0, 1, 1, 1, 2, 2];
  assert.deepEqual([0, 1, 2].map((c) => stratifiedSample(small, 5, 0).selected.filter((i) => small[i] === c).length), [3, 1, 1]);
  assert.throws(() => stratifiedSample(small, 11, 0), concordError({ field: 'test' }));
});
