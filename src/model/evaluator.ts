// Accuracy of many parameter vectors on one fixed dataset, as contribution valuation needs
// (one model per coalition and round). Keeps its own TF.js model per architecture, apart
// from any model the caller trains or evaluates, and runs one evaluation at a time, so
// concurrent callers never see each other's weights. The correctness evaluator returns one
// 0/1 per example instead of their mean, so valuation can bootstrap the validation set.

import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import type { ModelSpec } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import { buildModel } from './build.js';
import { checkCompatible, logits } from './forward.js';
import { evaluate } from './train.js';
import { setParameters } from './weights.js';

export type AccuracyEvaluator = (spec: ModelSpec, parameters: Parameters) => Promise<number>;

export type CorrectnessEvaluator = (spec: ModelSpec, parameters: Parameters) => Promise<Uint8Array>;

/** One evaluation at a time on a model per architecture, kept apart from every other model. */
function evaluatorOf<T>(fn: (model: tf.LayersModel) => Promise<T>): (spec: ModelSpec, parameters: Parameters) => Promise<T> {
  const models = new Map<string, ReturnType<typeof buildModel>>();
  let queue: Promise<unknown> = Promise.resolve();
  return (spec, parameters) => {
    const run = async (): Promise<T> => {
      const key = JSON.stringify(spec);
      let model = models.get(key);
      if (!model) models.set(key, (model = buildModel(spec, 0)));
      setParameters(model, parameters);
      return fn(model);
    };
    const result = queue.then(run, run);
    queue = result.catch(() => undefined);
    return result;
  };
}

export function createAccuracyEvaluator(data: Dataset): AccuracyEvaluator {
  return evaluatorOf(async (model) => (await evaluate(model, data)).accuracy);
}

/** 1 where the model's top class is the label, else 0, per example of `data`. */
export async function perExampleCorrect(model: tf.LayersModel, data: Dataset, batchSize = 512): Promise<Uint8Array> {
  const { features, inputShape } = checkCompatible(model, data);
  const n = data.y.length;
  const out = new Uint8Array(n);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const hits = tf.tidy(() => {
      const xb = tf.tensor(data.x.subarray(start * features, end * features), [end - start, ...inputShape]);
      const yb = tf.tensor1d(data.y.subarray(start, end), 'int32');
      return tf.cast(tf.equal(tf.argMax(logits(model, xb), 1), yb), 'int32');
    });
    out.set(await hits.data(), start);
    hits.dispose();
  }
  return out;
}

export function createCorrectnessEvaluator(data: Dataset): CorrectnessEvaluator {
  return evaluatorOf((model) => perExampleCorrect(model, data));
}
