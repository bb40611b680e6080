// What the kernels that work on the WebAssembly module's memory directly (max-pool-grad.ts,
// slice.ts) need of the WASM backend: a view of a tensor's memory and fresh outputs.
// Allocating an output may grow the memory, which detaches views taken before it: take
// views after makeOutput.

import type * as tf from '@tensorflow/tfjs';
import type { backend_util } from '@tensorflow/tfjs-core';

export interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): backend_util.TypedArray;
}
