// Sample-level DP (DP-SGD, Abadi et al. 2016, "Deep Learning with Differential Privacy",
// arXiv 1607.00133), the math only: clip each example's gradient to L2 norm C, sum, add
// N(0, (zC)²) per coordinate, divide by the lot size L. The trainer supplies per-example
// gradients and applies the result; the RDP accountant (../rdp.ts) with q = L/N and the
// number of steps gives the privacy spent.
//
// L is the *expected* lot size when lots are Poisson-sampled: dividing by the realised
// batch size would make the divisor depend on who was sampled, outside what the accountant
// covers. An empty Poisson lot must still release noise (skipping it reveals that no one was
// drawn), hence `dimension`.

import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import type { Random } from '../../core/random.js';
import { accumulateClippedUpdate, checkClippingNorm } from './clip.js';
import { addGaussianNoise, secureRandom } from './gaussian.js';

export interface PrivatizeBatchOptions {
  /** C, the per-example L2 clipping norm. */
  clippingNorm: number;
  /** z: the noise on the sum has std zC. */
  noiseMultiplier: number;
  /** L, the divisor. Default: the number of gradients given (right for fixed-size batches). */
  expectedBatchSize?: number;
  /** Gradient length; needed only for an empty batch. */
  dimension?: number;
  /** Uniform source. Default: the OS CSPRNG. Inject a seeded source in tests only. */
  random?: Random;
}

function invalid(field: string, expected: string, received: unknown): ConcordError {
  return new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} is ${String(received)}; expected ${expected}`, { details: { field, expected, received } });
}

/** (Σ_i clip(g_i, C) + N(0, (zC)² I)) / L: the privatized mean gradient of one lot. */
export function privatizeBatchGradients(perExample: readonly Float32Array[], options: PrivatizeBatchOptions): Float32Array {
  const { clippingNorm, noiseMultiplier } = options;
  checkClippingNorm(clippingNorm);
  if (typeof noiseMultiplier !== 'number' || !Number.isFinite(noiseMultiplier) || noiseMultiplier < 0) throw invalid('noiseMultiplier', 'a finite number >= 0', noiseMultiplier);
  const lot = options.expectedBatchSize ?? perExample.length;
  if (!Number.isFinite(lot) || lot <= 0) throw invalid('expectedBatchSize', 'a number > 0 (or a non-empty batch)', lot);
  const dimension = perExample[0]?.length ?? options.dimension;
  if (dimension === undefined || !Number.isInteger(dimension) || dimension < 0) throw invalid('dimension', 'the gradient length, an integer >= 0, when the batch is empty', dimension);
  if (options.dimension !== undefined && options.dimension !== dimension) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `dimension is ${options.dimension} but the gradients hold ${dimension} values`, {
      details: { field: 'dimension', expected: dimension, received: options.dimension },
    });
  }
  const sum = new Float64Array(dimension);
  const zeros = new Float32Array(dimension);
  perExample.forEach((g, i) => {
    if (!(g instanceof Float32Array) || g.length !== dimension) {
      throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `perExample[${i}] holds ${g?.length} values, expected ${dimension}`, {
        details: { field: `perExample[${i}]`, expected: dimension, received: g?.length },
      });
    }
    accumulateClippedUpdate(sum, zeros, g, clippingNorm, `perExample[${i}]`);
  });
  addGaussianNoise(sum, noiseMultiplier * clippingNorm, options.random ?? secureRandom);
  const out = new Float32Array(dimension);
  for (let i = 0; i < dimension; i++) out[i] = sum[i]! / lot;
  return out;
}
