import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { type Dataset, assertDataset, featureSize, labelCounts, subset } from './dataset.js';

const d: Dataset = { x: Float32Array.from([0, 1, 10, 11, 20, 21]), y: Int32Array.from([2, 0, 2]), inputShape: [2], classes: 3 };

test('subset copies the chosen rows in the given order', () => {
  const s = subset(d, [2, 0]);
  assert.deepEqual([...s.x], [20, 21, 0, 1]);
  assert.deepEqual([...s.y], [2, 2]);
  assert.deepEqual(s.inputShape, [2]);
  s.x[0] = -1;
  assert.equal(d.x[4], 20);
});

test('featureSize and labelCounts', () => {
  assert.equal(featureSize({ inputShape: [28, 28] }), 784);
  assert.deepEqual(labelCounts(d), [1, 0, 2]);
});

test('assertDataset: value count and label range', () => {
  assertDataset(d);
  assert.throws(
    () => assertDataset({ ...d, x: d.x.subarray(1) }),
    (e: unknown) => e instanceof ConcordError && e.code === ErrorCode.SHAPE_MISMATCH && e.details.field === 'dataset.x',
  );
  assert.throws(
    () => assertDataset({ ...d, y: Int32Array.from([0, 3, 1]) }, 'csv'),
    (e: unknown) => e instanceof ConcordError && e.code === ErrorCode.INVALID_ARGUMENT && e.details.field === 'csv.y[1]',
  );
});
