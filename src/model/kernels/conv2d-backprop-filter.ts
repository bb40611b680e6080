// Conv2DBackpropFilter for the WebAssembly backend, which ships without it (TF.js 4.22): the
// gradient of a Conv2D (and Conv1D, which TF.js runs as a Conv2D) with respect to its
// filter. It is itself a convolution, run on the backend's fast forward Conv2D kernel:
//   dW[fh, fw, c, o] = Σ_{n,i,j} x_pad[n, i·sh + fh, j·sw + fw, c] · dy[n, i, j, o]
// is a valid convolution of the padded input with channels and batch swapped
// ([c, h, w, n]) by the output gradient as its filter ([i, j, n, o]), dilated by the
// strides. (A GatherV2 im2col was 2×, strided slices per tap 5× slower here.) Padding
// follows TF.js' own convolution geometry (computeConv2DInfo), like the CPU kernel. Dilated
// convolutions are refused: the WASM forward and input-gradient kernels lack them too.

import * as tf from '@tensorflow/tfjs';
import { backend_util } from '@tensorflow/tfjs-core';

export interface Conv2DBackpropFilterAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

export function conv2dBackpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: Conv2DBackpropFilterAttrs): tf.Tensor4D {
  if (attrs.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm: only the NHWC data format is supported');
  const info = backend_util.computeConv2DInfo(x.shape, attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const { top, bottom, left, right } = info.padInfo;
  return tf.tidy(() => {
    const padded = top || bottom || left || right ? tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]]) : x;
    const input = tf.transpose(padded, [3, 1, 2, 0]); // [inC, H, W, N]
    const filter = tf.transpose(dy, [1, 2, 0, 3]); // [outH, outW, N, outC]
    const correlation = tf.conv2d(input, filter, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]); // [inC, ≥fh, ≥fw, outC]
    const taps = tf.slice(correlation, [0, 0, 0, 0], [info.inChannels, info.filterHeight, info.filterWidth, info.outChannels]);
    return tf.transpose(taps, [1, 2, 0, 3]);
  });
}

export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const { x, dy } = inputs as unknown as { x: tf.Tensor4D; dy: tf.Tensor4D };
    // A Tensor is a TensorInfo the engine takes as the kernel's output as it is.
    return conv2dBackpropFilter(x, dy, attrs as unknown as Conv2DBackpropFilterAttrs) as unknown as tf.TensorInfo;
  },
};
