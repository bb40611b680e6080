// Reference values here were derived independently of rdp.ts:
//  - q = 1: RDP is α/(2σ²) in closed form and ε follows by hand from the conversion formula;
//  - integer orders: A_α summed directly in plain float64 inside the test;
//  - fractional orders and logErfc: mpmath (60 digits) numerical integration of the Rényi
//    divergence of (1−q)N(0,σ²)+qN(1,σ²) from N(0,σ²), i.e. log ∫ N(z;0,σ²)((1−q)+q·e^{(2z−1)/(2σ²)})^α dz / (α−1),
//    and mpmath.log(mpmath.erfc(x)); the script was cross-checked against exact binomial sums at
//    integer orders and is not part of the repository;
//  - published figures from TF Privacy's tutorials/README.md and Opacus's accountants_test.py.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { DEFAULT_ORDERS, computeEpsilon, computeRdp, epsilonFromRdp, logErfc, noiseForEpsilon } from './rdp.js';

function assertClose(actual: number, expected: number, relative: number, what = ''): void {
  const error = Math.abs(actual - expected) / Math.abs(expected);
  assert.ok(error <= relative, `${what} expected ${expected}, got ${actual} (relative error ${error.toExponential(2)})`);
}

/** ε by the pre-2020 conversion, ε = rdp − log δ/(α − 1), which TF Privacy's published figures used. */
function classicEpsilon(orders: readonly number[], rdp: readonly number[], delta: number): number {
  return Math.min(...orders.map((a, i) => rdp[i]! - Math.log(delta) / (a - 1)));
}

function assertInvalid(fn: () => unknown, field: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConcordError, `expected a ConcordError, got ${String(e)}`);
    assert.equal(e.code, ErrorCode.INVALID_ARGUMENT);
    assert.equal(e.details.field, field);
    return true;
  });
}

const MNIST_Q = 256 / 60000;

test('DEFAULT_ORDERS is Opacus’s list: 1.1 … 10.9 by tenths, then 12 … 63', () => {
  assert.equal(DEFAULT_ORDERS.length, 99 + 52);
  assert.equal(DEFAULT_ORDERS[0], 1.1);
  assert.equal(DEFAULT_ORDERS[9], 2);
  assert.equal(DEFAULT_ORDERS[98], 10.9);
  assert.equal(DEFAULT_ORDERS[99], 12);
  assert.equal(DEFAULT_ORDERS[150], 63);
  assert.ok(DEFAULT_ORDERS.filter(Number.isInteger).length === 9 + 52);
});

test('logErfc matches mpmath across the negative, series, continued-fraction and underflow ranges', () => {
  const reference: [number, number][] = [
    [-3, 0.693136135250447],
    [-0.5, 0.41903914777556],
    [0.001, -0.00112901588962135],
    [0.5, -0.735011129837084],
    [1, -1.84960550993325],
    [2.5, -7.80681527272726],
    [10, -102.879889024845],
    [30, -903.974117110644], // erfc(30) ≈ 1e-393 underflows a double
    [100, -10005.1775851227],
  ];
  for (const [x, expected] of reference) assertClose(logErfc(x), expected, 1e-13, `logErfc(${x})`);
  assert.equal(Math.abs(logErfc(0)), 0);
  assert.equal(logErfc(Infinity), -Infinity);
  assert.equal(logErfc(-Infinity), Math.LN2);
});

test('q = 1 is the plain Gaussian mechanism: RDP = T·α/(2σ²) and ε follows by hand', () => {
  const orders = [2, 3.5, 4, 8, 16];
  const rdp = computeRdp({ samplingRate: 1, noiseMultiplier: 2, steps: 10, orders });
  assert.deepEqual(rdp, [2.5, 4.375, 5, 10, 20]);
  // At α = 4: 5 − (log 1e-5 + log 4)/3 + log(3/4) = 5 + 3.375543701 − 0.287682072 = 8.087861629,
  // which beats α = 3.5 (8.0937…) and α = 2 (12.6267…).
  const { epsilon, order } = epsilonFromRdp({ orders, rdp, delta: 1e-5 });
  assert.equal(order, 4);
  assertClose(epsilon, 8.087861629, 1e-9);
});

test('integer orders equal the binomial sum A_α computed directly in float64', () => {
  const directRdp = (q: number, sigma: number, alpha: number): number => {
    let a = 0;
    let binom = 1;
    for (let k = 0; k <= alpha; k++) {
      if (k > 0) binom = (binom * (alpha - k + 1)) / k;
      a += binom * (1 - q) ** (alpha - k) * q ** k * Math.exp((k * k - k) / (2 * sigma * sigma));
    }
    return Math.log(a) / (alpha - 1);
  };
  for (const [q, sigma] of [[0.04, 1.5], [0.3, 2], [0.1, 0.8], [MNIST_Q, 1.1]] as const) {
    const orders = [2, 3, 5, 8, 12, 20];
    const rdp = computeRdp({ samplingRate: q, noiseMultiplier: sigma, steps: 7, orders });
    orders.forEach((alpha, i) => assertClose(rdp[i]!, 7 * directRdp(q, sigma, alpha), 1e-10, `q=${q} σ=${sigma} α=${alpha}`));
  }
});

test('fractional orders match numerical integration of the Rényi divergence', () => {
  const reference: [q: number, sigma: number, alpha: number, rdp: number][] = [
    [0.01, 1.0, 1.5, 0.000127253743327],
    [0.04, 1.5, 2.5, 0.00113280346647],
    [0.04, 1.5, 10.5, 0.00622135427391],
    [MNIST_Q, 1.1, 3.7, 4.38627753651e-5],
    [0.5, 1.0, 1.1, 0.156130475685],
    [0.2, 0.7, 7.3, 5.58408743196],
    [0.99, 1.0, 1.7, 0.837779576983],
    // TF Privacy's loop stops at k = 0 here (both first terms < e^-30) and returns a negative value.
    [0.4, 100, 60.5, 0.000484700978838],
  ];
  for (const [q, sigma, alpha, expected] of reference) {
    const [rdp] = computeRdp({ samplingRate: q, noiseMultiplier: sigma, steps: 1, orders: [alpha] });
    assertClose(rdp!, expected, 1e-8, `q=${q} σ=${sigma} α=${alpha}`);
  }
});

test('special cases: q = 0 spends nothing, σ = 0 spends everything', () => {
  assert.deepEqual(computeRdp({ samplingRate: 0, noiseMultiplier: 1, steps: 100, orders: [1.5, 2, 32] }), [0, 0, 0]);
  assert.deepEqual(computeRdp({ samplingRate: 0.1, noiseMultiplier: 0, steps: 1, orders: [1.5, 2] }), [Infinity, Infinity]);
  const none = computeEpsilon({ samplingRate: 0.1, noiseMultiplier: 0, steps: 1, delta: 1e-5, orders: [1.5, 2] });
  assert.deepEqual(none, { epsilon: Infinity, order: 1.5 });
  assert.equal(noiseForEpsilon({ samplingRate: 0, steps: 10, delta: 1e-5, epsilon: 1 }), 0);
});

test('Opacus accountants_test: q = 0.04, σ = 1.5, 2250 steps, δ = 1e-5 gives ε = 7.32911117143', () => {
  // opacus/tests/accountants_test.py, test_rdp_accountant (DEFAULT_ALPHAS, Balle et al. conversion).
  // The mpmath reference gives 7.32911117148 and best order 3.9; the classic conversion would say 8.0738.
  const { epsilon, order } = computeEpsilon({ samplingRate: 0.04, noiseMultiplier: 1.5, steps: 2250, delta: 1e-5 });
  assertClose(epsilon, 7.32911117143, 1e-9);
  assert.equal(order, 3.9);
});

test('TF Privacy MNIST tutorial figures are reproduced under the classic conversion they used', () => {
  // tensorflow/privacy tutorials/README.md: q = 256/60000, δ = 1e-5, orders = Opacus's defaults
  // (mnist_dpsgd_tutorial.py), steps = epochs·60000//256, ε printed to 3 significant digits with
  // the old ε = rdp − log δ/(α−1). mpmath reference for the same inputs in brackets.
  const cases: [sigma: number, steps: number, published: number, classic: number, improved: number][] = [
    [1.1, 14062, 3.01, 3.00827208253, 2.59655586895], // 60 epochs (the README's default run)
    [1.3, 3515, 1.19, 1.19212996455, 0.95442950873], // 15 epochs
    [0.7, 10546, 7.1, 7.1002683314, 6.31810058659], // 45 epochs
  ];
  for (const [sigma, steps, published, classic, improved] of cases) {
    const rdp = computeRdp({ samplingRate: MNIST_Q, noiseMultiplier: sigma, steps, orders: DEFAULT_ORDERS });
    const old = classicEpsilon(DEFAULT_ORDERS, rdp, 1e-5);
    assert.equal(Number(old.toPrecision(3)), published, `σ=${sigma}: ${old}`);
    assertClose(old, classic, 1e-8, `classic σ=${sigma}`);
    const { epsilon } = epsilonFromRdp({ orders: DEFAULT_ORDERS, rdp, delta: 1e-5 });
    assertClose(epsilon, improved, 1e-8, `improved σ=${sigma}`);
    assert.ok(epsilon < old);
  }
});

test('TF Privacy compute_dp_sgd_privacy example: σ = 1.12, 60 epochs → (2.92, 1e-5) with its own orders', () => {
  // tensorflow_privacy/privacy/analysis/compute_dp_sgd_privacy.py docstring; steps = ceil(60·60000/256).
  const orders = [1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5, ...Array.from({ length: 59 }, (_, k) => 5 + k), 128, 256, 512];
  const rdp = computeRdp({ samplingRate: MNIST_Q, noiseMultiplier: 1.12, steps: 14063, orders });
  const old = classicEpsilon(orders, rdp, 1e-5);
  assertClose(old, 2.92235485047, 1e-8);
  assert.equal(Number(old.toPrecision(3)), 2.92);
  assertClose(epsilonFromRdp({ orders, rdp, delta: 1e-5 }).epsilon, 2.52155886181, 1e-8);
});

test('ε falls as σ grows and rises with the number of steps', () => {
  const at = (noiseMultiplier: number, steps: number): number =>
    computeEpsilon({ samplingRate: 0.01, noiseMultiplier, steps, delta: 1e-5 }).epsilon;
  const bySigma = [0.6, 0.8, 1, 1.5, 2, 4].map((s) => at(s, 1000));
  for (let i = 1; i < bySigma.length; i++) assert.ok(bySigma[i]! < bySigma[i - 1]!, `σ sequence ${bySigma}`);
  const bySteps = [1, 10, 100, 1000, 10000].map((t) => at(1.1, t));
  for (let i = 1; i < bySteps.length; i++) assert.ok(bySteps[i]! > bySteps[i - 1]!, `steps sequence ${bySteps}`);
});

test('epsilonFromRdp never reports a negative ε', () => {
  // With no privacy loss and δ = 0.9 the formula gives −(log 0.9 + log 2) + log(1/2) = −1.2809 at α = 2.
  const result = epsilonFromRdp({ orders: [2, 3], rdp: [0, 0], delta: 0.9 });
  assert.equal(result.epsilon, 0);
});

test('noiseForEpsilon inverts computeEpsilon', () => {
  const steps = 14062;
  const { epsilon } = computeEpsilon({ samplingRate: MNIST_Q, noiseMultiplier: 1.1, steps, delta: 1e-5 });
  const sigma = noiseForEpsilon({ samplingRate: MNIST_Q, steps, delta: 1e-5, epsilon });
  assertClose(sigma, 1.1, 1e-4);
  assert.ok(computeEpsilon({ samplingRate: MNIST_Q, noiseMultiplier: sigma, steps, delta: 1e-5 }).epsilon <= epsilon);
});

test('noiseForEpsilon agrees with Opacus’s get_noise_multiplier and is minimal to its tolerance', () => {
  // opacus/tests/accountants_test.py: ε = 8, δ = 1e-5, q = 0.04 → σ = 1.416 for 90 epochs (2250 steps)
  // and 1.3562 for 2000 steps. Opacus stops once ε is within 0.01 below the target, so its σ is an
  // overestimate by up to that much; ours must be no larger and within 0.2 %.
  for (const [steps, opacus] of [[2250, 1.416], [2000, 1.3562]] as const) {
    const sigma = noiseForEpsilon({ samplingRate: 0.04, steps, delta: 1e-5, epsilon: 8 });
    const eps = (s: number): number => computeEpsilon({ samplingRate: 0.04, noiseMultiplier: s, steps, delta: 1e-5 }).epsilon;
    assert.ok(eps(sigma) <= 8);
    assert.ok(eps(sigma * (1 - 2e-4)) > 8, 'a noticeably smaller σ would also meet the target');
    assert.ok(sigma <= opacus + 1e-4 && sigma > opacus * 0.998, `steps=${steps}: σ=${sigma}, Opacus ${opacus}`);
    const atOpacus = eps(opacus);
    assert.ok(atOpacus <= 8 && atOpacus > 7.99, `Opacus's σ gives ε=${atOpacus}`);
  }
});

test('noiseForEpsilon says clearly when a budget is out of reach', () => {
  // As σ → ∞ the best these orders can certify at δ = 1e-5 is min_α −(log δ + log α)/(α−1) + log(1−1/α) ≈ 0.1,
  // attained at α = 63: (11.5129 − 4.1431)/62 − 0.0160 = 0.1029.
  assertInvalid(() => noiseForEpsilon({ samplingRate: 0.01, steps: 100, delta: 1e-5, epsilon: 0.05 }), 'epsilon');
  assertInvalid(() => noiseForEpsilon({ samplingRate: 0.01, steps: 100, delta: 1e-5, epsilon: 0 }), 'epsilon');
  const floor = computeEpsilon({ samplingRate: 0, noiseMultiplier: 1, steps: 1, delta: 1e-5 });
  assert.equal(floor.order, 63);
  assertClose(floor.epsilon, (Math.log(1e5) - Math.log(63)) / 62 + Math.log(62 / 63), 1e-12);
});

test('invalid inputs name the offending field', () => {
  const base = { samplingRate: 0.01, noiseMultiplier: 1, steps: 10, orders: [2, 4] };
  assertInvalid(() => computeRdp({ ...base, samplingRate: -0.1 }), 'samplingRate');
  assertInvalid(() => computeRdp({ ...base, samplingRate: 1.5 }), 'samplingRate');
  assertInvalid(() => computeRdp({ ...base, samplingRate: NaN }), 'samplingRate');
  assertInvalid(() => computeRdp({ ...base, noiseMultiplier: -1 }), 'noiseMultiplier');
  assertInvalid(() => computeRdp({ ...base, noiseMultiplier: Infinity }), 'noiseMultiplier');
  assertInvalid(() => computeRdp({ ...base, steps: 0 }), 'steps');
  assertInvalid(() => computeRdp({ ...base, steps: 2.5 }), 'steps');
  assertInvalid(() => computeRdp({ ...base, orders: [] }), 'orders');
  assertInvalid(() => computeRdp({ ...base, orders: [2, 1] }), 'orders.1');
  assertInvalid(() => computeRdp({ ...base, orders: [Infinity] }), 'orders.0');
  assertInvalid(() => epsilonFromRdp({ orders: [2, 3], rdp: [0.1], delta: 1e-5 }), 'rdp');
  assertInvalid(() => epsilonFromRdp({ orders: [2, 3], rdp: [0.1, -1], delta: 1e-5 }), 'rdp.1');
  assertInvalid(() => computeEpsilon({ ...base, delta: 0 }), 'delta');
  assertInvalid(() => computeEpsilon({ ...base, delta: 1 }), 'delta');
  assertInvalid(() => noiseForEpsilon({ samplingRate: 0.01, steps: 10, delta: 1e-5, epsilon: 1, tolerance: 0 }), 'tolerance');
  assertInvalid(() => noiseForEpsilon({ samplingRate: 0.01, steps: 10, delta: 1e-5, epsilon: NaN }), 'epsilon');
});
