// Server-side optimizer steps that treat the averaged update as a pseudo-gradient.
//
// FedAvgM, Hsu et al. 2019 (arXiv 1909.06335), in the PyTorch SGD-momentum convention:
//   Δ = θ_t − avg;  v ← βv + Δ;  θ_{t+1} = θ_t − η v.
// FedAdagrad / FedAdam / FedYogi, Reddi et al. 2021 (arXiv 2003.00295), Algorithm 2:
//   Δ_t = avg − θ_t;  m_t = β1 m + (1−β1) Δ_t;
//   v_t = v + Δ²                             (Adagrad)
//       = β2 v + (1−β2) Δ²                   (Adam)
//       = v − (1−β2) Δ² sign(v − Δ²)         (Yogi)
//   θ_{t+1} = θ_t + η m_t / (√v_t + τ).
// No bias correction, as in the paper. Each element is computed in float64 and the state
// (v, m) is stored as float32, so a checkpointed state resumes bit for bit.

import { ConcordError, ErrorCode } from '../protocol/errors.js';

function checkLengths(theta: Float32Array, vectors: Record<string, Float32Array | undefined>): void {
  for (const [field, v] of Object.entries(vectors)) {
    if (v !== undefined && v.length !== theta.length) {
      throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `${field} holds ${v.length} values but the model holds ${theta.length}`, {
        details: { field, expected: theta.length, received: v.length },
      });
    }
  }
}

export interface MomentumOptions {
  /** η, the server learning rate. */
  serverLearningRate: number;
  /** β, the momentum factor. */
  momentum: number;
}

/** One FedAvgM step. Updates `velocity` in place and returns θ_{t+1} (in `out` if given; it may be `theta`). */
export function serverMomentumStep(
  theta: Float32Array,
  average: Float32Array,
  velocity: Float32Array,
  options: MomentumOptions,
  out: Float32Array = new Float32Array(theta.length),
): Float32Array {
  checkLengths(theta, { average, velocity, out });
  const { serverLearningRate: eta, momentum: beta } = options;
  for (let i = 0; i < theta.length; i++) {
    const t = theta[i]!;
    const v = beta * velocity[i]! + (t - average[i]!);
    velocity[i] = v;
    out[i] = t - eta * v;
  }
  return out;
}

export type AdaptiveRule = 'adagrad' | 'adam' | 'yogi';

export interface AdaptiveOptions {
  /** η, the server learning rate. */
  eta: number;
  /** β1, decay of the first moment m. */
  beta1: number;
  /** β2, decay of the second moment v (unused by Adagrad). */
  beta2: number;
  /** τ, the adaptivity floor added to √v. */
  tau: number;
}

/** One FedOpt step. Updates `m` and `v` in place and returns θ_{t+1} (in `out` if given; it may be `theta`). */
export function adaptiveServerStep(
  rule: AdaptiveRule,
  theta: Float32Array,
  average: Float32Array,
  m: Float32Array,
  v: Float32Array,
  options: AdaptiveOptions,
  out: Float32Array = new Float32Array(theta.length),
): Float32Array {
  checkLengths(theta, { average, m, v, out });
  const { eta, beta1, beta2, tau } = options;
  for (let i = 0; i < theta.length; i++) {
    const t = theta[i]!;
    const delta = average[i]! - t;
    const d2 = delta * delta;
    const mi = beta1 * m[i]! + (1 - beta1) * delta;
    const prev = v[i]!;
    const vi = rule === 'adagrad' ? prev + d2 : rule === 'adam' ? beta2 * prev + (1 - beta2) * d2 : prev - (1 - beta2) * d2 * Math.sign(prev - d2);
    m[i] = mi;
    v[i] = vi;
    // Read back the stored float32 moments so that this step equals a step resumed from a checkpoint.
    out[i] = t + (eta * m[i]!) / (Math.sqrt(v[i]!) + tau);
  }
  return out;
}
