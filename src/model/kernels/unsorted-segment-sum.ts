// UnsortedSegmentSum for the WebAssembly backend, which ships without it (TF.js 4.22): it is
// the gradient of a gather, so of every Embedding layer. ScatterNd, which WASM has, sums the
// updates of repeated indices — exactly a segment sum of the rows of x by segment id.

import * as tf from '@tensorflow/tfjs';

export function unsortedSegmentSum(x: tf.Tensor, segmentIds: tf.Tensor, numSegments: number): tf.Tensor {
  return tf.tidy(() => {
    const ids = tf.reshape(segmentIds, [-1, 1]);
    const rowShape = x.shape.slice(segmentIds.shape.length);
    const rows = tf.reshape(x, [ids.shape[0]!, rowShape.reduce((a, b) => a * b, 1)]);
    return tf.reshape(tf.scatterND(ids, rows, [numSegments, rows.shape[1]!]), [numSegments, ...rowShape]);
  });
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: 'UnsortedSegmentSum',
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const { x, segmentIds } = inputs as unknown as { x: tf.Tensor; segmentIds: tf.Tensor };
    return unsortedSegmentSum(x, segmentIds, (attrs as unknown as { numSegments: number }).numSegments) as unknown as tf.TensorInfo;
  },
};
