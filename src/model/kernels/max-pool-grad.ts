// MaxPoolGrad for the WebAssembly backend, replacing TF.js 4.22's own, which took a quarter
// of a small CNN's training step (6.7 ms of 25 for two 2×2 pools of a batch of 32). One pass
// over the pooling windows in JavaScript, on the backend's memory: each window's dy goes to
// the first position holding its maximum (row-major within the window, as the CPU kernel's
// maxPoolPositions picks it), so ties and padding behave as they do there.

import * as tf from '@tensorflow/tfjs';
import { backend_util } from '@tensorflow/tfjs-core';
import { fallBack } from './fallback.js';
import type { HeapBackend } from './heap.js';

export interface MaxPoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** dx for x [N, H, W, C] pooled with `info` into dy [N, outH, outW, C]; dx must be zeroed. */
export function maxPoolGradInto(x: Float32Array, dy: Float32Array, dx: Float32Array, info: backend_util.Conv2DInfo): void {
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  const rowStride = inWidth * C;
  const imageStride = inHeight * rowStride;
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    const image = b * imageStride;
    for (let yr = 0; yr < outHeight; yr++) {
      const r0 = yr * strideHeight - top;
      const rFrom = r0 > 0 ? r0 : 0;
      const rTo = r0 + filterHeight < inHeight ? r0 + filterHeight : inHeight;
      for (let yc = 0; yc < outWidth; yc++) {
        const c0 = yc * strideWidth - left;
        const cFrom = c0 > 0 ? c0 : 0;
        const cTo = c0 + filterWidth < inWidth ? c0 + filterWidth : inWidth;
        const corner = image + rFrom * rowStride + cFrom * C;
        for (let d = 0; d < C; d++, o++) {
          let best = -Infinity;
          let at = -1;
          for (let r = rFrom, row = corner + d; r < rTo; r++, row += rowStride) {
            for (let c = cFrom, i = row; c < cTo; c++, i += C) {
              const v = x[i]!;
              if (v > best) {
                best = v;
                at = i;
              }
            }
          }
          if (at >= 0) dx[at] = dx[at]! + dy[o]!;
        }
      }
    }
  }
}

/** The replacement, falling back to the backend's own kernel for dilated pools and other dtypes. */
export function maxPoolGradConfig(original: tf.KernelConfig | undefined): tf.KernelConfig {
  return {
    kernelName: 'MaxPoolGrad',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { dy, input } = args.inputs as unknown as { dy: tf.TensorInfo; input: tf.TensorInfo };
      const attrs = args.attrs as unknown as MaxPoolGradAttrs;
      const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
      if (input.dtype !== 'float32' || info.dilationHeight !== 1 || info.dilationWidth !== 1) {
        return fallBack(original, args, `MaxPoolGrad on wasm of dtype ${input.dtype}, dilation ${info.dilationHeight}×${info.dilationWidth}`);
      }
      const backend = args.backend as unknown as HeapBackend;
      // The output first: allocating may grow the module's memory, which detaches earlier views.
      const dx = backend.makeOutput([...input.shape], 'float32');
      const out = backend.typedArrayFromHeap(dx) as Float32Array;
      out.fill(0);
      maxPoolGradInto(backend.typedArrayFromHeap(input) as Float32Array, backend.typedArrayFromHeap(dy) as Float32Array, out, info);
      return dx;
    },
  };
}
