// What training, DP-SGD and evaluation share: whether data fits a model, and the logits of
// a batch (the model up to its logits layer, its input fed the way its family takes it).

import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import { featureSize } from '../data/dataset.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { sizeOf } from '../protocol/tensors.js';
import { LOGITS_LAYER, logitsModel, specOf } from './build.js';
import { feed } from './families/index.js';

/**
 * The logits of a batch: the model up to its logits layer, with dropout and batch
 * normalisation in training mode when `training` is set.
 */
export function logits(model: tf.LayersModel, x: tf.Tensor, training = false): tf.Tensor2D {
  const spec = specOf(model);
  if (!model.layers.some((l) => l.name === LOGITS_LAYER)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `the model has no "${LOGITS_LAYER}" layer; build it with buildModel`, { details: { field: 'model', expected: `a layer named ${LOGITS_LAYER}` } });
  }
  return logitsModel(model).apply(spec ? feed(spec, x) : x, { training }) as tf.Tensor2D;
}

/**
 * Data fits a model when each example has as many values as the model's input: examples
 * are row-major, so MNIST's 784-vectors feed a model that takes [28, 28, 1] (reshaped here).
 */
export function checkCompatible(model: tf.LayersModel, data: Dataset): { features: number; classes: number; inputShape: number[] } {
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  const features = sizeOf(inputShape);
  const classes = model.outputs[0]!.shape[1] as number;
  if (featureSize(data) !== features) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `the data has ${featureSize(data)} features per example but the model takes ${features}`, {
      details: { field: 'data.inputShape', expected: inputShape, received: data.inputShape },
    });
  }
  if (data.x.length !== data.y.length * features) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `the data has ${data.y.length} labels but ${data.x.length / features} examples`, {
      details: { field: 'data.x', expected: data.y.length * features, received: data.x.length },
    });
  }
  for (let i = 0; i < data.y.length; i++) {
    const label = data.y[i]!;
    if (!(label >= 0 && label < classes)) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `example ${i} has label ${label} but the model has ${classes} classes`, {
        details: { field: `data.y[${i}]`, expected: `0..${classes - 1}`, received: label },
      });
    }
  }
  return { features, classes, inputShape };
}

