// The multi-layer perceptron: the flattened input through Dense layers `dense_1 … dense_k`
// (each optionally followed by batch normalisation `batch_norm_i` and dropout), then the
// logits layer `output` and a weightless softmax.

import * as tf from '@tensorflow/tfjs';
import type { MlpSpec } from '../../protocol/messages.js';
import { sizeOf } from '../../protocol/tensors.js';
import { LOGITS_LAYER, type ModelFamily } from './family.js';

export const mlpFamily: ModelFamily<MlpSpec> = {
  name: 'mlp',
  support: (spec) => ({
    // DP-SGD bounds each example's influence; batch statistics mix examples within a lot.
    dpSgd: spec.batchNorm === true ? { reason: 'batch normalisation mixes the examples of a batch, so one example\'s gradient cannot be clipped on its own; use dropout or none' } : true,
    browser: ['webgl', 'wasm', 'cpu'],
  }),
  io: (spec) => ({ inputShape: [...spec.inputShape], input: 'features', classes: spec.classes }),
  parameterCount(spec) {
    const widths = [sizeOf(spec.inputShape), ...spec.hidden, spec.classes];
    let count = 0;
    for (let i = 1; i < widths.length; i++) count += widths[i - 1]! * widths[i]! + widths[i]!;
    // Batch norm: gamma, beta, moving mean and variance per hidden unit.
    if (spec.batchNorm === true) count += 4 * spec.hidden.reduce((a, b) => a + b, 0);
    return count;
  },
  build(spec) {
    const model = tf.sequential({ name: 'concord_mlp' });
    const flat = spec.inputShape.length > 1;
    if (flat) model.add(tf.layers.flatten({ name: 'flatten', inputShape: spec.inputShape }));
    spec.hidden.forEach((units, i) => {
      model.add(tf.layers.dense({ name: `dense_${i + 1}`, units, activation: spec.activation ?? 'relu', kernelInitializer: 'zeros', ...(i === 0 && !flat ? { inputShape: spec.inputShape } : {}) }));
      if (spec.batchNorm === true) model.add(tf.layers.batchNormalization({ name: `batch_norm_${i + 1}` }));
      if ((spec.dropout ?? 0) > 0) model.add(tf.layers.dropout({ name: `dropout_${i + 1}`, rate: spec.dropout! }));
    });
    model.add(tf.layers.dense({ name: LOGITS_LAYER, units: spec.classes, kernelInitializer: 'zeros', ...(spec.hidden.length === 0 && !flat ? { inputShape: spec.inputShape } : {}) }));
    model.add(tf.layers.activation({ name: 'softmax', activation: 'softmax' }));
    return model;
  },
};
