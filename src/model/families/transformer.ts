// The transformer encoder, built from standard TF.js layers only, so that plain tfjs loads the
// exported model: inputs are the token ids and their positions (0 … L−1; the family feeds
// them), embedded by `token_embedding` and `position_embedding` and added. Each block b has
// self-attention heads h (`block_b_query_h`, `…_key_h`, `…_value_h`: Dense projections to
// d/heads; scores q·kᵀ/√(d/heads) by a Dot and a Rescaling layer, a softmax over keys, and a
// Dot with the values), concatenated and projected (`block_b_attention_output`), added to the
// block's input and normalised (`block_b_attention_norm`); then a ReLU feed-forward network
// (`block_b_ffn_1`, `block_b_ffn_2`), again residual and normalised (`block_b_ffn_norm`).
// The first position — the [CLS] token the tokenizer puts first — is cropped out as the
// sequence's representation for the logits layer `output`.

import * as tf from '@tensorflow/tfjs';
import type { TransformerSpec } from '../../protocol/messages.js';
import { LOGITS_LAYER, type ModelFamily } from './family.js';

const dense = (name: string, units: number, activation?: 'relu') => tf.layers.dense({ name, units, kernelInitializer: 'zeros', ...(activation ? { activation } : {}) });

export const transformerFamily: ModelFamily<TransformerSpec> = {
  name: 'transformer',
  support: () => ({ dpSgd: true, browser: ['webgl', 'wasm', 'cpu'] }),
  io: (spec) => ({ inputShape: [spec.sequenceLength], input: 'ids', classes: spec.classes, vocabulary: spec.vocabSize }),
  parameterCount(spec) {
    const d = spec.embeddingDim;
    const head = d / spec.heads;
    const block = spec.heads * 3 * (d * head + head) + (d * d + d) + 2 * (2 * d) + (d * spec.feedForward + spec.feedForward) + (spec.feedForward * d + d);
    return spec.vocabSize * d + spec.sequenceLength * d + spec.layers * block + d * spec.classes + spec.classes;
  },
  build(spec) {
    const L = spec.sequenceLength;
    const d = spec.embeddingDim;
    const head = d / spec.heads;
    const tokens = tf.input({ shape: [L], name: 'tokens' });
    const positions = tf.input({ shape: [L], name: 'positions' });
    const embedded = tf.layers.embedding({ name: 'token_embedding', inputDim: spec.vocabSize, outputDim: d, embeddingsInitializer: 'zeros' }).apply(tokens) as tf.SymbolicTensor;
    const placed = tf.layers.embedding({ name: 'position_embedding', inputDim: L, outputDim: d, embeddingsInitializer: 'zeros' }).apply(positions) as tf.SymbolicTensor;
    let x = tf.layers.add({ name: 'embedding_sum' }).apply([embedded, placed]) as tf.SymbolicTensor;
    if (spec.dropout > 0) x = tf.layers.dropout({ name: 'embedding_dropout', rate: spec.dropout }).apply(x) as tf.SymbolicTensor;
    for (let b = 1; b <= spec.layers; b++) {
      const heads: tf.SymbolicTensor[] = [];
      for (let h = 1; h <= spec.heads; h++) {
        const q = dense(`block_${b}_query_${h}`, head).apply(x) as tf.SymbolicTensor;
        const k = dense(`block_${b}_key_${h}`, head).apply(x) as tf.SymbolicTensor;
        const v = dense(`block_${b}_value_${h}`, head).apply(x) as tf.SymbolicTensor;
        const scores = tf.layers.dot({ name: `block_${b}_scores_${h}`, axes: [2, 2] }).apply([q, k]) as tf.SymbolicTensor;
        const scaled = tf.layers.rescaling({ name: `block_${b}_scale_${h}`, scale: 1 / Math.sqrt(head) }).apply(scores) as tf.SymbolicTensor;
        const weights = tf.layers.softmax({ name: `block_${b}_attention_${h}`, axis: -1 }).apply(scaled) as tf.SymbolicTensor;
        heads.push(tf.layers.dot({ name: `block_${b}_context_${h}`, axes: [2, 1] }).apply([weights, v]) as tf.SymbolicTensor);
      }
      const joined = heads.length === 1 ? heads[0]! : (tf.layers.concatenate({ name: `block_${b}_heads`, axis: -1 }).apply(heads) as tf.SymbolicTensor);
      let attended = dense(`block_${b}_attention_output`, d).apply(joined) as tf.SymbolicTensor;
      if (spec.dropout > 0) attended = tf.layers.dropout({ name: `block_${b}_attention_dropout`, rate: spec.dropout }).apply(attended) as tf.SymbolicTensor;
      x = tf.layers.layerNormalization({ name: `block_${b}_attention_norm` }).apply(tf.layers.add({ name: `block_${b}_attention_residual` }).apply([x, attended])) as tf.SymbolicTensor;
      let hidden = dense(`block_${b}_ffn_2`, d).apply(dense(`block_${b}_ffn_1`, spec.feedForward, 'relu').apply(x)) as tf.SymbolicTensor;
      if (spec.dropout > 0) hidden = tf.layers.dropout({ name: `block_${b}_ffn_dropout`, rate: spec.dropout }).apply(hidden) as tf.SymbolicTensor;
      x = tf.layers.layerNormalization({ name: `block_${b}_ffn_norm` }).apply(tf.layers.add({ name: `block_${b}_ffn_residual` }).apply([x, hidden])) as tf.SymbolicTensor;
    }
    // [CLS]: the first row of [L, d], as a 2-D crop of the sequence seen as an image of one channel.
    const image = tf.layers.reshape({ name: 'cls_reshape', targetShape: [L, d, 1] }).apply(x) as tf.SymbolicTensor;
    const first = tf.layers.cropping2D({ name: 'cls_crop', cropping: [[0, L - 1], [0, 0]] }).apply(image) as tf.SymbolicTensor;
    let pooled = tf.layers.flatten({ name: 'cls' }).apply(first) as tf.SymbolicTensor;
    if (spec.dropout > 0) pooled = tf.layers.dropout({ name: 'output_dropout', rate: spec.dropout }).apply(pooled) as tf.SymbolicTensor;
    const logits = dense(LOGITS_LAYER, spec.classes).apply(pooled) as tf.SymbolicTensor;
    const probabilities = tf.layers.activation({ name: 'softmax', activation: 'softmax' }).apply(logits) as tf.SymbolicTensor;
    return tf.model({ name: 'concord_transformer', inputs: [tokens, positions], outputs: probabilities });
  },
  feed(spec, x) {
    const n = x.shape[0]!;
    return [x, tf.tile(tf.reshape(tf.range(0, spec.sequenceLength, 1, 'float32'), [1, spec.sequenceLength]), [n, 1])];
  },
};
