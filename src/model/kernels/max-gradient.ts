// The gradient of Max (the reduction behind GlobalMaxPooling1D and friends) through the
// position of each maximum: dy goes to the argmax, as a one-hot. TF.js' own gradient
// compares x with the broadcast maximum (Equal), which the WebAssembly backend of 4.22
// computes about 200× slower than an arithmetic op, and which made Equal the costliest
// kernel of a text CNN's training step. Where several positions tie for the maximum, this
// gives dy to the first of them and TF.js' to each of them; both are subgradients of max.
// Registered globally (gradients are not per backend), so every backend computes the same.

import * as tf from '@tensorflow/tfjs';

export function maxGradient(dy: tf.Tensor, x: tf.Tensor, axes: readonly number[]): tf.Tensor {
  return tf.tidy(() => {
    const rank = x.rank;
    const reduced = axes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
    const kept = Array.from({ length: rank }, (_, i) => i).filter((i) => !reduced.includes(i));
    const order = [...kept, ...reduced];
    const moved = tf.transpose(x, order);
    const keptShape = kept.map((i) => x.shape[i]!);
    const width = reduced.reduce((s, i) => s * x.shape[i]!, 1);
    const rows = tf.reshape(moved, [-1, width]);
    const hot = tf.oneHot(tf.argMax(rows, 1), width); // [rest, width], int32
    const spread = tf.mul(tf.cast(hot, dy.dtype), tf.reshape(dy, [-1, 1]));
    const back = tf.reshape(spread, [...keptShape, ...reduced.map((i) => x.shape[i]!)]);
    const inverse = order.map((_, i) => order.indexOf(i));
    return tf.transpose(back, inverse);
  });
}

export const maxGradientConfig: tf.GradConfig = {
  kernelName: 'Max',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as tf.Tensor[];
    const { reductionIndices } = attrs as unknown as { reductionIndices: number | number[] };
    const axes = typeof reductionIndices === 'number' ? [reductionIndices] : reductionIndices;
    return { x: () => maxGradient(dy as tf.Tensor, x!, axes) };
  },
};
