// Slice, SplitV and Unpack for the WebAssembly backend, replacing TF.js 4.22's own: each of
// those reads its input with readSync, which copies the whole tensor out of the module's
// memory, for every slice. Unpacking an LSTM's 100 time steps copied the sequence 100 times
// (17 ms of a 130 ms step), and a CNN's convolution-gradient slice took 3.5 ms. These copy
// only the slice, from a view of the module's memory, one contiguous run at a time.

import * as tf from '@tensorflow/tfjs';
import { backend_util, slice_util, util } from '@tensorflow/tfjs-core';
import { fallBack } from './fallback.js';
import type { HeapBackend } from './heap.js';

/**
 * Copies x[begin : begin + size] (row-major, any rank) into `out`. The trailing dimensions
 * the slice takes whole, with the first one it does not, form one contiguous run.
 */
export function copySlice(x: backend_util.TypedArray, shape: readonly number[], begin: readonly number[], size: readonly number[], out: backend_util.TypedArray): void {
  const rank = shape.length;
  if (rank === 0) {
    out[0] = x[0]!;
    return;
  }
  const strides = [...util.computeStrides([...shape]), 1];
  // The run: dims from `inner` on are contiguous in x.
  let inner = rank - 1;
  while (inner > 0 && size[inner] === shape[inner]) inner--;
  const run = size.slice(inner).reduce((a, b) => a * b, 1);
  if (run === 0) return;
  const outer = size.slice(0, inner);
  const count = outer.reduce((a, b) => a * b, 1);
  const index = new Array<number>(inner).fill(0);
  let from = begin.reduce((s, b, d) => s + b * strides[d]!, 0);
  for (let k = 0, to = 0; k < count; k++, to += run) {
    out.set(x.subarray(from, from + run), to);
    // The next outer index, odometer-style, moving `from` by the strides.
    for (let d = inner - 1; d >= 0; d--) {
      if (++index[d]! < outer[d]!) {
        from += strides[d]!;
        break;
      }
      from -= (outer[d]! - 1) * strides[d]!;
      index[d] = 0;
    }
  }
}

function sliceOf(backend: HeapBackend, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  // Views after the output exists: allocating may grow the memory, which detaches earlier views.
  copySlice(backend.typedArrayFromHeap(x), x.shape, begin, size, backend.typedArrayFromHeap(out));
  return out;
}

/** Falls back to the backend's kernel for strings (they live outside the module's memory). */
function replacing(name: string, original: tf.KernelConfig | undefined, run: (args: { x: tf.TensorInfo; attrs: Record<string, unknown>; backend: HeapBackend }) => tf.TensorInfo | tf.TensorInfo[]): tf.KernelConfig {
  return {
    kernelName: name,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const inputs = args.inputs as unknown as Record<string, tf.TensorInfo>;
      const x = inputs.x ?? inputs.value!;
      if (x.dtype === 'string') return fallBack(original, args, `${name} on wasm of strings`);
      return run({ x, attrs: args.attrs as unknown as Record<string, unknown>, backend: args.backend as unknown as HeapBackend });
    },
  };
}

export function sliceConfig(original: tf.KernelConfig | undefined): tf.KernelConfig {
  return replacing('Slice', original, ({ x, attrs, backend }) => {
    const [begin, size] = slice_util.parseSliceParams(x as tf.Tensor, attrs.begin as number[], attrs.size as number[]) as [number[], number[]];
    return sliceOf(backend, x, begin, size);
  });
}

export function splitVConfig(original: tf.KernelConfig | undefined): tf.KernelConfig {
  return replacing('SplitV', original, ({ x, attrs, backend }) => {
    const axis = util.parseAxisParam(attrs.axis as number, x.shape)[0]!;
    const sizes = backend_util.prepareSplitSize(x as tf.Tensor, attrs.numOrSizeSplits as number[] | number, axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[axis] = s;
      const part = sliceOf(backend, x, [...begin], size);
      begin[axis]! += s;
      return part;
    });
  });
}

export function unpackConfig(original: tf.KernelConfig | undefined): tf.KernelConfig {
  return replacing('Unpack', original, ({ x, attrs, backend }) => {
    const axis = (attrs.axis as number) < 0 ? (attrs.axis as number) + x.shape.length : (attrs.axis as number);
    const outShape = x.shape.filter((_, i) => i !== axis);
    const size = [...x.shape];
    size[axis] = 1;
    return Array.from({ length: x.shape[axis]! }, (_, i) => {
      const begin = new Array<number>(x.shape.length).fill(0);
      begin[axis] = i;
      const part = sliceOf(backend, x, begin, size);
      return { ...part, shape: outShape };
    });
  });
}
