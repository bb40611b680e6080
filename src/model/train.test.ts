import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { gaussian, seededRandom } from '../core/random.js';
import type { Dataset } from '../data/dataset.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { ModelSpec, TrainConfig } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import { initBackend } from './backend.js';
import { buildModel, initialParameters } from './build.js';
import { evaluate, trainLocal } from './train.js';
import { getParameters, setParameters } from './weights.js';

const linear: ModelSpec = { family: 'mlp', inputShape: [2], hidden: [], classes: 2, activation: 'relu' };
const small: ModelSpec = { family: 'mlp', inputShape: [2], hidden: [8], classes: 3, activation: 'relu' };
const sgd = (overrides: Partial<TrainConfig> = {}): TrainConfig => ({ epochs: 1, batchSize: 1, learningRate: 0.5, optimizer: 'sgd', proximalMu: 0, seed: 0, ...overrides });

const concordError =
  (code: string, field: string) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof ConcordError, `expected a ConcordError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.details.field, field);
    return true;
  };

/** Three Gaussian blobs around (0,0), (3,0) and (0,3); label = blob. */
function blobs(n: number, seed: number): Dataset {
  const random = seededRandom(seed);
  const centres = [[0, 0], [3, 0], [0, 3]] as const;
  const x = new Float32Array(n * 2);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    x[2 * i] = centres[c]![0] + 0.5 * gaussian(random);
    x[2 * i + 1] = centres[c]![1] + 0.5 * gaussian(random);
    y[i] = c;
  }
  return { x, y, inputShape: [2], classes: 3 };
}

function withWeights(spec: ModelSpec, values: number[]): tf.LayersModel {
  const model = buildModel(spec, 0);
  setParameters(model, { specs: getParameters(model).specs, data: Float32Array.from(values) });
  return model;
}

function distance(a: Parameters, b: Parameters): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += (a.data[i]! - b.data[i]!) ** 2;
  return Math.sqrt(s);
}

const assertClose = (actual: ArrayLike<number>, expected: number[], tolerance = 1e-6): void => {
  assert.equal(actual.length, expected.length);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i]! - e) <= tolerance, `[${i}] ${actual[i]} ≠ ${e}`));
};

before(async () => {
  await initBackend('wasm');
});

test('evaluate: mean cross-entropy and accuracy match hand-computed values, across batches', async () => {
  // Identity kernel, zero bias: logits equal the inputs.
  const model = withWeights(linear, [1, 0, 0, 1, 0, 0]);
  try {
    const data: Dataset = { x: Float32Array.from([2, 0, 0, 1, 1, 0]), y: Int32Array.from([0, 1, 1]), inputShape: [2], classes: 2 };
    const result = await evaluate(model, data, 2);
    const expected = (Math.log(1 + Math.exp(-2)) + Math.log(1 + Math.exp(-1)) + Math.log(1 + Math.exp(1))) / 3;
    assert.ok(Math.abs(result.loss - expected) < 1e-6, `loss ${result.loss}, expected ${expected}`);
    assert.equal(result.accuracy, 2 / 3);
    assert.equal(result.numExamples, 3);
    assert.deepEqual(await evaluate(model, { ...data, x: new Float32Array(0), y: new Int32Array(0) }), { loss: 0, accuracy: 0, numExamples: 0 });
  } finally {
    model.dispose();
  }
});

test('trainLocal: one SGD step equals the hand-computed gradient step', async () => {
  // W = 0, b = 0, x = (1, 2), y = 0: p = (½, ½), ∂L/∂z = p − e₀ = (−½, ½), ∂L/∂W = xᵀ(p − e₀).
  const model = withWeights(linear, [0, 0, 0, 0, 0, 0]);
  try {
    const data: Dataset = { x: Float32Array.from([1, 2]), y: Int32Array.from([0]), inputShape: [2], classes: 2 };
    const result = await trainLocal(model, data, sgd());
    assertClose(getParameters(model).data, [0.25, -0.25, 0.5, -0.5, 0.25, -0.25]);
    assert.equal(result.numExamples, 1);
    assert.ok(Math.abs(result.metrics.loss - Math.LN2) < 1e-6);
  } finally {
    model.dispose();
  }
});

test('trainLocal: the FedProx term adds μ(w − w_global) to the gradient and not to the reported loss', async () => {
  // As above with w_global = 1 everywhere and μ = 1: w' = −½(∂L/∂w + (0 − 1)).
  const model = withWeights(linear, [0, 0, 0, 0, 0, 0]);
  try {
    const global = { specs: getParameters(model).specs, data: new Float32Array(6).fill(1) };
    const data: Dataset = { x: Float32Array.from([1, 2]), y: Int32Array.from([0]), inputShape: [2], classes: 2 };
    const result = await trainLocal(model, data, sgd({ proximalMu: 1 }), { globalParameters: global });
    assertClose(getParameters(model).data, [0.75, 0.25, 1, 0, 0.75, 0.25]);
    assert.ok(Math.abs(result.metrics.loss - Math.LN2) < 1e-6);
  } finally {
    model.dispose();
  }
});

test('trainLocal: learns separable blobs with SGD and Adam; reproducible per seed', async () => {
  const train = blobs(300, 1);
  const held = blobs(90, 2);
  for (const optimizer of ['sgd', 'adam'] as const) {
    const config = sgd({ epochs: 8, batchSize: 16, learningRate: optimizer === 'adam' ? 0.02 : 0.1, optimizer, seed: 3 });
    const a = buildModel(small, 5);
    const b = buildModel(small, 5);
    try {
      const losses: number[] = [];
      const result = await trainLocal(a, train, config, { onEpoch: (epoch, loss) => losses.push(epoch, loss) });
      assert.deepEqual(losses.filter((_, i) => i % 2 === 0), [0, 1, 2, 3, 4, 5, 6, 7]);
      assert.ok(losses[15]! < losses[1]!, `${optimizer}: loss fell from ${losses[1]} to ${losses[15]}`);
      assert.ok(result.metrics.accuracy > 0.9, `${optimizer}: training accuracy ${result.metrics.accuracy}`);
      assert.ok((await evaluate(a, held)).accuracy > 0.9);
      await trainLocal(b, train, config);
      assert.deepEqual(getParameters(b), getParameters(a));
      setParameters(b, initialParameters(small, 5));
      await trainLocal(b, train, { ...config, seed: 4 });
      assert.notDeepEqual(getParameters(b).data, getParameters(a).data);
    } finally {
      a.dispose();
      b.dispose();
    }
  }
});

test('trainLocal: a large μ keeps local weights close to the global model', async () => {
  const data = blobs(150, 7);
  const drift = async (mu: number): Promise<number> => {
    const model = buildModel(small, 11);
    try {
      const global = getParameters(model);
      await trainLocal(model, data, sgd({ epochs: 3, batchSize: 10, learningRate: 0.1, proximalMu: mu, seed: 1 }), { globalParameters: global });
      return distance(getParameters(model), global);
    } finally {
      model.dispose();
    }
  };
  const free = await drift(0);
  const anchored = await drift(5);
  assert.ok(anchored < 0.5 * free, `drift with μ=5 ${anchored}, without ${free}`);
});

test('trainLocal / evaluate: no tensors leak across repeated calls', async () => {
  const model = buildModel(small, 2);
  try {
    const data = blobs(60, 3);
    const global = getParameters(model);
    const before = tf.memory().numTensors;
    for (const config of [sgd({ batchSize: 7 }), sgd({ batchSize: 7, optimizer: 'adam' }), sgd({ batchSize: 7, proximalMu: 0.1 })]) {
      await trainLocal(model, data, { ...config, epochs: 2 }, { globalParameters: global });
      await evaluate(model, data, 16);
      assert.equal(tf.memory().numTensors, before, `after ${config.optimizer} μ=${config.proximalMu}`);
    }
  } finally {
    model.dispose();
  }
});

test('trainLocal: rejects data that does not fit the model, and FedProx without the global model', async () => {
  const model = buildModel(small, 2);
  try {
    const wide: Dataset = { x: new Float32Array(3), y: Int32Array.from([0]), inputShape: [3], classes: 3 };
    await assert.rejects(trainLocal(model, wide, sgd()), concordError(ErrorCode.SHAPE_MISMATCH, 'data.inputShape'));
    const badLabel: Dataset = { x: new Float32Array(4), y: Int32Array.from([0, 3]), inputShape: [2], classes: 4 };
    await assert.rejects(trainLocal(model, badLabel, sgd()), concordError(ErrorCode.INVALID_ARGUMENT, 'data.y[1]'));
    await assert.rejects(evaluate(model, badLabel), concordError(ErrorCode.INVALID_ARGUMENT, 'data.y[1]'));
    await assert.rejects(trainLocal(model, blobs(3, 1), sgd({ proximalMu: 0.1 })), concordError(ErrorCode.INVALID_ARGUMENT, 'globalParameters'));
    const empty = await trainLocal(model, { x: new Float32Array(0), y: new Int32Array(0), inputShape: [2], classes: 3 }, sgd());
    assert.deepEqual(empty, { numExamples: 0, metrics: { loss: 0, accuracy: 0 } });
  } finally {
    model.dispose();
  }
});

test('maxSteps stops training mid-epoch and examplesProcessed counts the work done', async () => {
  const data = blobs(10, 4);
  const capped = buildModel(small, 3);
  // 10 examples in batches of 4 → steps of 4, 4, 2 per epoch; 5 steps = one epoch (10) + 4 + 4.
  const result = await trainLocal(capped, data, sgd({ epochs: 3, batchSize: 4, learningRate: 0.1, maxSteps: 5 }));
  assert.equal(result.examplesProcessed, 18);
  assert.equal(result.numExamples, 10);
  const full = await trainLocal(buildModel(small, 3), data, sgd({ epochs: 3, batchSize: 4, learningRate: 0.1 }));
  assert.equal(full.examplesProcessed, 30);
  // The capped run took the first 5 of the full run's 9 steps: replaying them gives the same weights.
  const replay = buildModel(small, 3);
  await trainLocal(replay, data, sgd({ epochs: 2, batchSize: 4, learningRate: 0.1, maxSteps: 5 }));
  assertClose(getParameters(replay).data, Array.from(getParameters(capped).data), 1e-6);
});
