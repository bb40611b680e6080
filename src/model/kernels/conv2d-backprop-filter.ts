// Conv2DBackpropFilter for the WebAssembly backend, which ships without it (TF.js 4.22): the
// gradient of a Conv2D (and Conv1D, which TF.js runs as a Conv2D) with respect to its
// filter. Built from WASM ops the backend has: for each kernel tap (fh, fw) the strided
// window of the padded input that tap saw, flattened to rows × inChannels, times the output
// gradient (rows × outChannels) — one matMul per tap, as an im2col product split by tap:
//   dW[fh, fw, :, :] = Σ_{n,i,j} x_pad[n, i·sh + fh, j·sw + fw, :]ᵀ · dy[n, i, j, :]
// Padding follows TF.js' own convolution geometry (computeConv2DInfo), like the CPU kernel.
// Dilated convolutions are refused: the WASM forward and input-gradient kernels do not
// support them either.

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
  return tf.tidy(() => {
    const { top, bottom, left, right } = info.padInfo;
    const padded = top || bottom || left || right ? tf.pad(x, [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]]) : x;
    const rows = info.batchSize * info.outHeight * info.outWidth;
    const grad = tf.reshape(dy, [rows, info.outChannels]);
    const taps: tf.Tensor2D[] = [];
    for (let fh = 0; fh < info.filterHeight; fh++) {
      for (let fw = 0; fw < info.filterWidth; fw++) {
        const end = [info.batchSize, fh + info.strideHeight * (info.outHeight - 1) + 1, fw + info.strideWidth * (info.outWidth - 1) + 1, info.inChannels];
        const window = tf.stridedSlice(padded, [0, fh, fw, 0], end, [1, info.strideHeight, info.strideWidth, 1]);
        taps.push(tf.matMul(tf.reshape(window, [rows, info.inChannels]), grad, true, false));
      }
    }
    return tf.reshape(tf.stack(taps), attrs.filterShape);
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
