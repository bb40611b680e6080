// Gradient kernels the WebAssembly backend of TF.js 4.22 lacks, registered for 'wasm' so that
// convolutional and embedding models train there instead of on the 15–30× slower CPU backend.
// Each module holds a kernel's implementation (from existing WASM ops) apart from its
// registration record; kernels.test.ts checks each against the CPU backend's own kernel.

import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise-backprop.js';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.js';

export const WASM_GRADIENT_KERNELS: readonly tf.KernelConfig[] = [conv2dBackpropFilterConfig, depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig, unsortedSegmentSumConfig];

/** Registers the missing kernels for 'wasm' (once; a kernel the backend already has is left alone). */
export function registerWasmGradientKernels(): void {
  for (const config of WASM_GRADIENT_KERNELS) {
    if (!tf.getKernel(config.kernelName, 'wasm')) tf.registerKernel(config);
  }
}
