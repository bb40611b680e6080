// Gradient kernels the WebAssembly backend of TF.js 4.22 lacks, registered for 'wasm' so that
// convolutional and embedding models train there instead of on the 15–30× slower CPU backend,
// and ones it has but runs slowly (Conv2DBackpropInput, Tile, transposed BatchMatMul, row GatherV2, MaxPoolGrad, Slice, SplitV, Unpack), replaced. Each module holds
// a kernel's implementation (from existing WASM ops) apart from its registration record;
// kernels.test.ts checks each against the CPU backend's own kernel. The gradients of Max and
// Tile are replaced too, for every backend (max-gradient.ts, tile-gradient.ts): theirs ran
// as hundreds of slow small ops on WASM.

import * as tf from '@tensorflow/tfjs';
import { batchMatMulConfig } from './batch-mat-mul.js';
import { conv2dBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { conv2dBackpropInputConfig } from './conv2d-backprop-input.js';
import { gatherConfig } from './gather.js';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise-backprop.js';
import { maxGradientConfig } from './max-gradient.js';
import { maxPoolGradConfig } from './max-pool-grad.js';
import { sliceConfig, splitVConfig, unpackConfig } from './slice.js';
import { tileGradientConfig } from './tile-gradient.js';
import { tileConfig } from './tile.js';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.js';

export const WASM_GRADIENT_KERNELS: readonly tf.KernelConfig[] = [conv2dBackpropFilterConfig, depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig, unsortedSegmentSumConfig];
/** Kernels the backend has, replaced by faster ones (each given the original, to fall back on). */
const WASM_REPLACEMENTS: readonly ((original: tf.KernelConfig | undefined) => tf.KernelConfig)[] = [() => conv2dBackpropInputConfig, tileConfig, batchMatMulConfig, gatherConfig, maxPoolGradConfig, sliceConfig, splitVConfig, unpackConfig];

let registered = false;

/** Registers the missing kernels for 'wasm' and replaces the slow ones (once per process). */
export function registerWasmGradientKernels(): void {
  if (registered) return;
  registered = true;
  for (const config of WASM_GRADIENT_KERNELS) {
    if (!tf.getKernel(config.kernelName, 'wasm')) tf.registerKernel(config);
  }
  for (const replacement of WASM_REPLACEMENTS) {
    const name = replacement(undefined).kernelName;
    const original = tf.getKernel(name, 'wasm');
    if (original) tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(replacement(original));
  }
  tf.registerGradient(maxGradientConfig);
  tf.registerGradient(tileGradientConfig);
}
