// Which entries of a gradient tensor can be nonzero, when the op that made it knows: global
// max pooling sends dy to one step per (example, channel) and says which, so the convolution
// before it (conv1d-relu.ts) sums its gradients over those entries without scanning the
// whole tensor for them. A gradient that was summed with another (an output used twice) is a
// new tensor without a hint, and is scanned.

import type * as tf from '@tensorflow/tfjs';

const hints = new WeakMap<tf.Tensor, Int32Array>();

/** Records that `gradient` is zero outside `entries` (flat indices, ascending). */
export function hintNonzeros<T extends tf.Tensor>(gradient: T, entries: Int32Array): T {
  hints.set(gradient, entries);
  return gradient;
}

/** The entries outside which `gradient` is zero, if the op that made it said. */
export function nonzerosOf(gradient: tf.Tensor): Int32Array | undefined {
  return hints.get(gradient);
}
