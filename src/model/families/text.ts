// The text classifier: token ids → `embedding` → an encoder (`lstm`, `gru`, or `conv1d` with
// global max pooling) → Dense layers `dense_j` with dropout → the logits layer `output` and a
// weightless softmax. Ids come as float32 values in the dataset; the Embedding layer reads
// them as integers. Recurrent layers run a step per token; buildModel runs an LSTM or GRU as
// one op per sequence on host backends (recurrent-sequence.ts).

import * as tf from '@tensorflow/tfjs';
import type { TextSpec } from '../../protocol/messages.js';
import { LOGITS_LAYER, type ModelFamily } from './family.js';

function encoderParameters(spec: TextSpec): number {
  const e = spec.embeddingDim;
  switch (spec.encoder.type) {
    case 'lstm':
      return 4 * (e * spec.encoder.units + spec.encoder.units * spec.encoder.units + spec.encoder.units);
    case 'gru':
      return 3 * (e * spec.encoder.units + spec.encoder.units * spec.encoder.units + spec.encoder.units);
    case 'conv1d':
      return spec.encoder.kernelSize * e * spec.encoder.filters + spec.encoder.filters;
  }
}

function encoderWidth(spec: TextSpec): number {
  return spec.encoder.type === 'conv1d' ? spec.encoder.filters : spec.encoder.units;
}

export const textFamily: ModelFamily<TextSpec> = {
  name: 'text',
  support: () => ({ dpSgd: true, browser: ['webgl', 'wasm', 'cpu'] }),
  io: (spec) => ({ inputShape: [spec.sequenceLength], input: 'ids', classes: spec.classes, vocabulary: spec.vocabSize }),
  check(spec) {
    if (spec.encoder.type === 'conv1d' && spec.encoder.kernelSize > spec.sequenceLength) {
      return [{ path: 'model.encoder.kernelSize', message: `a kernel of ${spec.encoder.kernelSize} tokens is longer than the ${spec.sequenceLength}-token sequence` }];
    }
    return [];
  },
  parameterCount(spec) {
    let count = spec.vocabSize * spec.embeddingDim + encoderParameters(spec);
    let width = encoderWidth(spec);
    for (const units of [...spec.dense, spec.classes]) {
      count += width * units + units;
      width = units;
    }
    return count;
  },
  build(spec) {
    const model = tf.sequential({ name: 'concord_text' });
    model.add(tf.layers.embedding({ name: 'embedding', inputDim: spec.vocabSize, outputDim: spec.embeddingDim, inputLength: spec.sequenceLength, inputShape: [spec.sequenceLength], embeddingsInitializer: 'zeros' }));
    const encoder = spec.encoder;
    if (encoder.type === 'conv1d') {
      model.add(tf.layers.conv1d({ name: 'conv1d', filters: encoder.filters, kernelSize: encoder.kernelSize, activation: 'relu', kernelInitializer: 'zeros' }));
      model.add(tf.layers.globalMaxPooling1d({ name: 'max_pool' }));
    } else {
      // Sigmoid gates, as in PyTorch and Keras 2 (TF.js still defaults to the hard sigmoid):
      // the same cell the training bench compares with, and the one that runs fused.
      const layer = encoder.type === 'lstm' ? tf.layers.lstm : tf.layers.gru;
      model.add(layer({ name: encoder.type, units: encoder.units, kernelInitializer: 'zeros', recurrentInitializer: 'zeros', recurrentActivation: 'sigmoid' }));
    }
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
