// The convolutional classifier: blocks `conv_i` (Conv2D, then optional batch normalisation
// `batch_norm_i`, max pooling `pool_i` and dropout `dropout_i`), `flatten`, Dense layers
// `dense_j` with dropout before each, the logits layer `output` and a weightless softmax.

import * as tf from '@tensorflow/tfjs';
import type { CnnSpec } from '../../protocol/messages.js';
import type { Problem } from '../../protocol/problems.js';
import { LOGITS_LAYER, type ModelFamily } from './family.js';

/** Height and width after each block, or the first block where they vanish. */
function spatialSizes(spec: CnnSpec): { sizes: [number, number][]; vanishesAt?: number } {
  let [h, w] = [spec.inputShape[0], spec.inputShape[1]];
  const sizes: [number, number][] = [];
  for (const [i, b] of spec.conv.entries()) {
    const conv = (n: number) => (b.padding === 'same' ? Math.ceil(n / b.strides) : Math.ceil((n - b.kernelSize + 1) / b.strides));
    [h, w] = [conv(h), conv(w)];
    if (b.pool > 1) [h, w] = [Math.floor(h / b.pool), Math.floor(w / b.pool)];
    if (!(h >= 1 && w >= 1)) return { sizes, vanishesAt: i };
    sizes.push([h, w]);
  }
  return { sizes };
}

export const cnnFamily: ModelFamily<CnnSpec> = {
  name: 'cnn',
  support: (spec) => ({
    dpSgd: spec.conv.some((b) => b.batchNorm) ? { reason: 'batch normalisation mixes the examples of a batch, so one example\'s gradient cannot be clipped on its own; use dropout or none' } : true,
    browser: ['webgl', 'wasm', 'cpu'],
  }),
  io: (spec) => ({ inputShape: [...spec.inputShape], input: 'features', classes: spec.classes }),
  check(spec) {
    const { vanishesAt } = spatialSizes(spec);
    if (vanishesAt === undefined) return [];
    const problem: Problem = { path: `model.conv[${vanishesAt}]`, message: `the ${spec.inputShape[0]}×${spec.inputShape[1]} input shrinks to nothing by this block (kernel, strides, valid padding and pooling); use fewer or smaller blocks, or padding "same"` };
    return [problem];
  },
  parameterCount(spec) {
    const { sizes } = spatialSizes(spec);
    let channels = spec.inputShape[2];
    let count = 0;
    for (const b of spec.conv) {
      count += b.kernelSize * b.kernelSize * channels * b.filters + b.filters + (b.batchNorm ? 4 * b.filters : 0);
      channels = b.filters;
    }
    const last = sizes.at(-1) ?? [0, 0];
    let width = last[0] * last[1] * channels;
    for (const units of [...spec.dense, spec.classes]) {
      count += width * units + units;
      width = units;
    }
    return count;
  },
  build(spec) {
    const model = tf.sequential({ name: 'concord_cnn' });
    spec.conv.forEach((b, i) => {
      model.add(
        tf.layers.conv2d({
          name: `conv_${i + 1}`,
          filters: b.filters,
          kernelSize: b.kernelSize,
          strides: b.strides,
          padding: b.padding,
          activation: b.activation,
          kernelInitializer: 'zeros',
          ...(i === 0 ? { inputShape: spec.inputShape } : {}),
        }),
      );
      if (b.batchNorm) model.add(tf.layers.batchNormalization({ name: `batch_norm_${i + 1}` }));
      if (b.pool > 1) model.add(tf.layers.maxPooling2d({ name: `pool_${i + 1}`, poolSize: b.pool, strides: b.pool }));
      if (b.dropout > 0) model.add(tf.layers.dropout({ name: `dropout_${i + 1}`, rate: b.dropout }));
    });
    model.add(tf.layers.flatten({ name: 'flatten' }));
    spec.dense.forEach((units, j) => {
      if (spec.dropout > 0) model.add(tf.layers.dropout({ name: `dense_dropout_${j + 1}`, rate: spec.dropout }));
      model.add(tf.layers.dense({ name: `dense_${j + 1}`, units, activation: 'relu', kernelInitializer: 'zeros' }));
    });
    if (spec.dropout > 0) model.add(tf.layers.dropout({ name: 'output_dropout', rate: spec.dropout }));
    model.add(tf.layers.dense({ name: LOGITS_LAYER, units: spec.classes, kernelInitializer: 'zeros' }));
    model.add(tf.layers.activation({ name: 'softmax', activation: 'softmax' }));
    return model;
  },
};
