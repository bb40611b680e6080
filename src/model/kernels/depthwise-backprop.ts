// The gradients of a depthwise convolution (DepthwiseConv2D, and the depthwise half of
// SeparableConv2D) for the WebAssembly backend, which ships without them (TF.js 4.22).
// Built tap by tap from WASM ops. With M = channel multiplier and the output channel
// c·M + m belonging to input channel c:
//   filter: dW[fh, fw, c, m] = Σ_{n,i,j} x_pad[n, i·sh + fh, j·sw + fw, c] · dy[n, i, j, c·M + m]
//   input:  dx_pad[n, i·sh + fh, j·sw + fw, c] += Σ_m dy[n, i, j, c·M + m] · W[fh, fw, c, m]
// The input gradient spreads each tap's contribution back over the strided positions it
// came from: zeros interleaved by a pad-and-reshape, then shifted into place by padding.
// Padding follows TF.js' convolution geometry (computeConv2DInfo), like the CPU kernels.

import * as tf from '@tensorflow/tfjs';
import { backend_util } from '@tensorflow/tfjs-core';

interface DepthwiseAttrs {
  strides: [number, number] | number;
  dilations: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function geometry(inputShape: [number, number, number, number], filterShape: [number, number, number, number], attrs: DepthwiseAttrs): backend_util.Conv2DInfo {
  const dilations = typeof attrs.dilations === 'number' ? [attrs.dilations, attrs.dilations] : attrs.dilations;
  if (dilations.some((d) => d !== 1)) throw new Error('depthwise convolution gradients on wasm: dilations other than 1 are not supported');
  return backend_util.computeConv2DInfo(inputShape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, true, 'channelsLast');
}

export function depthwiseBackpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: DepthwiseAttrs & { filterShape: [number, number, number, number] }): tf.Tensor4D {
  const info = geometry(x.shape, attrs.filterShape, attrs);
  const [, , channels, multiplier] = attrs.filterShape;
  return tf.tidy(() => {
    const { top, bottom, left, right } = info.padInfo;
    const padded = top || bottom || left || right ? tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]]) : x;
    const rows = info.batchSize * info.outHeight * info.outWidth;
    const grad = tf.reshape(dy, [rows, channels, multiplier]);
    const taps: tf.Tensor2D[] = [];
    for (let fh = 0; fh < info.filterHeight; fh++) {
      for (let fw = 0; fw < info.filterWidth; fw++) {
        const end = [info.batchSize, fh + info.strideHeight * (info.outHeight - 1) + 1, fw + info.strideWidth * (info.outWidth - 1) + 1, channels];
        const window = tf.reshape(tf.stridedSlice(padded, [0, fh, fw, 0], end, [1, info.strideHeight, info.strideWidth, 1]), [rows, channels, 1]);
        taps.push(tf.sum(tf.mul(window, grad), 0) as tf.Tensor2D);
      }
    }
    return tf.reshape(tf.stack(taps), attrs.filterShape);
  });
}

export function depthwiseBackpropInput(dy: tf.Tensor4D, filter: tf.Tensor4D, attrs: DepthwiseAttrs & { inputShape: [number, number, number, number] }): tf.Tensor4D {
  const info = geometry(attrs.inputShape, filter.shape, attrs);
  const [, , channels, multiplier] = filter.shape;
  const { strideHeight: sh, strideWidth: sw, outHeight, outWidth, batchSize } = info;
  const { top, bottom, left, right } = info.padInfo;
  const paddedHeight = info.inHeight + top + bottom;
  const paddedWidth = info.inWidth + left + right;
  const spanHeight = sh * (outHeight - 1) + 1;
  const spanWidth = sw * (outWidth - 1) + 1;
  return tf.tidy(() => {
    const grad = tf.reshape(dy, [batchSize, outHeight, outWidth, channels, multiplier]);
    const taps: tf.Tensor4D[] = [];
    for (let fh = 0; fh < info.filterHeight; fh++) {
      for (let fw = 0; fw < info.filterWidth; fw++) {
        const weights = tf.reshape(tf.slice(filter, [fh, fw, 0, 0], [1, 1, channels, multiplier]), [channels, multiplier]);
        let contribution = tf.sum(tf.mul(grad, weights), -1) as tf.Tensor4D; // [N, H', W', C]
        if (sh > 1 || sw > 1) {
          const spread = tf.pad(tf.reshape(contribution, [batchSize, outHeight, 1, outWidth, 1, channels]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
          contribution = tf.slice(tf.reshape(spread, [batchSize, outHeight * sh, outWidth * sw, channels]), [0, 0, 0, 0], [batchSize, spanHeight, spanWidth, channels]) as tf.Tensor4D;
        }
        taps.push(tf.pad(contribution, [[0, 0], [fh, paddedHeight - fh - spanHeight], [fw, paddedWidth - fw - spanWidth], [0, 0]]));
      }
    }
    return tf.slice(tf.addN(taps), [0, top, left, 0], attrs.inputShape);
  });
}

export const depthwiseBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropFilter',
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const { x, dy } = inputs as unknown as { x: tf.Tensor4D; dy: tf.Tensor4D };
    return depthwiseBackpropFilter(x, dy, attrs as unknown as DepthwiseAttrs & { filterShape: [number, number, number, number] }) as unknown as tf.TensorInfo;
  },
};

export const depthwiseBackpropInputConfig: tf.KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropInput',
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const { dy, filter } = inputs as unknown as { dy: tf.Tensor4D; filter: tf.Tensor4D };
    return depthwiseBackpropInput(dy, filter, attrs as unknown as DepthwiseAttrs & { inputShape: [number, number, number, number] }) as unknown as tf.TensorInfo;
  },
};
