// Rényi-DP accountant for the Poisson-subsampled Gaussian mechanism (DP-SGD, DP-FedAvg):
// how much (ε, δ) privacy a run spends after T steps with sampling rate q and noise
// multiplier σ, and the reverse question of how much noise a budget needs.
//
// RDP of one step follows Mironov, Talwar & Zhang, "Rényi Differential Privacy of the
// Sampled Gaussian Mechanism" (2019, arXiv:1908.10530, §3.3): integer orders through the
// binomial expansion of A_α, fractional orders through its two convergent series with erfc
// weights. RDP composes additively, so T identical steps cost T times one step (Mironov 2017).
// The conversion to (ε, δ) is Balle et al., "Hypothesis Testing Interpretations and Rényi
// Differential Privacy" (AISTATS 2020, Thm. 21), also Canonne, Kamath & Steinke (2020, Prop. 12):
//   ε = rdp − (log δ + log α)/(α − 1) + log((α − 1)/α),
// minimised over the orders. This is exactly what Opacus's `get_privacy_spent`
// (opacus/accountants/analysis/rdp.py) computes, and what Google's dp_accounting RDP
// accountant uses. The older TF Privacy accountant used Mironov's (2017, Prop. 3)
// ε = rdp − log δ/(α − 1), larger at every order by log α/(α − 1) + log(α/(α − 1)), so its
// published figures (e.g. MNIST, σ = 1.1, 60 epochs → ε = 3.01) come out higher than ours.
// The numerics follow TF Privacy's rdp_accountant.py and Opacus, rewritten; see the notes at
// `logAFractional` for where they deliberately differ.

import { ConcordError, ErrorCode } from '../protocol/errors.js';

/**
 * Opacus's RDPAccountant.DEFAULT_ALPHAS: 1.1, 1.2, …, 10.9, then 12, 13, …, 63.
 * Integral members (2, 3, … 10) are exact doubles, so they take the exact integer path.
 */
export const DEFAULT_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, k) => 1 + (k + 1) / 10),
  ...Array.from({ length: 52 }, (_, k) => 12 + k),
]);

export interface RdpOptions {
  /** Probability that a given record (or member) takes part in one step; in [0, 1]. */
  samplingRate: number;
  /** Noise standard deviation divided by the L2 sensitivity (clipping norm); ≥ 0. */
  noiseMultiplier: number;
  /** Number of mechanism invocations composed; a positive integer. */
  steps: number;
  /** Rényi orders α > 1 at which to evaluate. */
  orders: readonly number[];
}

export interface EpsilonFromRdpOptions {
  orders: readonly number[];
  /** RDP at each order (same length as `orders`); may be Infinity. */
  rdp: readonly number[];
  /** Target δ in (0, 1). */
  delta: number;
}

export interface EpsilonResult {
  /** Smallest ε over the orders (≥ 0; Infinity when every order is infinite). */
  epsilon: number;
  /** The order that attains it (the first order when all are infinite). */
  order: number;
}

export interface ComputeEpsilonOptions {
  samplingRate: number;
  noiseMultiplier: number;
  steps: number;
  delta: number;
  /** Default: DEFAULT_ORDERS. */
  orders?: readonly number[];
}

export interface NoiseForEpsilonOptions {
  samplingRate: number;
  steps: number;
  delta: number;
  /** Target ε > 0. */
  epsilon: number;
  /** Default: DEFAULT_ORDERS. */
  orders?: readonly number[];
  /** Relative width of the final bisection bracket. Default 1e-4. */
  tolerance?: number;
}

/** RDP of `steps` compositions of the subsampled Gaussian mechanism, one value per order. */
export function computeRdp(options: RdpOptions): number[] {
  const { samplingRate: q, noiseMultiplier: sigma, steps, orders } = options;
  checkSamplingRate(q);
  checkNoiseMultiplier(sigma);
  checkSteps(steps);
  checkOrders(orders);
  return orders.map((alpha) => rdpOneStep(q, sigma, alpha) * steps);
}

/** Converts RDP curves to the tightest (ε, δ) the orders allow (Balle et al. 2020). */
export function epsilonFromRdp(options: EpsilonFromRdpOptions): EpsilonResult {
  const { orders, rdp, delta } = options;
  checkOrders(orders);
  checkDelta(delta);
  if (!Array.isArray(rdp) || rdp.length !== orders.length) {
    throw invalid('rdp', `an array with one entry per order (${orders.length})`, Array.isArray(rdp) ? rdp.length : rdp);
  }
  rdp.forEach((r, i) => {
    if (typeof r !== 'number' || Number.isNaN(r) || r < 0) throw invalid(`rdp.${i}`, 'a number ≥ 0 (Infinity allowed)', r);
  });
  let best: EpsilonResult = { epsilon: Infinity, order: orders[0]! };
  for (let i = 0; i < orders.length; i++) {
    const epsilon = epsilonAtOrder(orders[i]!, rdp[i]!, delta);
    if (epsilon < best.epsilon) best = { epsilon, order: orders[i]! };
  }
  // A negative ε carries no meaning (and no extra guarantee); dp_accounting clamps the same way.
  return { epsilon: Math.max(0, best.epsilon), order: best.order };
}

/** (ε, order) spent by `steps` steps at sampling rate q and noise multiplier σ, for a given δ. */
export function computeEpsilon(options: ComputeEpsilonOptions): EpsilonResult {
  const orders = options.orders ?? DEFAULT_ORDERS;
  const rdp = computeRdp({ ...options, orders });
  return epsilonFromRdp({ orders, rdp, delta: options.delta });
}

/**
 * The smallest noise multiplier whose ε after `steps` steps is ≤ the target, to within
 * `tolerance` (relative). The returned σ always meets the target; it errs on the noisy side.
 */
export function noiseForEpsilon(options: NoiseForEpsilonOptions): number {
  const { samplingRate: q, steps, delta, epsilon: target } = options;
  const orders = options.orders ?? DEFAULT_ORDERS;
  const tolerance = options.tolerance ?? 1e-4;
  checkSamplingRate(q);
  checkSteps(steps);
  checkDelta(delta);
  checkOrders(orders);
  if (typeof target !== 'number' || !Number.isFinite(target) || target <= 0) throw invalid('epsilon', 'a finite number > 0', target);
  if (typeof tolerance !== 'number' || !(tolerance > 0 && tolerance < 1)) throw invalid('tolerance', 'a number in (0, 1)', tolerance);
  if (q === 0) return 0; // No one is ever sampled: any noise, even none, spends nothing.

  // As σ → ∞ the RDP vanishes but the conversion keeps a δ- and order-dependent floor; a target
  // at or below it cannot be met by any amount of noise with these orders.
  const floor = epsilonFromRdp({ orders, rdp: orders.map(() => 0), delta }).epsilon;
  if (target <= floor) {
    throw invalid('epsilon', `more than ${floor.toPrecision(4)}, the least ε these orders can certify at δ = ${delta}; add larger orders or raise δ`, target);
  }
  const epsilonAt = (sigma: number): number => computeEpsilon({ samplingRate: q, noiseMultiplier: sigma, steps, delta, orders }).epsilon;

  const maxSigma = 1e6;
  let hi = 1;
  while (epsilonAt(hi) > target) {
    hi *= 2;
    if (hi > maxSigma) {
      throw invalid('epsilon', `a budget reachable with a noise multiplier ≤ ${maxSigma}`, target);
    }
  }
  let lo = hi / 2;
  while (lo > 1e-12 && epsilonAt(lo) <= target) {
    hi = lo;
    lo /= 2;
  }
  // Invariant: ε(hi) ≤ target < ε(lo); ε is non-increasing in σ at every order.
  while (hi - lo > tolerance * hi) {
    const mid = (lo + hi) / 2;
    if (epsilonAt(mid) <= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * log(erfc(x)) without underflow: erfc(x) reaches the smallest double near x ≈ 27, but the
 * fractional-order series needs its logarithm far beyond that. Relative error ~1e-15.
 */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return -Infinity;
  if (x === -Infinity) return Math.LN2;
  // erfc(1) ≈ 0.157, so 1 − erf costs under one digit here, and log1p keeps log erfc(x) ≈ −2x/√π
  // accurate as x → 0.
  if (Math.abs(x) < 1) return Math.log1p(-erfSeries(x));
  if (x > 0) return Math.log(erfcScaled(x)) - x * x;
  // erfc(x) = 2 − erfc(|x|) lies in (1.84, 2): no cancellation worth guarding against.
  return Math.log(2 - erfcScaled(-x) * Math.exp(-x * x));
}

const SQRT_PI = Math.sqrt(Math.PI);

/** erf(x) for |x| < 1: 2/√π · e^{−x²} · Σ 2ⁿ x^{2n+1} / (2n+1)!!, a series of positive terms. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = Math.abs(x);
  let sum = term;
  for (let n = 1; n < 100; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return Math.sign(x) * (2 / SQRT_PI) * Math.exp(-x2) * sum;
}

/**
 * erfcx(x) = exp(x²)·erfc(x) for x ≥ 1 by its continued fraction (Abramowitz & Stegun 7.1.14,
 * even contraction), evaluated with the modified Lentz method; under 100 terms at x = 1:
 * erfcx(x) = 2x/√π · 1/(2x²+1 − 1·2/(2x²+5 − 3·4/(2x²+9 − …))).
 */
function erfcScaled(x: number): number {
  const tiny = 1e-300;
  const x2 = 2 * x * x;
  let f = x2 + 1;
  let c = f;
  let d = 0;
  for (let n = 1; n < 1000; n++) {
    const a = -(2 * n - 1) * (2 * n);
    const b = x2 + 4 * n + 1;
    d = b + a * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + a / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = c * d;
    f *= step;
    if (Math.abs(step - 1) < 1e-16) break;
  }
  return (2 * x) / (SQRT_PI * f);
}

/** RDP of a single step at order α (Mironov, Talwar & Zhang 2019). */
function rdpOneStep(q: number, sigma: number, alpha: number): number {
  if (q === 0) return 0;
  if (sigma === 0) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma);
  const logA = Number.isInteger(alpha) ? logAInteger(q, sigma, alpha) : logAFractional(q, sigma, alpha);
  // A_α ≥ 1 in exact arithmetic; rounding may leave log A a hair below zero.
  return Math.max(0, logA) / (alpha - 1);
}

// Series terms below e^{−36} ≈ 2e-16 are under half an ulp of A_α ≥ 1. TF Privacy stops at e^{−30},
// which leaves ~1e-9 relative error in small RDP values (q = 0.01, α = 1.1); the tail decays
// only polynomially, so going further costs time without changing any double.
const NEGLIGIBLE_LOG_TERM = -36;

/** log A_α = log Σ_k C(α,k) (1−q)^{α−k} q^k exp((k²−k)/(2σ²)) for integer α. */
function logAInteger(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoVar = 2 * sigma * sigma;
  const terms = new Array<number>(alpha + 1);
  let logBinom = 0;
  for (let k = 0; k <= alpha; k++) {
    if (k > 0) logBinom += Math.log(alpha - k + 1) - Math.log(k);
    terms[k] = logBinom + k * logQ + (alpha - k) * log1mQ + (k * k - k) / twoVar;
  }
  return logSumExp(terms, terms.map(() => 1));
}

/**
 * log A_α for fractional α as the sum of two series over the halves (−∞, z0] and [z0, ∞) of
 * the real line, z0 = σ² log(1/q − 1) + 1/2 (Mironov, Talwar & Zhang 2019, §3.3).
 *
 * Unlike TF Privacy / Opacus: (1) we never stop before passing k = α, because for large α and
 * sizeable q their "both terms < e^{−30}" test can fire at k = 0 before the bulk of the
 * binomial mass and return a negative RDP; (2) signed terms are summed once around their
 * maximum rather than by repeated log-space subtraction, which can fail on rounding.
 */
function logAFractional(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoVar = 2 * sigma * sigma;
  const scale = Math.SQRT2 * sigma;
  const z0 = sigma * sigma * (log1mQ - logQ) + 0.5;
  const logHalf = Math.log(0.5);
  const logTerms: number[] = [];
  const signs: number[] = [];
  let logAbsBinom = 0; // log|C(α, k)|, built up as C(α,k) = C(α,k−1)·(α−k+1)/k
  let sign = 1;
  const maxTerms = 200_000;
  for (let k = 0; k < maxTerms; k++) {
    if (k > 0) {
      const factor = alpha - k + 1;
      logAbsBinom += Math.log(Math.abs(factor)) - Math.log(k);
      if (factor < 0) sign = -sign;
    }
    const j = alpha - k;
    const s0 = logAbsBinom + k * logQ + j * log1mQ + (k * k - k) / twoVar + logHalf + logErfc((k - z0) / scale);
    const s1 = logAbsBinom + j * logQ + k * log1mQ + (j * j - j) / twoVar + logHalf + logErfc((z0 - j) / scale);
    logTerms.push(s0, s1);
    signs.push(sign, sign);
    if (k > alpha && Math.max(s0, s1) < NEGLIGIBLE_LOG_TERM) break;
  }
  return logSumExp(logTerms, signs);
}

/** log Σ sign_i·exp(logTerms_i), scaled around the largest term. */
function logSumExp(logTerms: readonly number[], signs: readonly number[]): number {
  let max = -Infinity;
  for (const t of logTerms) if (t > max) max = t;
  if (max === Infinity) return Infinity;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < logTerms.length; i++) sum += signs[i]! * Math.exp(logTerms[i]! - max);
  if (!(sum > 0)) {
    throw new ConcordError(ErrorCode.INTERNAL, 'RDP series summed to a non-positive value; the parameters are outside the numerically supported range', {
      details: { field: 'rdp', received: sum },
    });
  }
  return max + Math.log(sum);
}

function epsilonAtOrder(alpha: number, rdp: number, delta: number): number {
  if (rdp === Infinity) return Infinity;
  return rdp - (Math.log(delta) + Math.log(alpha)) / (alpha - 1) + Math.log1p(-1 / alpha);
}

function invalid(field: string, expected: string, received: unknown): ConcordError {
  return new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} is ${String(received)}; expected ${expected}`, {
    details: { field, expected, received },
  });
}

function checkSamplingRate(q: number): void {
  if (typeof q !== 'number' || !(q >= 0 && q <= 1)) throw invalid('samplingRate', 'a number in [0, 1]', q);
}

function checkNoiseMultiplier(sigma: number): void {
  if (typeof sigma !== 'number' || !Number.isFinite(sigma) || sigma < 0) throw invalid('noiseMultiplier', 'a finite number ≥ 0', sigma);
}

function checkSteps(steps: number): void {
  if (!Number.isInteger(steps) || steps < 1) throw invalid('steps', 'a positive integer', steps);
}

function checkDelta(delta: number): void {
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) throw invalid('delta', 'a number in (0, 1)', delta);
}

function checkOrders(orders: readonly number[]): void {
  if (!Array.isArray(orders) || orders.length === 0) throw invalid('orders', 'a non-empty array of orders > 1', orders);
  orders.forEach((alpha, i) => {
    if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 1) throw invalid(`orders.${i}`, 'a finite number > 1', alpha);
  });
}
