// The gradient of Tile as one reshape and sum: dy of shape [r₁·a, r₂·b, …] viewed as
// [r₁, a, r₂, b, …] and summed over the repetition axes. TF.js' own gradient loops over
// every repetition with a Slice and an Add each, and tfjs-layers' LayerNormalization tiles
// its scale and shift to the whole input, so a transformer step spent most of its time in
// 8,192 tiny slices and adds. Registered globally (gradients are not per backend).

import * as tf from '@tensorflow/tfjs';

export function tileGradient(dy: tf.Tensor, xShape: readonly number[], reps: readonly number[]): tf.Tensor {
  return tf.tidy(() => {
    const split = xShape.flatMap((n, i) => [reps[i]!, n]);
    const repetitionAxes = xShape.map((_, i) => 2 * i);
    return tf.reshape(tf.sum(tf.reshape(dy, split), repetitionAxes), [...xShape]);
  });
}

export const tileGradientConfig: tf.GradConfig = {
  kernelName: 'Tile',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as tf.Tensor[];
    const { reps } = attrs as unknown as { reps: number[] };
    return { x: () => tileGradient(dy as tf.Tensor, x!.shape, reps) };
  },
};
