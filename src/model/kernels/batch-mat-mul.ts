// BatchMatMul for the WebAssembly backend with transposed operands: TF.js 4.22's WASM kernel
// multiplies untransposed operands fast (XNNPACK) but takes a slow path for transposeA or
// transposeB — and every Dense and attention gradient asks for one. Transposing the operand
// first (a native, memory-bound op) and multiplying untransposed made a transformer's
// training step several times faster. Untransposed calls go straight to the original kernel.

import * as tf from '@tensorflow/tfjs';

/** The permutation that swaps the last two axes. */
function swapLast(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  return perm;
}

export function batchMatMulConfig(original: tf.KernelConfig | undefined): tf.KernelConfig {
  return {
    kernelName: 'BatchMatMul',
    backendName: 'wasm',
    kernelFunc: (args) => {
      if (!original) throw new Error('BatchMatMul on wasm: the backend has no kernel to build on');
      const { a, b } = args.inputs as unknown as { a: tf.Tensor; b: tf.Tensor };
      const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
      if (!transposeA && !transposeB) return original.kernelFunc(args);
      const at = transposeA ? tf.transpose(a, swapLast(a.rank)) : a;
      const bt = transposeB ? tf.transpose(b, swapLast(b.rank)) : b;
      try {
        return original.kernelFunc({ ...args, inputs: { a: at, b: bt }, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
      } finally {
        if (at !== a) at.dispose();
        if (bt !== b) bt.dispose();
      }
    },
  };
}
