// Federated matrix factorisation (Ammad-ud-din et al. 2019, "Federated Collaborative
// Filtering for Privacy-Preserving Personalized Recommendation System", arXiv 1901.09888):
// r̂(u, i) = m + b_u + b_i + p_u·q_i with m the middle of the rating range. The item factors
// q (`item_factors`) and item biases b_i (`item_bias`) are the global parameters, averaged by
// the strategy; each user's p_u and b_u live only in the learner of the member that holds the
// user, trained there and never sent. Local training is SGD over the member's ratings
// (Koren et al. 2009): with e = r − r̂,
//   p_u += η(e·q_i − λp_u), q_i += η(e·p_u − λq_i), b_u += η(e − λb_u), b_i += η(e − λb_i).
// Examples are (user, item) pairs; the rating is the example's label (integer stars). The
// exported model maps item ids to [q_i, b_i] — with a user's own p_u and b_u, the score is
// m + b_u + b_i + p_u·q_i (docs/models.md).

import * as tf from '@tensorflow/tfjs';
import { seededRandom, shuffle } from '../../core/random.js';
import type { Dataset } from '../../data/dataset.js';
import type { MfSpec } from '../../protocol/messages.js';
import { type Parameters, makeParameters } from '../../protocol/tensors.js';
import { LOGITS_LAYER, type LocalLearner, type ModelFamily } from './family.js';

interface User {
  factors: Float32Array;
  bias: number;
}

class MfLearner implements LocalLearner {
  private readonly users = new Map<number, User>();
  private readonly middle: number;

  constructor(private readonly spec: MfSpec) {
    this.middle = (spec.ratingRange[0] + spec.ratingRange[1]) / 2;
  }

  /** A user's state, first seen: small seeded factors, zero bias (seeded by the user id, so reproducible). */
  private user(id: number): User {
    let user = this.users.get(id);
    if (!user) {
      const random = seededRandom(0x3f1, id);
      user = { factors: Float32Array.from({ length: this.spec.factors }, () => (2 * random() - 1) * 0.05), bias: 0 };
      this.users.set(id, user);
    }
    return user;
  }

  private predict(user: User, q: Float32Array, offset: number, itemBias: number): number {
    let dot = 0;
    for (let f = 0; f < this.spec.factors; f++) dot += user.factors[f]! * q[offset + f]!;
    const [lo, hi] = this.spec.ratingRange;
    return Math.min(hi, Math.max(lo, this.middle + user.bias + itemBias + dot));
  }

  async train(global: Parameters, data: Dataset, config: { epochs: number; learningRate: number; seed: number; maxSteps?: number }) {
    const k = this.spec.factors;
    const items = this.spec.items;
    const q = global.data.slice(0, items * k);
    const b = global.data.slice(items * k, items * k + items);
    const n = data.y.length;
    const lr = config.learningRate;
    const l2 = this.spec.l2;
    let squared = 0;
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      squared = 0;
      const order = shuffle(Array.from({ length: n }, (_, i) => i), seededRandom(config.seed, epoch));
      for (const row of order) {
        const user = this.user(data.x[2 * row]!);
        const item = data.x[2 * row + 1]!;
        const offset = item * k;
        const error = data.y[row]! - this.predict(user, q, offset, b[item]!);
        squared += error * error;
        for (let f = 0; f < k; f++) {
          const p = user.factors[f]!;
          const qi = q[offset + f]!;
          user.factors[f] = p + lr * (error * qi - l2 * p);
          q[offset + f] = qi + lr * (error * p - l2 * qi);
        }
        user.bias += lr * (error - l2 * user.bias);
        b[item] = b[item]! + lr * (error - l2 * b[item]!);
      }
    }
    const data_ = new Float32Array(global.data.length);
    data_.set(q, 0);
    data_.set(b, items * k);
    const mse = n > 0 ? squared / n : 0;
    return { parameters: makeParameters(global.specs, data_), numExamples: n, metrics: { loss: mse, rmse: Math.sqrt(mse) } };
  }

  async evaluate(global: Parameters, data: Dataset) {
    const k = this.spec.factors;
    const n = data.y.length;
    let squared = 0;
    for (let row = 0; row < n; row++) {
      const item = data.x[2 * row + 1]!;
      const error = data.y[row]! - this.predict(this.user(data.x[2 * row]!), global.data, item * k, global.data[this.spec.items * k + item]!);
      squared += error * error;
    }
    const mse = n > 0 ? squared / n : 0;
    return { numExamples: n, loss: mse, metrics: { loss: mse, rmse: Math.sqrt(mse) } };
  }
}

export const mfFamily: ModelFamily<MfSpec> = {
  name: 'mf',
  support: () => ({
    dpSgd: { reason: 'matrix factorisation trains each user\'s factors on the member; sample-level DP-SGD of the shared item factors is not implemented for it (client-level DP protects whole members)' },
    // The learner is plain JS over Float32Arrays, no TF.js kernel: it trains the same on any
    // backend, in the browser member too (test/browser-mf.test.ts).
    browser: ['webgl', 'wasm', 'cpu'],
  }),
  // Ratings are stored as integer stars in the labels, so "classes" are the star values 0 … max.
  io: (spec) => ({ inputShape: [2], input: 'ids', classes: Math.floor(spec.ratingRange[1]) + 1, vocabulary: spec.items }),
  parameterCount: (spec) => spec.items * spec.factors + spec.items,
  build(spec) {
    const items = tf.input({ shape: [1], name: 'items' });
    const factors = tf.layers.flatten({ name: 'factors' }).apply(tf.layers.embedding({ name: 'item_factors', inputDim: spec.items, outputDim: spec.factors, embeddingsInitializer: 'zeros' }).apply(items));
    const bias = tf.layers.flatten({ name: 'bias' }).apply(tf.layers.embedding({ name: 'item_bias', inputDim: spec.items, outputDim: 1, embeddingsInitializer: 'zeros' }).apply(items));
    const output = tf.layers.concatenate({ name: LOGITS_LAYER, axis: -1 }).apply([factors, bias] as tf.SymbolicTensor[]) as tf.SymbolicTensor;
    return tf.model({ name: 'concord_mf', inputs: items, outputs: output });
  },
  learner: (spec) => new MfLearner(spec),
};
