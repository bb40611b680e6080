// What the kernels and fused layers that work on the WebAssembly module's memory directly
// (max-pool-grad.ts, slice.ts, families/conv1d-relu.ts) need of the WASM backend: a view of
// a tensor's memory and fresh outputs. Allocating an output may grow the memory, which
// detaches views taken before it: take views after makeOutput.

import * as tf from '@tensorflow/tfjs';
import type { backend_util } from '@tensorflow/tfjs-core';

export interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): backend_util.TypedArray;
}

/**
 * The values of a float32 tensor without a copy where the backend allows: a view of the WASM
 * module's memory (valid only until the next allocation on the backend), or the CPU
 * backend's own array. Read it, never write it.
 */
export function hostView(t: tf.Tensor): Float32Array {
  const backend = tf.backend() as unknown as Partial<HeapBackend>;
  if (t.dtype === 'float32' && typeof backend.typedArrayFromHeap === 'function') return backend.typedArrayFromHeap({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }) as Float32Array;
  return t.dataSync() as Float32Array;
}
