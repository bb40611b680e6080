// A replacement kernel handles the common cases itself and hands the rest to the kernel it
// replaced (index.ts passes it in); without one, the case is refused, naming it.

import type * as tf from '@tensorflow/tfjs';

export function fallBack(original: tf.KernelConfig | undefined, args: Parameters<tf.KernelFunc>[0], unsupported: string): tf.TensorInfo | tf.TensorInfo[] {
  if (!original) throw new Error(`${unsupported}: the WASM backend has no kernel of its own to fall back on`);
  return original.kernelFunc(args);
}
