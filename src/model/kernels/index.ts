// Gradient kernels the WebAssembly backend of TF.js 4.22 lacks, registered for 'wasm' so that
// convolutional and embedding models train there instead of on the 15–30× slower CPU backend,
// and one it has but runs as a slow loop (Conv2DBackpropInput), replaced. Each module holds
// a kernel's implementation (from existing WASM ops) apart from its registration record;
// kernels.test.ts checks each against the CPU backend's own kernel. Max's gradient is
// replaced too (max-gradient.ts), for every backend, as its own avoids WASM's slow Equal.

import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { conv2dBackpropInputConfig } from './conv2d-backprop-input.js';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise-backprop.js';
import { maxGradientConfig } from './max-gradient.js';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.js';

export const WASM_GRADIENT_KERNELS: readonly tf.KernelConfig[] = [conv2dBackpropFilterConfig, depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig, unsortedSegmentSumConfig];
/** Kernels the backend has, replaced by faster ones. */
const WASM_REPLACEMENTS: readonly tf.KernelConfig[] = [conv2dBackpropInputConfig];

let registered = false;

/** Registers the missing kernels for 'wasm' and replaces the slow ones (once per process). */
export function registerWasmGradientKernels(): void {
  if (registered) return;
  registered = true;
  for (const config of WASM_GRADIENT_KERNELS) {
    if (!tf.getKernel(config.kernelName, 'wasm')) tf.registerKernel(config);
  }
  for (const config of WASM_REPLACEMENTS) {
    if (tf.getKernel(config.kernelName, 'wasm')) tf.unregisterKernel(config.kernelName, 'wasm');
    tf.registerKernel(config);
  }
  tf.registerGradient(maxGradientConfig);
}
