// L2 clipping of model updates: the step that bounds one contributor's influence (its
// sensitivity) so that Gaussian noise of a known scale can hide it. Δ is scaled by
// min(1, C/‖Δ‖) (McMahan et al. 2018, arXiv 1710.06963; Abadi et al. 2016, arXiv 1607.00133).
// Norms and products are computed in float64: a float32 running sum over millions of
// coordinates would drift by far more than the 1e-7 that separates ‖Δ‖ from C.

import { ConcordError, ErrorCode } from '../../protocol/errors.js';

export interface ClipInfo {
  /** ‖Δ‖₂ before clipping. */
  norm: number;
  /** min(1, C/‖Δ‖); 1 when Δ = 0. */
  factor: number;
}

export function checkClippingNorm(clippingNorm: number, field = 'clippingNorm'): void {
  if (typeof clippingNorm !== 'number' || !Number.isFinite(clippingNorm) || clippingNorm <= 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} is ${String(clippingNorm)}; expected a finite number > 0`, {
      details: { field, expected: 'finite number > 0', received: clippingNorm },
    });
  }
}

function checkLength(expected: number, received: number, field: string): void {
  if (received !== expected) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `${field} holds ${received} values, expected ${expected}`, {
      details: { field, expected, received },
    });
  }
}

function checkNorm(norm: number, field: string): void {
  // A NaN or infinite update has no finite sensitivity; scaling it cannot make it safe.
  if (!Number.isFinite(norm)) {
    throw new ConcordError(ErrorCode.NON_FINITE, `${field} has L2 norm ${norm}; every value must be a finite number`, {
      details: { field, expected: 'finite values', received: String(norm) },
    });
  }
}

/** ‖v‖₂, accumulated in float64. */
export function l2Norm(v: Float32Array | Float64Array): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  return Math.sqrt(sum);
}

/** ‖local − global‖₂ without materialising the difference. */
export function updateNorm(global: Float32Array, local: Float32Array): number {
  checkLength(global.length, local.length, 'local');
  let sum = 0;
  for (let i = 0; i < global.length; i++) {
    const d = local[i]! - global[i]!;
    sum += d * d;
  }
  return Math.sqrt(sum);
}

/** The scale min(1, C/norm) for a vector of the given norm. */
export function clipFactor(norm: number, clippingNorm: number): number {
  checkClippingNorm(clippingNorm);
  checkNorm(norm, 'norm');
  return norm > clippingNorm ? clippingNorm / norm : 1;
}

/** Scales `v` in place so that ‖v‖₂ ≤ C; returns the norm before and the factor applied. */
export function clipInPlace(v: Float32Array | Float64Array, clippingNorm: number): ClipInfo {
  checkClippingNorm(clippingNorm);
  const norm = l2Norm(v);
  checkNorm(norm, 'update');
  const factor = norm > clippingNorm ? clippingNorm / norm : 1;
  if (factor !== 1) for (let i = 0; i < v.length; i++) v[i] = v[i]! * factor;
  return { norm, factor };
}

/**
 * A clipped copy of `v` (float32, like the input); `v` is left alone. Rounding each scaled
 * value to float32 can leave the copy's norm above C by a relative ~6e-8; the update paths
 * below stay in float64 for that reason.
 */
export function clipVector(v: Float32Array, clippingNorm: number): ClipInfo & { clipped: Float32Array } {
  const clipped = new Float32Array(v);
  return { ...clipInPlace(clipped, clippingNorm), clipped };
}

/**
 * Δ = local − global, clipped to norm C, in float64 (so that the clipped norm is ≤ C up to
 * float64 rounding). `out` receives the clipped delta; it is allocated when not given.
 */
export function clipUpdate(global: Float32Array, local: Float32Array, clippingNorm: number, out?: Float64Array): ClipInfo & { delta: Float64Array } {
  checkClippingNorm(clippingNorm);
  const norm = updateNorm(global, local);
  checkNorm(norm, 'update');
  const factor = norm > clippingNorm ? clippingNorm / norm : 1;
  const delta = out ?? new Float64Array(global.length);
  checkLength(global.length, delta.length, 'out');
  for (let i = 0; i < global.length; i++) delta[i] = (local[i]! - global[i]!) * factor;
  return { norm, factor, delta };
}

/**
 * sum += clip(local − global, C): the accumulation step of DP-FedAvg, with no per-member
 * buffer. Returns the norm and factor of this member's update.
 */
export function accumulateClippedUpdate(sum: Float64Array, global: Float32Array, local: Float32Array, clippingNorm: number, field = 'update'): ClipInfo {
  checkLength(global.length, sum.length, 'sum');
  checkLength(global.length, local.length, field);
  const norm = updateNorm(global, local);
  checkNorm(norm, field);
  const factor = clipFactor(norm, clippingNorm);
  for (let i = 0; i < global.length; i++) sum[i] = sum[i]! + (local[i]! - global[i]!) * factor;
  return { norm, factor };
}
