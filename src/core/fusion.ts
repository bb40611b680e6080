// One-shot model fusion: θ = Σ_k λ_k θ_k over models trained apart with the same
// architecture (two parties: θ = λθ_A + (1−λ)θ_B). Used to merge independently trained
// models without further federated rounds, e.g. weight interpolation as in Wortsman et al.
// 2022, "Model soups" (arXiv 2203.05482).

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { type Parameters, assertFinite, assertSameSpecs, makeParameters } from '../protocol/tensors.js';
import { weightedSum } from './aggregate.js';

export interface FusionOptions {
  /** Divide the λ by their sum instead of requiring them to sum to 1. Default false. */
  normalize?: boolean;
  /** How far Σλ may be from 1 when `normalize` is off. Default 1e-6. */
  tolerance?: number;
}

/**
 * θ = Σ_k λ_k θ_k. Every model must have the specs of the first and finite values. The λ must
 * be finite and sum to 1 (within `tolerance`) unless `normalize` is set; a λ may be negative
 * (extrapolation) as long as the sum condition holds.
 */
export function fuseParameters(models: readonly Parameters[], lambdas: readonly number[], options: FusionOptions = {}): Parameters {
  const { normalize = false, tolerance = 1e-6 } = options;
  if (models.length === 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'fusion needs at least one model', { details: { field: 'models', expected: '>= 1 model', received: 0 } });
  }
  if (lambdas.length !== models.length) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${models.length} models need ${models.length} lambdas, received ${lambdas.length}`, {
      details: { field: 'lambdas', expected: models.length, received: lambdas.length },
    });
  }
  const first = models[0]!;
  models.forEach((m, k) => {
    assertSameSpecs(first.specs, m.specs, `models[${k}].tensors`);
    assertFinite(m, `models[${k}].tensors`);
  });
  let total = 0;
  lambdas.forEach((l, k) => {
    if (!Number.isFinite(l)) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `lambdas[${k}] is ${l}; every lambda must be a finite number`, {
        details: { field: `lambdas[${k}]`, expected: 'finite number', received: String(l) },
      });
    }
    total += l;
  });
  let weights = [...lambdas];
  if (normalize) {
    if (total === 0) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'the lambdas sum to 0, so they cannot be normalized', {
        details: { field: 'lambdas', expected: 'non-zero sum', received: total },
      });
    }
    weights = weights.map((l) => l / total);
  } else if (Math.abs(total - 1) > tolerance) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `the lambdas sum to ${total}; they must sum to 1 (within ${tolerance}), or pass { normalize: true }`, {
      details: { field: 'lambdas', expected: `sum = 1 ± ${tolerance}`, received: total },
    });
  }
  const data = weightedSum(models.map((m, k) => ({ data: m.data, weight: weights[k]! })));
  return makeParameters(first.specs, data);
}

/** Two-party fusion θ = λθ_A + (1−λ)θ_B. */
export function interpolateParameters(a: Parameters, b: Parameters, lambda: number): Parameters {
  return fuseParameters([a, b], [lambda, 1 - lambda]);
}
