// Conv2DBackpropInput for the WebAssembly backend, replacing TF.js 4.22's own: that one is a
// plain loop, and was the slowest kernel of a convolutional training step. The gradient of a
// Conv2D with respect to its input is the full correlation of the output gradient — spread
// back onto the strided positions it came from — with the filter flipped in space and its
// channels swapped, which the backend's fast forward Conv2D runs:
//   dx_pad[n, a, b, c] = Σ_{fh,fw,o} dy_spread_pad[n, a + fh, b + fw, o] · W[k_h−1−fh, k_w−1−fw, c, o]
// Rows of the padded input that no output read (a strided 'valid' tail) get zero gradient.

import * as tf from '@tensorflow/tfjs';
import { backend_util } from '@tensorflow/tfjs-core';

export interface Conv2DBackpropInputAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

/** dy with (stride − 1) zeros between its rows and columns: [n, (h−1)·sh + 1, (w−1)·sw + 1, c]. */
export function spread(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [n, h, w, c] = dy.shape;
  const gapped = tf.pad(tf.reshape(dy, [n, h, 1, w, 1, c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
  return tf.slice(tf.reshape(gapped, [n, h * sh, w * sw, c]), [0, 0, 0, 0], [n, (h - 1) * sh + 1, (w - 1) * sw + 1, c]) as tf.Tensor4D;
}

export function conv2dBackpropInput(dy: tf.Tensor4D, filter: tf.Tensor4D, attrs: Conv2DBackpropInputAttrs): tf.Tensor4D {
  if (attrs.dataFormat === 'NCHW') throw new Error('Conv2DBackpropInput on wasm: only the NHWC data format is supported');
  const info = backend_util.computeConv2DInfo(attrs.inputShape, filter.shape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const { top, bottom, left, right } = info.padInfo;
  const kh = info.filterHeight;
  const kw = info.filterWidth;
  return tf.tidy(() => {
    const spreadDy = spread(dy, info.strideHeight, info.strideWidth);
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]); // [kh, kw, outC, inC]
    // Padded so that the correlation lands on the input's rows and columns exactly: kh − 1 −
    // top zeros before (the rows of the full correlation above the input are never computed)
    // and enough after for inHeight rows; no slice of the result (a slow strided copy here).
    const before = [kh - 1 - top, kw - 1 - left];
    const after = [info.inHeight + top - spreadDy.shape[1], info.inWidth + left - spreadDy.shape[2]];
    if (Math.min(...before, ...after) >= 0) {
      return tf.conv2d(tf.pad(spreadDy, [[0, 0], [before[0]!, after[0]!], [before[1]!, after[1]!], [0, 0]]), flipped, 1, 'valid');
    }
    // Explicit paddings wider than the filter: the full correlation, then the input's window of it.
    const full = tf.pad(spreadDy, [[0, 0], [kh - 1, kh - 1], [kw - 1, kw - 1], [0, 0]]);
    const covered = tf.conv2d(full, flipped, 1, 'valid'); // [n, (outH−1)·sh + kh, (outW−1)·sw + kw, inC]
    const paddedHeight = info.inHeight + top + bottom;
    const paddedWidth = info.inWidth + left + right;
    const dxPadded = tf.pad(covered, [[0, 0], [0, paddedHeight - covered.shape[1]], [0, paddedWidth - covered.shape[2]], [0, 0]]);
    return tf.slice(dxPadded, [0, top, left, 0], attrs.inputShape);
  });
}

export const conv2dBackpropInputConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const { dy, filter } = inputs as unknown as { dy: tf.Tensor4D; filter: tf.Tensor4D };
    return conv2dBackpropInput(dy, filter, attrs as unknown as Conv2DBackpropInputAttrs) as unknown as tf.TensorInfo;
  },
};
