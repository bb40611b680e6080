import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { ModelSpec } from '../protocol/messages.js';
import { cloneParameters } from '../protocol/tensors.js';
import { initBackend } from './backend.js';
import { buildModel } from './build.js';
import { getParameters, setParameters } from './weights.js';

const spec: ModelSpec = { family: 'mlp', inputShape: [3], hidden: [4], classes: 2, activation: 'tanh' };

const shapeMismatch =
  (field: string) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof ConcordError);
    assert.equal(e.code, ErrorCode.SHAPE_MISMATCH);
    assert.equal(e.details.field, field);
    return true;
  };

before(async () => {
  await initBackend('wasm');
});

test('getParameters / setParameters: exact round trip, and the model computes with the new weights', () => {
  const model = buildModel(spec, 1);
  try {
    const p = cloneParameters(getParameters(model));
    assert.equal(p.data.length, 3 * 4 + 4 + 4 * 2 + 2);
    p.data.forEach((_, i) => (p.data[i] = (i % 5) / 10 - 0.2));
    setParameters(model, p);
    assert.deepEqual(getParameters(model), p);
    // Zero every weight: logits are 0, so both classes get probability 1/2.
    setParameters(model, { specs: p.specs, data: new Float32Array(p.data.length) });
    const out = tf.tidy(() => (model.predict(tf.tensor2d([[1, 2, 3]])) as tf.Tensor).dataSync());
    assert.deepEqual([...out], [0.5, 0.5]);
  } finally {
    model.dispose();
  }
});

test('setParameters: a wrong name, shape or value count is a SHAPE_MISMATCH naming the tensor', () => {
  const model = buildModel(spec, 1);
  try {
    const p = getParameters(model);
    const renamed = cloneParameters(p);
    renamed.specs[0]!.name = 'dense_9/kernel';
    assert.throws(() => setParameters(model, renamed), shapeMismatch('parameters[0].name'));
    const reshaped = cloneParameters(p);
    reshaped.specs[1]!.shape = [5];
    assert.throws(() => setParameters(model, reshaped), shapeMismatch('parameters.dense_1/bias.shape'));
    assert.throws(() => setParameters(model, { specs: p.specs.slice(0, 2), data: p.data }), shapeMismatch('parameters'));
    assert.throws(() => setParameters(model, { specs: p.specs, data: p.data.subarray(1) }), shapeMismatch('parameters.data'));
  } finally {
    model.dispose();
  }
});

test('getParameters / setParameters leave no tensors behind', () => {
  const model = buildModel(spec, 1);
  try {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) setParameters(model, getParameters(model));
    assert.equal(tf.memory().numTensors, before);
  } finally {
    model.dispose();
  }
});
