// Local training and evaluation with TensorFlow.js: minibatch SGD or Adam on sparse
// categorical cross-entropy, shuffled reproducibly from the task's seed. With μ > 0 the
// FedProx proximal term (μ/2)·‖w − w_global‖² is added to every minibatch objective
// (Li et al. 2020, arXiv 1812.06127), which keeps a member's weights near the global
// model on skewed data; that needs a custom loop rather than model.fit.
//
// The dataset is uploaded once; batches are gathered on the device, and losses and
// correct counts are summed on the device and read once per epoch.

import * as tf from '@tensorflow/tfjs';
import { seededRandom, shuffle } from '../core/random.js';
import type { Dataset } from '../data/dataset.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { TrainConfig } from '../protocol/messages.js';
import { type Parameters, assertSameSpecs, sizeOf } from '../protocol/tensors.js';
import { specOf } from './build.js';
import { checkCompatible, logits } from './forward.js';
import { type DpSgdOptions, trainDpSgd } from './dp-train.js';
import { weightSpecs } from './weights.js';

export interface TrainOptions {
  /** The round's global model; required when config.proximalMu > 0. */
  globalParameters?: Parameters;
  /** Called after each epoch (0-based) with its mean cross-entropy and training accuracy. */
  onEpoch?: (epoch: number, loss: number, accuracy: number) => void;
  /** Sample-level DP: train with DP-SGD (dp-train.ts) instead; the result then carries dpSteps and dpSamplingRate. */
  dpSgd?: DpSgdOptions;
}

export interface TrainResult {
  numExamples: number;
  /** Mean cross-entropy (without the proximal term) and accuracy over the last epoch (or its part before maxSteps). */
  metrics: { loss: number; accuracy: number };
  /** Examples passed through the model in training, over all epochs: the units of work done. */
  examplesProcessed?: number;
  /** With options.dpSgd: the noisy steps taken and the Poisson sampling rate q, the privacy accountant's inputs. */
  dpSteps?: number;
  dpSamplingRate?: number;
}

export interface EvaluateResult {
  loss: number;
  accuracy: number;
  numExamples: number;
}

/** How long training may hold the event loop before it yields, so a member keeps answering its coordinator. */
const YIELD_EVERY_MS = 100;

// setImmediate where it exists (Node); browsers, where a member can also train, have only timers.
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

/** λ·Σ w² over the kernels (the spec's l2 weight decay), as Keras' kernel regularizer adds it. */
function weightDecay(variables: readonly tf.Variable[], names: readonly string[], l2: number): tf.Scalar | null {
  if (!(l2 > 0)) return null;
  const kernels = variables.filter((_, i) => names[i]!.endsWith('/kernel'));
  return kernels.length === 0 ? null : (tf.mul(l2, tf.addN(kernels.map((v) => tf.sum(tf.square(v))))) as tf.Scalar);
}

/** Adds `delta` to an on-device accumulator, disposing the old one. */
function accumulate(total: tf.Scalar, delta: tf.Tensor): tf.Scalar {
  const next = tf.tidy(() => tf.add(total, delta) as tf.Scalar);
  total.dispose();
  return next;
}

export async function trainLocal(model: tf.LayersModel, data: Dataset, config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  if (options.dpSgd) return trainDpSgd(model, data, config, options.dpSgd, options);
  const { classes, inputShape } = checkCompatible(model, data);
  const n = data.y.length;
  if (n === 0) return { numExamples: 0, metrics: { loss: 0, accuracy: 0 } };
  const mu = config.proximalMu ?? 0;
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const names = model.trainableWeights.map((w) => w.originalName);
  const spec = specOf(model);
  const l2 = (spec && 'l2' in spec ? spec.l2 : undefined) ?? 0;
  let anchors: tf.Tensor[] = [];
  if (mu > 0) {
    if (!options.globalParameters) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'FedProx (proximalMu > 0) needs the global parameters', { details: { field: 'globalParameters', expected: 'the round\'s global model' } });
    }
    anchors = anchorTensors(model, options.globalParameters);
  }

  const x = tf.tensor(data.x, [n, ...inputShape]);
  const y = tf.tensor1d(data.y, 'int32');
  const optimizer = config.optimizer === 'adam' ? tf.train.adam(config.learningRate) : tf.train.sgd(config.learningRate);
  let metrics = { loss: 0, accuracy: 0 };
  let lastYield = Date.now();
  const maxSteps = config.maxSteps ?? Number.POSITIVE_INFINITY;
  let steps = 0;
  let processed = 0;
  try {
    for (let epoch = 0; epoch < config.epochs && steps < maxSteps; epoch++) {
      const order = tf.tensor1d(Int32Array.from(shuffle(Array.from({ length: n }, (_, i) => i), seededRandom(config.seed, epoch))), 'int32');
      let lossSum = tf.scalar(0);
      let hitSum = tf.scalar(0);
      let seen = 0;
      for (let start = 0; start < n && steps < maxSteps; start += config.batchSize) {
        const size = Math.min(config.batchSize, n - start);
        steps++;
        seen += size;
        const [xb, yb] = tf.tidy(() => {
          const index = order.slice(start, size);
          return [tf.gather(x, index), tf.gather(y, index)];
        });
        let dataLoss: tf.Scalar | undefined;
        let hits: tf.Scalar | undefined;
        const cost = optimizer.minimize(
          () => {
            const z = logits(model, xb!, true);
            const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(yb as tf.Tensor1D, classes), z) as tf.Scalar;
            hits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(z, 1), yb!), 'float32')) as tf.Scalar);
            const decay = weightDecay(variables, names, l2);
            if (mu === 0 && decay === null) return ce;
            dataLoss = tf.keep(ce);
            let total: tf.Scalar = decay === null ? ce : tf.add(ce, decay);
            if (mu > 0) total = tf.add(total, tf.mul(mu / 2, tf.addN(variables.map((v, i) => tf.sum(tf.squaredDifference(v, anchors[i]!)))))) as tf.Scalar;
            return total;
          },
          true,
          variables,
        )!;
        const batchLoss = dataLoss ?? cost;
        const weighted = tf.mul(batchLoss, size);
        lossSum = accumulate(lossSum, weighted);
        hitSum = accumulate(hitSum, hits!);
        tf.dispose([xb!, yb!, cost, hits!, weighted, ...(dataLoss ? [dataLoss] : [])]);
        if (Date.now() - lastYield > YIELD_EVERY_MS) {
          await yieldToEventLoop();
          lastYield = Date.now();
        }
      }
      const [loss, correct] = await Promise.all([lossSum.data(), hitSum.data()]);
      tf.dispose([order, lossSum, hitSum]);
      processed += seen;
      metrics = { loss: loss[0]! / seen, accuracy: correct[0]! / seen };
      options.onEpoch?.(epoch, metrics.loss, metrics.accuracy);
    }
  } finally {
    tf.dispose([x, y, ...anchors]);
    optimizer.dispose();
  }
  return { numExamples: n, metrics, examplesProcessed: processed };
}

/** The global weights as constants, in the order of model.trainableWeights. */
function anchorTensors(model: tf.LayersModel, global: Parameters): tf.Tensor[] {
  assertSameSpecs(weightSpecs(model), global.specs, 'globalParameters');
  const offsets = new Map<string, number>();
  let offset = 0;
  for (const s of global.specs) {
    offsets.set(s.name, offset);
    offset += sizeOf(s.shape);
  }
  return model.trainableWeights.map((w) => {
    const at = offsets.get(w.originalName)!;
    return tf.tensor(global.data.subarray(at, at + sizeOf(w.shape as number[])), w.shape as number[], 'float32');
  });
}

/** Mean cross-entropy and accuracy of the model on `data`. */
export async function evaluate(model: tf.LayersModel, data: Dataset, batchSize = 512): Promise<EvaluateResult> {
  const { features, classes, inputShape } = checkCompatible(model, data);
  const n = data.y.length;
  if (n === 0) return { loss: 0, accuracy: 0, numExamples: 0 };
  let lossSum = tf.scalar(0);
  let hitSum = tf.scalar(0);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const [loss, hits] = tf.tidy(() => {
      const xb = tf.tensor(data.x.subarray(start * features, end * features), [end - start, ...inputShape]);
      const yb = tf.tensor1d(data.y.subarray(start, end), 'int32');
      const z = logits(model, xb);
      return [
        tf.losses.softmaxCrossEntropy(tf.oneHot(yb, classes), z, undefined, undefined, tf.Reduction.SUM),
        tf.sum(tf.cast(tf.equal(tf.argMax(z, 1), yb), 'float32')),
      ];
    });
    lossSum = accumulate(lossSum, loss!);
    hitSum = accumulate(hitSum, hits!);
    tf.dispose([loss!, hits!]);
  }
  const [loss, correct] = await Promise.all([lossSum.data(), hitSum.data()]);
  tf.dispose([lossSum, hitSum]);
  return { loss: loss[0]! / n, accuracy: correct[0]! / n, numExamples: n };
}
