import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { gaussian, seededRandom } from '../core/random.js';
import type { Dataset } from '../data/dataset.js';
import { loadDataset } from '../data/spec.js';
import { computeEpsilon } from '../privacy/rdp.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { ModelSpec, TrainConfig } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import { initBackend } from './backend.js';
import { LOGITS_LAYER, buildModel } from './build.js';
import { clippedGradientSum, denseLayers, layerVariables, microbatchClippedSum, poissonLot } from './dp-train.js';
import { logits } from './forward.js';
import { evaluate, trainLocal } from './train.js';
import { getParameters, setParameters } from './weights.js';

const sgd = (overrides: Partial<TrainConfig> = {}): TrainConfig => ({ epochs: 1, batchSize: 8, learningRate: 0.5, optimizer: 'sgd', proximalMu: 0, seed: 0, ...overrides });

const concordError =
  (code: string, field: string) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof ConcordError, `expected a ConcordError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.details.field, field);
    return true;
  };

/** Three Gaussian blobs in `features` dimensions (centres on the first two axes); label = blob. */
function blobs(n: number, seed: number, features = 2): Dataset {
  const random = seededRandom(seed);
  const x = new Float32Array(n * features);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    for (let f = 0; f < features; f++) x[i * features + f] = 0.7 * gaussian(random);
    if (c > 0) x[i * features + c - 1] = x[i * features + c - 1]! + 3;
    y[i] = c;
  }
  return { x, y, inputShape: [features], classes: 3 };
}

/** The logits through the model's own layers, as train.ts computes them. */
function logitsOf(model: tf.LayersModel, x: tf.Tensor): tf.Tensor2D {
  let h = x;
  for (const layer of model.layers) {
    h = layer.apply(h) as tf.Tensor;
    if (layer.name === LOGITS_LAYER) break;
  }
  return h as tf.Tensor2D;
}

/** Slow reference: each example's gradient by autodiff, flattened in variable order. */
function perExampleGradients(model: tf.LayersModel, data: Dataset, rows: readonly number[]): Float32Array[] {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const f = data.x.length / data.y.length;
  return rows.map((row) =>
    tf.tidy(() => {
      const x = tf.tensor2d(data.x.subarray(row * f, (row + 1) * f), [1, f]);
      const label = tf.oneHot(tf.tensor1d([data.y[row]!], 'int32'), data.classes);
      const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(label, logitsOf(model, x), undefined, undefined, tf.Reduction.SUM) as tf.Scalar, variables);
      const flat = new Float32Array(variables.reduce((s, v) => s + v.size, 0));
      let offset = 0;
      for (const v of variables) {
        flat.set(grads[v.name]!.dataSync(), offset);
        offset += v.size;
      }
      return flat;
    }),
  );
}

const norm = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((s, a) => s + a * a, 0));

function assertRelativelyClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  const scale = Math.max(...Array.from(expected, Math.abs));
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tolerance * scale, `${label}[${i}]: ${actual[i]} ≠ ${expected[i]} (scale ${scale})`);
  }
}

/** The fast path's outputs for the given rows, flattened like perExampleGradients. */
function fastClippedSum(model: tf.LayersModel, data: Dataset, rows: readonly number[], clippingNorm: number): { sum: Float32Array; norms: Float32Array; loss: number; hits: number } {
  const layers = denseLayers(model);
  const f = data.x.length / data.y.length;
  return tf.tidy(() => {
    const index = tf.tensor1d(Int32Array.from(rows), 'int32');
    const x = tf.gather(tf.tensor2d(data.x, [data.y.length, f]), index);
    const y = tf.gather(tf.tensor1d(data.y, 'int32'), index);
    const out = clippedGradientSum(layers, x, y, clippingNorm);
    const sum = new Float32Array(out.sums.reduce((s, t) => s + t.size, 0));
    let offset = 0;
    for (const t of out.sums) {
      sum.set(t.dataSync(), offset);
      offset += t.size;
    }
    return { sum, norms: out.norms.dataSync() as Float32Array, loss: out.lossSum.dataSync()[0]!, hits: out.hits.dataSync()[0]! };
  });
}

/** Plain minibatch SGD (optionally FedProx) on the Poisson lots DP-SGD draws from `seed`, with the divisor L. */
function referenceSgd(model: tf.LayersModel, data: Dataset, config: TrainConfig, seed: number, global?: Parameters): { emptyLots: number } {
  const n = data.y.length;
  const lot = Math.min(config.batchSize, n);
  const random = seededRandom(seed);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  // Parameters list the weights in model.weights order, which for an MLP is the trainable order.
  let offset = 0;
  const anchorVariables = global?.specs.map((spec, i) => {
    const t = tf.tensor(global.data.subarray(offset, offset + variables[i]!.size), spec.shape);
    offset += variables[i]!.size;
    return t;
  });
  let emptyLots = 0;
  for (let step = 0; step < config.epochs * Math.ceil(n / config.batchSize); step++) {
    const rows = poissonLot(n, lot / n, random);
    if (rows.length === 0) emptyLots++;
    tf.tidy(() => {
      const grads =
        rows.length === 0
          ? Object.fromEntries(variables.map((v) => [v.name, tf.zerosLike(v)]))
          : tf.variableGrads(() => {
              const index = tf.tensor1d(rows, 'int32');
              const x = tf.gather(tf.tensor(data.x, [n, ...data.inputShape]), index);
              const y = tf.oneHot(tf.gather(tf.tensor1d(data.y, 'int32'), index), data.classes);
              return tf.losses.softmaxCrossEntropy(y, logitsOf(model, x), undefined, undefined, tf.Reduction.SUM) as tf.Scalar;
            }, variables).grads;
      variables.forEach((v, i) => {
        let g = tf.div(grads[v.name]!, lot);
        if (anchorVariables) g = tf.add(g, tf.mul(config.proximalMu, tf.sub(v, anchorVariables[i]!)));
        v.assign(tf.sub(v, tf.mul(config.learningRate, g)));
      });
    });
  }
  tf.dispose(anchorVariables ?? []);
  return { emptyLots };
}

before(async () => {
  await initBackend('wasm');
});

test('poissonLot draws each index independently with probability q, in ascending order', () => {
  assert.deepEqual(Array.from(poissonLot(4, 1, seededRandom(1))), [0, 1, 2, 3]);
  assert.deepEqual(Array.from(poissonLot(4, 0, seededRandom(1))), []);
  const random = seededRandom(2);
  const counts = new Array<number>(5).fill(0);
  const lots = 20_000;
  for (let k = 0; k < lots; k++) {
    const lot = poissonLot(5, 0.3, random);
    for (let j = 1; j < lot.length; j++) assert.ok(lot[j]! > lot[j - 1]!);
    for (const i of lot) counts[i]!++;
  }
  // Each frequency has standard error √(0.3·0.7/20000) ≈ 0.0032; the first and last index catch off-by-one gaps.
  for (const c of counts) assert.ok(Math.abs(c / lots - 0.3) < 0.015, `frequency ${c / lots}`);
  const big = poissonLot(100_000, 0.01, seededRandom(3)).length;
  assert.ok(Math.abs(big - 1000) < 4 * Math.sqrt(990), `lot size ${big}`);
});

test('per-example norms and the clipped sum match hand-computed values for a linear model', () => {
  // Zero weights: logits 0, softmax (½, ½). Example (x=1, y=0): δ = (−½, ½), g = (−½, ½ | −½, ½), ‖g‖ = 1.
  // Example (x=3, y=1): δ = (½, −½), g = (3/2, −3/2 | ½, −½), ‖g‖ = √5, clipped to 1 by 1/√5.
  const model = buildModel({ family: 'mlp', inputShape: [1], hidden: [], classes: 2, activation: 'relu' });
  setParameters(model, { specs: getParameters(model).specs, data: new Float32Array(4) });
  const data: Dataset = { x: Float32Array.from([1, 3]), y: Int32Array.from([0, 1]), inputShape: [1], classes: 2 };
  const out = fastClippedSum(model, data, [0, 1], 1);
  const s = 1 / Math.sqrt(5);
  assertRelativelyClose(out.norms, [1, Math.sqrt(5)], 1e-6, 'norms');
  assertRelativelyClose(out.sum, [-0.5 + 1.5 * s, 0.5 - 1.5 * s, -0.5 + 0.5 * s, 0.5 - 0.5 * s], 1e-6, 'sum');
  assert.ok(Math.abs(out.loss - 2 * Math.LN2) < 1e-6);
  assert.equal(out.hits, 1); // arg-max of a tie is class 0
  model.dispose();
});

for (const activation of ['relu', 'tanh', 'sigmoid'] as const) {
  test(`ghost norms and clipped sums match per-example autodiff (${activation}, two hidden layers)`, () => {
    const model = buildModel({ family: 'mlp', inputShape: [5], hidden: [6, 4], classes: 3, activation }, 3);
    const data = blobs(9, 4, 5);
    const rows = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const reference = perExampleGradients(model, data, rows);
    const norms = reference.map(norm);
    // C between the smallest and largest norm, so that some examples are clipped and some are not.
    const sorted = [...norms].sort((a, b) => a - b);
    const c = sorted[4]!;
    assert.ok(sorted[0]! < c && c < sorted[8]!);
    const expected = new Float32Array(reference[0]!.length);
    reference.forEach((g, i) => g.forEach((v, j) => (expected[j] = expected[j]! + v * Math.min(1, c / norms[i]!))));
    const fast = fastClippedSum(model, data, rows, c);
    assertRelativelyClose(fast.norms, norms, 1e-4, 'norms');
    assertRelativelyClose(fast.sum, expected, 1e-4, 'clipped sum');
    model.dispose();
  });
}

test('with z = 0 and a huge C, DP-SGD is plain SGD on the same Poisson lots, empty lots included', async () => {
  for (const [n, batchSize] of [
    [50, 8],
    [20, 1],
  ] as const) {
    const spec: ModelSpec = { family: 'mlp', inputShape: [2], hidden: [8], classes: 3, activation: 'relu' };
    const data = blobs(n, 5);
    const config = sgd({ epochs: 2, batchSize });
    const dp = buildModel(spec, 1);
    const result = await trainLocal(dp, data, config, { dpSgd: { clippingNorm: 1e9, noiseMultiplier: 0, random: seededRandom(7) } });
    const plain = buildModel(spec, 1);
    const { emptyLots } = referenceSgd(plain, data, config, 7);
    if (batchSize === 1) assert.ok(emptyLots > 0, 'the q = 0.05 case should draw some empty lots');
    assert.equal(result.dpSteps, 2 * Math.ceil(n / batchSize));
    assert.equal(result.dpSamplingRate, batchSize / n);
    assert.equal(result.numExamples, n);
    assertRelativelyClose(getParameters(dp).data, getParameters(plain).data, 1e-5, `n=${n} batch=${batchSize}`);
    dp.dispose();
    plain.dispose();
  }
});

test('FedProx with DP-SGD adds μ(w − w_global) after the noise', async () => {
  const spec: ModelSpec = { family: 'mlp', inputShape: [2], hidden: [8], classes: 3, activation: 'relu' };
  const data = blobs(40, 6);
  const config = sgd({ epochs: 3, batchSize: 10, proximalMu: 0.5 });
  const global = getParameters(buildModel(spec, 9));
  const dp = buildModel(spec, 1);
  await trainLocal(dp, data, config, { globalParameters: global, dpSgd: { clippingNorm: 1e9, noiseMultiplier: 0, random: seededRandom(8) } });
  const plain = buildModel(spec, 1);
  referenceSgd(plain, data, config, 8, global);
  assertRelativelyClose(getParameters(dp).data, getParameters(plain).data, 1e-5, 'fedprox');
  await assert.rejects(trainLocal(dp, data, config, { dpSgd: { clippingNorm: 1, noiseMultiplier: 1 } }), concordError(ErrorCode.INVALID_ARGUMENT, 'globalParameters'));
  dp.dispose();
  plain.dispose();
});

test('one noisy step on zero inputs moves each kernel weight by N(0, (lr·zC/L)²) and nothing else', async () => {
  // Zero inputs give zero kernel gradients, so the kernel moves by noise alone: lr·zC/L = 1·2·0.5/16.
  const spec: ModelSpec = { family: 'mlp', inputShape: [200], hidden: [], classes: 20, activation: 'relu' };
  const data: Dataset = { x: new Float32Array(16 * 200), y: Int32Array.from({ length: 16 }, (_, i) => i % 20), inputShape: [200], classes: 20 };
  const config = sgd({ batchSize: 16, learningRate: 1 });
  const kernelDelta = async (noiseMultiplier: number): Promise<Float32Array> => {
    const model = buildModel(spec, 2);
    const before = getParameters(model).data.slice(0, 4000);
    const result = await trainLocal(model, data, config, { dpSgd: { clippingNorm: 0.5, noiseMultiplier, random: seededRandom(11) } });
    assert.equal(result.dpSteps, 1);
    assert.equal(result.dpSamplingRate, 1);
    const after = getParameters(model).data.slice(0, 4000);
    model.dispose();
    return after.map((a, i) => a - before[i]!);
  };
  assert.ok((await kernelDelta(0)).every((d) => d === 0));
  const delta = await kernelDelta(2);
  const mean = delta.reduce((s, d) => s + d, 0) / delta.length;
  const std = Math.sqrt(delta.reduce((s, d) => s + (d - mean) ** 2, 0) / (delta.length - 1));
  // Standard error of the std over 4000 draws ≈ 1.1 %; of the mean ≈ 0.001.
  assert.ok(Math.abs(std - 0.0625) < 0.05 * 0.0625, `std ${std}`);
  assert.ok(Math.abs(mean) < 0.004, `mean ${mean}`);
});

test('without an injected source, lots and noise come from the CSPRNG, not from config.seed', async () => {
  const spec: ModelSpec = { family: 'mlp', inputShape: [2], hidden: [], classes: 3, activation: 'relu' };
  const data = blobs(30, 1);
  const run = async (): Promise<Float32Array> => {
    const model = buildModel(spec, 0);
    await trainLocal(model, data, sgd({ seed: 5 }), { dpSgd: { clippingNorm: 1, noiseMultiplier: 1 } });
    const p = getParameters(model).data;
    model.dispose();
    return p;
  };
  const [a, b] = [await run(), await run()];
  assert.ok(a.some((v, i) => v !== b[i]));
});

test('the general per-example path gives the fast path\'s clipped sum, norms, loss and hits on an MLP', () => {
  const spec: ModelSpec = { family: 'mlp', inputShape: [3], hidden: [5, 4], classes: 3, activation: 'tanh' };
  const model = buildModel(spec, 3);
  const data = blobs(12, 5, 3);
  const rows = [0, 2, 3, 5, 7, 11];
  for (const clippingNorm of [0.1, 1, 100]) {
    const fast = fastClippedSum(model, data, rows, clippingNorm);
    const general = tf.tidy(() => {
      const index = tf.tensor1d(Int32Array.from(rows), 'int32');
      const x = tf.gather(tf.tensor2d(data.x, [data.y.length, 3]), index);
      const y = tf.gather(tf.tensor1d(data.y, 'int32'), index) as tf.Tensor1D;
      const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const out = microbatchClippedSum(variables, x, y, clippingNorm, (xi) => logits(model, xi, true));
      const sum = new Float32Array(out.sums.reduce((s, t) => s + t.size, 0));
      let offset = 0;
      for (const t of out.sums) {
        sum.set(t.dataSync(), offset);
        offset += t.size;
      }
      return { sum, norms: out.norms.dataSync() as Float32Array, loss: out.lossSum.dataSync()[0]!, hits: out.hits.dataSync()[0]! };
    });
    assertRelativelyClose(general.norms, fast.norms, 1e-4, `norms at C = ${clippingNorm}`);
    assertRelativelyClose(general.sum, fast.sum, 1e-4, `clipped sum at C = ${clippingNorm}`);
    assert.ok(Math.abs(general.loss - fast.loss) < 1e-4 * Math.max(1, fast.loss));
    assert.equal(general.hits, fast.hits);
  }
  model.dispose();
});

test('DP-SGD trains a CNN through the general path, each example clipped: a huge C and z = 0 is plain SGD on the same lots', async () => {
  const spec: ModelSpec = { family: 'cnn', inputShape: [6, 6, 1], conv: [{ filters: 2, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu', batchNorm: false, pool: 2, dropout: 0 }], dense: [], dropout: 0, classes: 3, l2: 0 };
  const random = seededRandom(9);
  const n = 20;
  const data: Dataset = { x: Float32Array.from({ length: n * 36 }, () => random()), y: Int32Array.from({ length: n }, (_, i) => i % 3), inputShape: [6, 6, 1], classes: 3 };
  const a = buildModel(spec, 2);
  const b = buildModel(spec, 2);
  const config = sgd({ batchSize: 5, learningRate: 0.3 });
  const dp = await trainLocal(a, data, config, { dpSgd: { clippingNorm: 1e6, noiseMultiplier: 0, random: seededRandom(4) } });
  assert.equal(dp.dpSteps, 4);
  referenceSgd(b, data, config, 4);
  assertRelativelyClose(getParameters(a).data, getParameters(b).data, 1e-4, 'CNN after DP-SGD with nothing clipped or added');
  // A small C bounds every example's contribution: one step moves the weights by at most lr·C·|lot|/L.
  const c = buildModel(spec, 2);
  const before = getParameters(c).data.slice();
  await trainLocal(c, data, sgd({ batchSize: 20, learningRate: 1 }), { dpSgd: { clippingNorm: 0.01, noiseMultiplier: 0, random: seededRandom(1) } });
  const moved = norm(getParameters(c).data.map((v, i) => v - before[i]!));
  assert.ok(moved <= 0.01 + 1e-6, `moved ${moved}`);
  for (const m of [a, b, c]) m.dispose();
});

test('bad DP options, models and data are refused with the offending field', async () => {
  const spec: ModelSpec = { family: 'mlp', inputShape: [2], hidden: [], classes: 3, activation: 'relu' };
  const model = buildModel(spec, 0);
  const data = blobs(6, 1);
  await assert.rejects(trainLocal(model, data, sgd(), { dpSgd: { clippingNorm: 0, noiseMultiplier: 1 } }), concordError(ErrorCode.INVALID_ARGUMENT, 'dpSgd.clippingNorm'));
  await assert.rejects(trainLocal(model, data, sgd(), { dpSgd: { clippingNorm: 1, noiseMultiplier: -1 } }), concordError(ErrorCode.INVALID_ARGUMENT, 'dpSgd.noiseMultiplier'));
  await assert.rejects(trainLocal(model, blobs(6, 1, 3), sgd(), { dpSgd: { clippingNorm: 1, noiseMultiplier: 1 } }), concordError(ErrorCode.SHAPE_MISMATCH, 'data.inputShape'));
  await assert.rejects(
    trainLocal(model, { ...data, y: Int32Array.from([0, 1, 2, 3, 0, 1]) }, sgd(), { dpSgd: { clippingNorm: 1, noiseMultiplier: 1 } }),
    concordError(ErrorCode.INVALID_ARGUMENT, 'data.y[3]'),
  );
  // Not a plain Dense stack (dropout): the general path, one example at a time.
  const dropout = tf.sequential({ layers: [tf.layers.dense({ name: 'dense_1', units: 4, inputShape: [2] }), tf.layers.dropout({ rate: 0.5 }), tf.layers.dense({ name: LOGITS_LAYER, units: 3 })] });
  assert.ok((await trainLocal(dropout, data, sgd(), { dpSgd: { clippingNorm: 1, noiseMultiplier: 1 } })).dpSteps! > 0);
  const empty = await trainLocal(model, { ...data, x: new Float32Array(0), y: new Int32Array(0) }, sgd(), { dpSgd: { clippingNorm: 1, noiseMultiplier: 1 } });
  assert.deepEqual(empty, { numExamples: 0, metrics: { loss: 0, accuracy: 0 }, dpSteps: 0, dpSamplingRate: 0 });
  model.dispose();
  dropout.dispose();
});

test('DP-SGD leaves no tensors behind (SGD, Adam, FedProx, empty lots; the dense and the general path)', async () => {
  const spec: ModelSpec = { family: 'mlp', inputShape: [2], hidden: [8], classes: 3, activation: 'tanh' };
  const model = buildModel(spec, 0);
  const global = getParameters(model);
  const data = blobs(20, 2);
  const dpSgd = { clippingNorm: 1, noiseMultiplier: 1, random: seededRandom(3) };
  await trainLocal(model, data, sgd({ batchSize: 1 }), { dpSgd }); // warm-up: kernels and backend state
  const baseline = tf.memory().numTensors;
  await trainLocal(model, data, sgd({ batchSize: 1 }), { dpSgd });
  await trainLocal(model, data, sgd({ optimizer: 'adam', learningRate: 0.01 }), { dpSgd });
  await trainLocal(model, data, sgd({ proximalMu: 0.1 }), { dpSgd, globalParameters: global });
  assert.equal(tf.memory().numTensors, baseline);
  assert.deepEqual(layerVariables(denseLayers(model)), model.trainableWeights.map((w) => w.read()));
  model.dispose();
  // The general path (one example at a time through autodiff), on a CNN.
  const cnn = buildModel({ family: 'cnn', inputShape: [4, 4, 1], conv: [{ filters: 2, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu', batchNorm: false, pool: 2, dropout: 0 }], dense: [], dropout: 0, classes: 2, l2: 0 }, 0);
  const images: Dataset = { x: Float32Array.from({ length: 12 * 16 }, (_, i) => (i % 7) / 7), y: Int32Array.from({ length: 12 }, (_, i) => i % 2), inputShape: [4, 4, 1], classes: 2 };
  await trainLocal(cnn, images, sgd({ batchSize: 4 }), { dpSgd });
  const before = tf.memory().numTensors;
  await trainLocal(cnn, images, sgd({ batchSize: 4 }), { dpSgd });
  assert.equal(tf.memory().numTensors, before, 'the general path keeps nothing per example');
  cnn.dispose();
});

test('DP-SGD (z = 1, C = 1, batch 64) learns MNIST digits well above chance', async () => {
  const data = await loadDataset('mnist:member=0,members=5,partition=iid,seed=1');
  const test = await loadDataset('mnist:test,test=500');
  const model = buildModel({ family: 'mlp', inputShape: [784], hidden: [64], classes: 10, activation: 'relu' }, 1);
  const epochs: number[] = [];
  const result = await trainLocal(model, data, sgd({ epochs: 3, batchSize: 64, learningRate: 0.5 }), {
    dpSgd: { clippingNorm: 1, noiseMultiplier: 1, random: seededRandom(12) },
    onEpoch: (_, __, accuracy) => epochs.push(accuracy),
  });
  const n = data.y.length;
  assert.equal(result.dpSteps, 3 * Math.ceil(n / 64));
  assert.equal(result.dpSamplingRate, 64 / n);
  assert.equal(epochs.length, 3);
  assert.ok(result.metrics.accuracy > 0.6, `training accuracy ${result.metrics.accuracy}`);
  const held = await evaluate(model, test);
  assert.ok(held.accuracy > 0.6, `test accuracy ${held.accuracy}`);
  const { epsilon } = computeEpsilon({ samplingRate: result.dpSamplingRate!, noiseMultiplier: 1, steps: result.dpSteps!, delta: 1e-5 });
  assert.ok(epsilon > 0 && epsilon < 10, `ε ${epsilon}`);
  console.log(`# MNIST n=${n}: train accuracy ${result.metrics.accuracy.toFixed(3)}, test accuracy ${held.accuracy.toFixed(3)}, ${result.dpSteps} steps at q=${result.dpSamplingRate!.toFixed(4)}, ε=${epsilon.toFixed(2)} (δ=1e-5)`);
  model.dispose();
});
