import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../protocol/errors.js';
import { weightedAverage } from './aggregate.js';
import { seededRandom } from './random.js';
import { StreamingMean } from './streaming-mean.js';

test('the streamed mean is Σ n_k θ_k / Σ n_k, computed by hand', () => {
  const m = new StreamingMean(3);
  m.add(Float32Array.of(1, 2, 3), 1);
  m.add(Float32Array.of(4, 5, 7), 3);
  assert.equal(m.count, 2);
  assert.equal(m.totalWeight, 4);
  // (1·1 + 3·4)/4 = 3.25, (2 + 15)/4 = 4.25, (3 + 21)/4 = 6
  assert.deepEqual([...m.mean()!], [3.25, 4.25, 6]);
});

test('the streamed mean agrees with the flat weighted average, whatever order updates arrive in', () => {
  const random = seededRandom(7, 1, 1);
  const length = 1031; // not a multiple of the four-wide loop
  const inputs = Array.from({ length: 300 }, () => ({ data: Float32Array.from({ length }, () => random() * 2 - 1), weight: 1 + Math.floor(random() * 600) }));
  const flat = weightedAverage(inputs);
  const forward = new StreamingMean(length);
  for (const i of inputs) forward.add(i.data, i.weight);
  const backward = new StreamingMean(length);
  for (const i of [...inputs].reverse()) backward.add(i.data, i.weight);
  const a = forward.mean()!;
  const b = backward.mean()!;
  const total = inputs.reduce((s, i) => s + i.weight, 0);
  for (let j = 0; j < length; j++) {
    // A_j = Σ n_k |θ_k,j| / n bounds how far any order's float64 sum and the flat path's float32 groups can drift.
    const scale = inputs.reduce((s, i) => s + i.weight * Math.abs(i.data[j]!), 0) / total;
    assert.ok(Math.abs(a[j]! - b[j]!) <= 300 * 2 ** -53 * scale + 2 ** -23 * Math.abs(a[j]!) + 1e-30, `orders differ at ${j}: ${a[j]} vs ${b[j]}`);
    assert.ok(Math.abs(a[j]! - flat[j]!) <= 16 * 2 ** -24 * scale + 2 ** -23 * Math.abs(a[j]!), `flat and streamed differ at ${j}: ${flat[j]} vs ${a[j]}`);
  }
});

test('an update of another length or an unusable weight is refused and changes nothing', () => {
  const m = new StreamingMean(2);
  m.add(Float32Array.of(2, 4), 2);
  assert.throws(() => m.add(Float32Array.of(1, 2, 3), 1), (e: Error & { code?: string }) => e.code === ErrorCode.SHAPE_MISMATCH && /holds 3 values, the model 2/.test(e.message));
  assert.throws(() => m.add(Float32Array.of(1, 2), -1), /weight is -1/);
  assert.throws(() => m.add(Float32Array.of(1, 2), Number.NaN), /weight is NaN/);
  assert.equal(m.count, 1);
  assert.deepEqual([...m.mean()!], [2, 4]);
});

test('no weight yet means no mean', () => {
  const m = new StreamingMean(2);
  assert.equal(m.mean(), null);
  m.add(Float32Array.of(1, 1), 0);
  assert.equal(m.mean(), null);
});
