// Seeded initial weights for every family, from the weight manifest alone: each tensor's
// role is the last part of its name, and every party draws the same values from Concord's
// own seeded generator (not TF.js internals), so a run's round 0 is the same everywhere.
// Kernels (dense, convolutional, recurrent, attention) are Glorot-uniform (Glorot & Bengio
// 2010), U(−l, l) with l = √(6 / (fanIn + fanOut)); embeddings U(−0.05, 0.05) as Keras
// does; biases, shifts and moving means zero; scales and moving variances one. The i-th
// random tensor of a manifest draws from stream i, so adding a bias never moves a kernel.

import { seededRandom, type Random } from '../../core/random.js';
import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import { type Parameters, type TensorSpec, sizeOf } from '../../protocol/tensors.js';

const GLOROT = new Set(['kernel', 'recurrent_kernel', 'depthwise_kernel', 'pointwise_kernel']);
const ZEROS = new Set(['bias', 'beta', 'moving_mean']);
const ONES = new Set(['gamma', 'moving_variance']);

/** Fan-in and fan-out of a kernel [..receptive field.., in, out]. */
function fans(shape: readonly number[]): [number, number] {
  if (shape.length < 2) return [shape[0] ?? 1, shape[0] ?? 1];
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return [receptive * shape[shape.length - 2]!, receptive * shape[shape.length - 1]!];
}

export function glorotUniform(fanIn: number, fanOut: number, count: number, random: Random): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const values = new Float32Array(count);
  for (let i = 0; i < values.length; i++) values[i] = (2 * random() - 1) * limit;
  return values;
}

export function initialWeights(specs: readonly TensorSpec[], seed: number): Parameters {
  const data = new Float32Array(specs.reduce((s, t) => s + sizeOf(t.shape), 0));
  let offset = 0;
  let stream = 0;
  for (const spec of specs) {
    const n = sizeOf(spec.shape);
    const role = spec.name.slice(spec.name.lastIndexOf('/') + 1);
    if (GLOROT.has(role)) {
      const [fanIn, fanOut] = fans(spec.shape);
      data.set(glorotUniform(fanIn, fanOut, n, seededRandom(seed, 0x6106, stream++)), offset);
    } else if (role === 'embeddings') {
      const random = seededRandom(seed, 0x6106, stream++);
      for (let i = 0; i < n; i++) data[offset + i] = (2 * random() - 1) * 0.05;
    } else if (ONES.has(role)) {
      data.fill(1, offset, offset + n);
    } else if (!ZEROS.has(role)) {
      throw new ConcordError(ErrorCode.INTERNAL, `no initializer for weight ${spec.name} (role "${role}")`, { details: { field: spec.name } });
    }
    offset += n;
  }
  return { specs: specs.map((s) => ({ name: s.name, shape: [...s.shape] })), data };
}
