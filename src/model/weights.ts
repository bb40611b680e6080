// Moves a TF.js model's weights to and from Concord's framework-neutral Parameters.
// Names come from each weight's `originalName` (`dense_1/kernel`), which, unlike `name`,
// carries no suffix TF.js adds when several models live in one process.

import * as tf from '@tensorflow/tfjs';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { type Parameters, type TensorSpec, assertSameSpecs, sizeOf, totalSize } from '../protocol/tensors.js';

export function weightSpecs(model: tf.LayersModel): TensorSpec[] {
  return model.weights.map((w) => ({ name: w.originalName, shape: [...w.shape] as number[] }));
}

/** A copy of the model's current weights. */
export function getParameters(model: tf.LayersModel): Parameters {
  const specs = weightSpecs(model);
  const data = new Float32Array(specs.reduce((s, t) => s + sizeOf(t.shape), 0));
  let offset = 0;
  // read() returns the variable itself, not a copy: it must not be disposed.
  for (const w of model.weights) {
    const values = w.read().dataSync();
    data.set(values, offset);
    offset += values.length;
  }
  return { specs, data };
}

/** Overwrites the model's weights; throws SHAPE_MISMATCH if names, shapes or the value count differ from the model's. */
export function setParameters(model: tf.LayersModel, p: Parameters): void {
  assertSameSpecs(weightSpecs(model), p.specs, 'parameters');
  const expected = totalSize(p.specs);
  if (p.data.length !== expected) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `parameters hold ${p.data.length} values but their manifest describes ${expected}`, {
      details: { field: 'parameters.data', expected, received: p.data.length },
    });
  }
  let offset = 0;
  const tensors = p.specs.map((s) => {
    const n = sizeOf(s.shape);
    const t = tf.tensor(p.data.subarray(offset, offset + n), s.shape, 'float32');
    offset += n;
    return t;
  });
  // Variables take their own reference to the data, so the inputs can go at once.
  model.setWeights(tensors);
  tf.dispose(tensors);
}
