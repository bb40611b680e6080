// Tile for the WebAssembly backend, replacing TF.js 4.22's own (a JavaScript loop): each
// repetition axis becomes a broadcast multiplication by ones, which the backend does in
// native code, then one reshape. x [a, b] tiled by [r, s] is (x as [1, a, 1, b]) · 1[r, 1, s, 1]
// reshaped to [r·a, s·b].

import * as tf from '@tensorflow/tfjs';
import { fallBack } from './fallback.js';

export function tile(x: tf.Tensor, reps: readonly number[]): tf.Tensor {
  return tf.tidy(() => {
    const spread = tf.reshape(x, x.shape.flatMap((n) => [1, n]));
    const ones = tf.ones(reps.flatMap((r) => [r, 1]), x.dtype);
    return tf.reshape(tf.mul(spread, ones), x.shape.map((n, i) => n * reps[i]!));
  });
}

/** Broadcasting in WASM's binary kernels is exact up to rank 6, so inputs of rank ≤ 3. */
const MAX_RANK = 3;

/** The replacement, falling back to the backend's own kernel for other dtypes and higher ranks. */
export function tileConfig(original: tf.KernelConfig | undefined): tf.KernelConfig {
  return {
    kernelName: 'Tile',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { x } = args.inputs as unknown as { x: tf.Tensor };
      const { reps } = args.attrs as unknown as { reps: number[] };
      if ((x.dtype === 'float32' || x.dtype === 'int32') && x.shape.length <= MAX_RANK) return tile(x, reps) as unknown as tf.TensorInfo;
      return fallBack(original, args, `Tile on wasm of dtype ${x.dtype}, rank ${x.shape.length}`);
    },
  };
}
