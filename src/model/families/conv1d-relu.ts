// A Conv1D layer with ReLU as one differentiable op whose backward pass skips what is zero.
// In a text classifier the convolution is followed by global max pooling: of its
// batch × positions × filters outputs only one position per (example, filter) receives a
// gradient, and ReLU zeroes some of those (0.5 % of the entries for the bench's 196
// positions). TF.js (as PyTorch) computes both gradients as dense convolutions anyway,
// 2 × 128 MFLOP for the bench's model, most of a training step on WASM's 128-bit SIMD;
// summed over the nonzero entries alone they are 2 × 0.3 MFLOP. When the gradient is
// dense (no pooling after the layer, say) the op takes TF.js' convolution kernels instead,
// so it is never slower than the layer it replaces by more than one scan of the gradient.
//
// Global max pooling says where its gradient is nonzero (gradient-hints.ts), which spares
// the scan. The forward pass is TF.js' fused convolution with bias and ReLU. The op covers stride s,
// dilation 1, 'valid' or 'same' padding, channels last: the layer's other configurations
// keep TF.js' path (fused-layers.ts).

import * as tf from '@tensorflow/tfjs';
import { hostView } from '../kernels/heap.js';
import type { FusedCall } from './fused-layers.js';
import { nonzerosOf } from './gradient-hints.js';

/** Above this share of nonzero entries the dense kernels are faster than the scalar loops. */
const SPARSE_SHARE = 0.05;

interface Geometry { stride: number; padding: 'valid' | 'same' }

/** Output length and left padding, as TF computes them. */
function outputGeometry(width: number, kernel: number, { stride, padding }: Geometry): { positions: number; left: number } {
  if (padding === 'valid') return { positions: Math.ceil((width - kernel + 1) / stride), left: 0 };
  const positions = Math.ceil(width / stride);
  return { positions, left: Math.floor(Math.max((positions - 1) * stride + kernel - width, 0) / 2) };
}

/** relu(conv1d(x, kernel) + bias) over x [batch, width, channels], kernel [K, channels, filters]. */
export function conv1dRelu(x: tf.Tensor3D, kernel: tf.Tensor3D, bias: tf.Tensor1D, geometry: Geometry): tf.Tensor3D {
  return tf.customGrad(((xs: tf.Tensor3D, w: tf.Tensor3D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const [B, W, E] = xs.shape;
    const [K, , F] = w.shape;
    const x4 = tf.reshape(xs, [B, 1, W, E]) as tf.Tensor4D;
    const w4 = tf.reshape(w, [1, K, E, F]) as tf.Tensor4D;
    // The kernel itself: tf.fused.conv2d splits into three kernels while a gradient is taped.
    const y4 = tf.engine().runKernel('FusedConv2D', { x: x4, filter: w4, bias: b }, { strides: [1, geometry.stride], pad: geometry.padding, dataFormat: 'NHWC', dilations: [1, 1], activation: 'relu' }) as tf.Tensor4D;
    const value = tf.reshape(y4, [B, y4.shape[2], F]) as tf.Tensor3D;
    save([xs, w, value]);
    const gradFunc = (dy: tf.Tensor3D, saved: tf.Tensor[]): tf.Tensor[] => {
      const [input, filter, output] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
      const dyValues = hostView(dy);
      const active = hostView(output);
      const limit = Math.floor(SPARSE_SHARE * dyValues.length);
      // Where dy can be nonzero: said by the op that made it (global max pooling), or found.
      const candidates = nonzerosOf(dy);
      const entries = new Int32Array(limit + 1);
      const gradients = new Float32Array(limit + 1);
      let count = 0;
      const n = candidates ? candidates.length : dyValues.length;
      for (let i = 0; i < n && count <= limit; i++) {
        const k = candidates ? candidates[i]! : i;
        if (dyValues[k] !== 0 && active[k]! > 0) {
          entries[count] = k;
          gradients[count++] = dyValues[k]!;
        }
      }
      return count > limit ? denseGradients(dy, input, filter, output, geometry) : sparseGradients(entries.subarray(0, count), gradients, input, filter, geometry);
    };
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0])(x, kernel, bias) as tf.Tensor3D;
}

/** Both gradients summed over the entries of dy that are nonzero where the ReLU is active (given with their values). */
function sparseGradients(entries: Int32Array, dy: Float32Array, input: tf.Tensor3D, filter: tf.Tensor3D, geometry: Geometry): tf.Tensor[] {
  const [B, W, E] = input.shape;
  const [K, , F] = filter.shape;
  const KE = K * E;
  const { positions, left } = outputGeometry(W, K, geometry);
  const x = hostView(input);
  const w = hostView(filter);
  // The filter as [F, K·E]: an output's window of the input and its filter's taps are then
  // both contiguous runs (the input's K rows of E channels follow each other).
  const wT = new Float32Array(F * KE);
  for (let r = 0; r < KE; r++) for (let f = 0; f < F; f++) wT[f * KE + r] = w[r * F + f]!;
  const dx = new Float32Array(B * W * E);
  const dwT = new Float32Array(F * KE);
  const db = new Float32Array(F);
  for (let n = 0; n < entries.length; n++) {
    const entry = entries[n]!;
    const g = dy[n]!;
    const f = entry % F;
    const p = Math.floor(entry / F) % positions;
    const b = Math.floor(entry / (F * positions));
    db[f] = db[f]! + g;
    // Taps k in [from, to) land inside the input (the rest fall on padding).
    const start = p * geometry.stride - left;
    const from = Math.max(0, -start) * E;
    const to = Math.min(K, W - start) * E;
    const xAt = (b * W + start) * E;
    const fAt = f * KE;
    for (let r = from; r < to; r++) {
      dwT[fAt + r] = dwT[fAt + r]! + g * x[xAt + r]!;
      dx[xAt + r] = dx[xAt + r]! + g * wT[fAt + r]!;
    }
  }
  const dw = new Float32Array(KE * F);
  for (let r = 0; r < KE; r++) for (let f = 0; f < F; f++) dw[r * F + f] = dwT[f * KE + r]!;
  return [tf.tensor3d(dx, [B, W, E]), tf.tensor3d(dw, [K, E, F]), tf.tensor1d(db)];
}

/** Both gradients as TF.js computes them: the backward convolutions over the whole of dy. */
function denseGradients(dy: tf.Tensor3D, input: tf.Tensor3D, filter: tf.Tensor3D, output: tf.Tensor3D, geometry: Geometry): tf.Tensor[] {
  return tf.tidy(() => {
    const [B, W, E] = input.shape;
    const [K, , F] = filter.shape;
    const dz = tf.mul(dy, tf.step(output));
    const dz4 = tf.reshape(dz, [B, 1, dz.shape[1]!, F]) as tf.Tensor4D;
    const dx = tf.conv2dTranspose(dz4, tf.reshape(filter, [1, K, E, F]) as tf.Tensor4D, [B, 1, W, E], [1, geometry.stride], geometry.padding);
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.reshape(input, [B, 1, W, E]), dy: dz4 }, { strides: [1, geometry.stride], pad: geometry.padding, dataFormat: 'NHWC', filterShape: [1, K, E, F] }) as tf.Tensor;
    return [tf.reshape(dx, [B, W, E]), tf.reshape(dw, [K, E, F]), tf.sum(dz, [0, 1])];
  });
}

interface Conv1DLayer {
  kernel: { read(): tf.Tensor };
  bias: { read(): tf.Tensor } | null;
  getConfig(): tf.serialization.ConfigDict;
}

const one = (value: unknown): boolean => value === 1 || (Array.isArray(value) && value.length === 1 && value[0] === 1);

/** The fused call of a Conv1D layer (fused-layers.ts): ReLU, a bias, dilation 1, channels last, 'valid' or 'same'. */
export const fusedConv1dCall: FusedCall = (layer) => {
  const conv = layer as unknown as Conv1DLayer;
  const config = conv.getConfig();
  const strides = config['strides'];
  const stride = typeof strides === 'number' ? strides : Array.isArray(strides) && strides.length === 1 ? (strides[0] as number) : NaN;
  const padding = config['padding'];
  const fusable = config['activation'] === 'relu' && config['useBias'] === true && one(config['dilationRate']) && (config['dataFormat'] ?? 'channelsLast') === 'channelsLast'
    && (padding === 'valid' || padding === 'same') && Number.isInteger(stride) && stride >= 1;
  if (!fusable) return undefined;
  const geometry: Geometry = { stride, padding };
  return (x) => (x.rank !== 3 ? undefined : conv1dRelu(x as tf.Tensor3D, conv.kernel.read() as tf.Tensor3D, conv.bias!.read() as tf.Tensor1D, geometry));
};
