import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { ModelSpec } from '../protocol/messages.js';
import { initBackend } from './backend.js';
import { buildModel, initialParameters, parameterSpecs } from './build.js';
import { getParameters, weightSpecs } from './weights.js';

const image: ModelSpec = { family: 'mlp', inputShape: [4, 3], hidden: [5, 6], classes: 3, activation: 'relu' };

before(async () => {
  await initBackend('wasm');
});

test('initBackend: idempotent, and switches when asked for another backend', async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.equal(await initBackend('cpu'), 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.equal(await initBackend('wasm'), 'wasm');
});

test('parameterSpecs: stable names, kernels [in, out] then biases, flattened input', () => {
  assert.deepEqual(parameterSpecs(image), [
    { name: 'dense_1/kernel', shape: [12, 5] },
    { name: 'dense_1/bias', shape: [5] },
    { name: 'dense_2/kernel', shape: [5, 6] },
    { name: 'dense_2/bias', shape: [6] },
    { name: 'output/kernel', shape: [6, 3] },
    { name: 'output/bias', shape: [3] },
  ]);
  assert.deepEqual(parameterSpecs({ family: 'mlp', inputShape: [2], hidden: [], classes: 2, activation: 'relu' }), [
    { name: 'output/kernel', shape: [2, 2] },
    { name: 'output/bias', shape: [2] },
  ]);
});

test('buildModel: weight names carry no TF.js suffix even when several models share a process', () => {
  const a = buildModel(image, 1);
  const b = buildModel(image, 1);
  try {
    assert.deepEqual(weightSpecs(a), parameterSpecs(image));
    assert.deepEqual(weightSpecs(b), parameterSpecs(image));
    assert.deepEqual(a.inputs[0]!.shape, [null, 4, 3]);
    assert.deepEqual(a.outputs[0]!.shape, [null, 3]);
  } finally {
    a.dispose();
    b.dispose();
  }
});

test('buildModel: seeded Glorot-uniform kernels within ±√(6/(in+out)), zero biases, reproducible', () => {
  const model = buildModel(image, 7);
  try {
    const p = getParameters(model);
    assert.deepEqual(p, initialParameters(image, 7));
    assert.notDeepEqual(initialParameters(image, 8).data, p.data);
    let offset = 0;
    for (const s of p.specs) {
      const n = s.shape.reduce((x, y) => x * y, 1);
      const values = p.data.subarray(offset, offset + n);
      if (s.name.endsWith('/bias')) assert.ok(values.every((v) => v === 0), s.name);
      else {
        const limit = Math.sqrt(6 / (s.shape[0]! + s.shape[1]!));
        assert.ok(values.every((v) => Math.abs(v) <= limit), s.name);
        assert.ok(values.some((v) => v !== 0), s.name);
      }
      offset += n;
    }
  } finally {
    model.dispose();
  }
});

test('buildModel: predicts class probabilities', () => {
  const model = buildModel(image, 3);
  try {
    const probabilities = tf.tidy(() => (model.predict(tf.randomUniform([2, 4, 3], 0, 1, 'float32', 1)) as tf.Tensor).arraySync() as number[][]);
    for (const row of probabilities) {
      assert.equal(row.length, 3);
      assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-5);
      assert.ok(row.every((v) => v > 0));
    }
  } finally {
    model.dispose();
  }
});
