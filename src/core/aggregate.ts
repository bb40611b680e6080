// Weighted sums and averages of flat parameter vectors: the core of every aggregation
// strategy. FedAvg (McMahan et al. 2017, arXiv 1602.05629) is θ = Σ_k n_k θ_k / Σ_k n_k.
// The arithmetic runs in a WebAssembly SIMD kernel when the engine has one (see
// weighted-sum-kernel.ts) and in plain JavaScript otherwise; both keep the running sum in
// float64 across inputs, so results agree to a few float32 ulps.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { weightedSumScalar, weightedSumSimd } from './weighted-sum-kernel.js';

export interface WeightedInput {
  data: Float32Array;
  weight: number;
}

function checkVectors(inputs: readonly WeightedInput[], out: Float32Array | undefined, field: string): number {
  if (inputs.length === 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} is empty; at least one vector is needed`, {
      details: { field, expected: '>= 1 input', received: 0 },
    });
  }
  const n = inputs[0]!.data.length;
  for (let k = 0; k < inputs.length; k++) {
    const input = inputs[k]!;
    if (!(input.data instanceof Float32Array)) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field}[${k}].data must be a Float32Array`, {
        details: { field: `${field}[${k}].data`, expected: 'Float32Array', received: typeof input.data },
      });
    }
    if (input.data.length !== n) {
      throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `${field}[${k}].data holds ${input.data.length} values, ${field}[0].data holds ${n}; all must have the same length`, {
        details: { field: `${field}[${k}].data`, expected: n, received: input.data.length },
      });
    }
    if (!Number.isFinite(input.weight)) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field}[${k}].weight is ${input.weight}; weights must be finite numbers`, {
        details: { field: `${field}[${k}].weight`, expected: 'finite number', received: String(input.weight) },
      });
    }
  }
  if (out !== undefined && out.length !== n) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `out holds ${out.length} values but the inputs hold ${n}`, {
      details: { field: 'out', expected: n, received: out.length },
    });
  }
  return n;
}

function sum(inputs: readonly WeightedInput[], weights: readonly number[], out: Float32Array): Float32Array {
  const vectors = inputs.map((i) => i.data);
  return weightedSumSimd(vectors, weights, out) ?? weightedSumScalar(vectors, weights, out);
}

/**
 * θ = Σ_k w_k θ_k for any finite weights (negative ones too): the linear combination behind
 * model fusion. `out` may be one of the inputs.
 */
export function weightedSum(inputs: readonly WeightedInput[], out?: Float32Array): Float32Array {
  const n = checkVectors(inputs, out, 'inputs');
  return sum(inputs, inputs.map((i) => i.weight), out ?? new Float32Array(n));
}

/**
 * θ = Σ_k w_k θ_k / Σ_k w_k (FedAvg with w_k = n_k). Weights must be finite and ≥ 0 with a
 * positive sum; a zero weight leaves its vector out. `out` may be one of the inputs.
 */
export function weightedAverage(inputs: readonly WeightedInput[], out?: Float32Array): Float32Array {
  const n = checkVectors(inputs, out, 'inputs');
  let total = 0;
  for (let k = 0; k < inputs.length; k++) {
    const w = inputs[k]!.weight;
    if (w < 0) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `inputs[${k}].weight is ${w}; averaging weights must be >= 0`, {
        details: { field: `inputs[${k}].weight`, expected: '>= 0', received: w },
      });
    }
    total += w;
  }
  if (!(total > 0) || !Number.isFinite(total)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `the weights sum to ${total}; an average needs a positive, finite total weight`, {
      details: { field: 'inputs[].weight', expected: 'sum > 0', received: total },
    });
  }
  return sum(inputs, inputs.map((i) => i.weight / total), out ?? new Float32Array(n));
}
