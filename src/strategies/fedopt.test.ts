import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FedAdagrad, FedAdam, FedYogi } from './fedopt.js';
import { assertClose, params, trainResult } from './strategy-conformance.js';
import type { Parameters, TensorSpec } from '../protocol/tensors.js';
import type { Strategy } from './strategy.js';

// Two parameters (one tensor) keep the arithmetic readable. With τ = 2, v starts at τ² = 4.
const SPECS: TensorSpec[] = [{ name: 'w', shape: [2] }];
const NICE = { eta: 1, beta1: 0.5, tau: 2 };

/** One member whose model is θ + Δ, so the pseudo-gradient is Δ (up to float32 rounding of θ + Δ). */
function step(s: Strategy, round: number, current: Parameters, delta: number[]): Parameters {
  const avg = Array.from(current.data, (t, i) => t + delta[i]!);
  const out = s.aggregateTrain(round, current, [{ ...trainResult('a', [0, 0, 0], 3), parameters: params(avg, SPECS) }], []);
  assert.ok(out);
  return out.parameters;
}

const moments = (s: Strategy) => {
  const d = s.saveState()!.data;
  return { m: Array.from(d.subarray(0, 2)), v: Array.from(d.subarray(2, 4)) };
};

test('FedAdam (η = 1, β1 = 0.5, β2 = 0.75, τ = 2): three rounds', () => {
  const s = new FedAdam({ ...NICE, beta2: 0.75 });
  // Round 1: Δ = [2, −2]; m = 0.5·0 + 0.5·Δ = [1, −1]; v = 0.75·4 + 0.25·[4, 4] = [4, 4];
  //          θ1 = [0, 0] + [1, −1] / (√4 + 2) = [0.25, −0.25].
  const t1 = step(s, 1, params([0, 0], SPECS), [2, -2]);
  assertClose(t1.data, [0.25, -0.25]);
  assert.deepEqual(moments(s), { m: [1, -1], v: [4, 4] });
  // Round 2: Δ = [2, 0]; m = 0.5·[1, −1] + 0.5·[2, 0] = [1.5, −0.5]; v = 0.75·[4, 4] + 0.25·[4, 0] = [4, 3];
  //          θ2 = [0.25 + 1.5/(2 + 2), −0.25 − 0.5/(√3 + 2)] = [0.625, −0.25 − (1 − √3/2)] = [0.625, −0.383974596].
  const t2 = step(s, 2, t1, [2, 0]);
  assertClose(t2.data, [0.625, -0.383974596]);
  assertClose(moments(s).v, [4, 3]);
  // Round 3: Δ = [−2, 2]; m = 0.5·[1.5, −0.5] + 0.5·[−2, 2] = [−0.25, 0.75]; v = 0.75·[4, 3] + 0.25·[4, 4] = [4, 3.25];
  //          θ3 = [0.625 − 0.25/4, −0.383974596 + 0.75/(√3.25 + 2)] = [0.5625, −0.383974596 + 0.197224362] = [0.5625, −0.186750234].
  const t3 = step(s, 3, t2, [-2, 2]);
  assertClose(t3.data, [0.5625, -0.186750234], 1e-6);
  assertClose(moments(s).m, [-0.25, 0.75], 1e-6);
  assertClose(moments(s).v, [4, 3.25], 1e-6);
});

test('FedYogi (η = 1, β1 = 0.5, β2 = 0.75, τ = 2): three rounds, v moves by sign(v − Δ²)', () => {
  const s = new FedYogi({ ...NICE, beta2: 0.75 });
  // Round 1: Δ = [4, 0], Δ² = [16, 0]; v = 4 − 0.25·[16, 0]·sign([4 − 16, 4 − 0]) = [4 + 4, 4] = [8, 4];
  //          m = 0.5·Δ = [2, 0]; θ1 = [2/(√8 + 2), 0] = [√2 − 1, 0] = [0.414213562, 0].
  const t1 = step(s, 1, params([0, 0], SPECS), [4, 0]);
  assertClose(t1.data, [0.414213562, 0]);
  assert.deepEqual(moments(s), { m: [2, 0], v: [8, 4] });
  // Round 2: Δ = [0, 2], Δ² = [0, 4]; v = [8 − 0, 4 − 0.25·4·sign(0)] = [8, 4]; m = 0.5·[2, 0] + 0.5·[0, 2] = [1, 1];
  //          θ2 = [0.414213562 + 1/(√8 + 2), 0 + 1/(2 + 2)] = [0.621320344, 0.25].
  const t2 = step(s, 2, t1, [0, 2]);
  assertClose(t2.data, [0.621320344, 0.25]);
  assert.deepEqual(moments(s), { m: [1, 1], v: [8, 4] });
  // Round 3: Δ = [2, 2], Δ² = [4, 4]; v = [8 − 0.25·4·sign(8 − 4), 4 − 0.25·4·sign(0)] = [7, 4]; m = 0.5·[1, 1] + 0.5·[2, 2] = [1.5, 1.5];
  //          θ3 = [0.621320344 + 1.5/(√7 + 2), 0.25 + 1.5/4] = [0.621320344 + 0.322875656, 0.625] = [0.944196000, 0.625].
  const t3 = step(s, 3, t2, [2, 2]);
  assertClose(t3.data, [0.944196, 0.625], 1e-6);
  assertClose(moments(s).v, [7, 4], 1e-5);
});

test('FedAdagrad (η = 1, β1 = 0.5, τ = 2): three rounds, v accumulates Δ²', () => {
  const s = new FedAdagrad(NICE);
  // Round 1: Δ = [4, 0]; v = 4 + [16, 0] = [20, 4]; m = 0.5·Δ = [2, 0];
  //          θ1 = [2/(√20 + 2), 0] = [(√5 − 1)/4, 0] = [0.309016994, 0].
  const t1 = step(s, 1, params([0, 0], SPECS), [4, 0]);
  assertClose(t1.data, [0.309016994, 0]);
  assert.deepEqual(moments(s), { m: [2, 0], v: [20, 4] });
  // Round 2: Δ = [0, 2]; v = [20, 8]; m = 0.5·[2, 0] + 0.5·[0, 2] = [1, 1];
  //          θ2 = [0.309016994 + 1/(√20 + 2), 1/(√8 + 2)] = [0.463525492, 0.207106781].
  const t2 = step(s, 2, t1, [0, 2]);
  assertClose(t2.data, [0.463525492, 0.207106781]);
  assert.deepEqual(moments(s), { m: [1, 1], v: [20, 8] });
  // Round 3: Δ = [1, 1]; v = [21, 9]; m = 0.5·[1, 1] + 0.5·[1, 1] = [1, 1];
  //          θ3 = [0.463525492 + 1/(√21 + 2), 0.207106781 + 1/(3 + 2)] = [0.615441709, 0.407106781].
  const t3 = step(s, 3, t2, [1, 1]);
  assertClose(t3.data, [0.615441709, 0.407106781], 1e-6);
  assertClose(moments(s).v, [21, 9], 1e-5);
});

test('FedOpt defaults follow the paper and Flower: τ = 1e-3, β1 = 0.9, β2 = 0.99; η 0.1 (Adam, Adagrad) and 0.01 (Yogi)', () => {
  assert.deepEqual(new FedAdam().options, { eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 });
  assert.deepEqual(new FedYogi().options, { eta: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 });
  assert.deepEqual(new FedAdagrad().options, { eta: 0.1, beta1: 0.9, beta2: 0, tau: 1e-3 });
});

test('FedAdam with defaults: one round from v = τ²', () => {
  const s = new FedAdam();
  // Δ = [0.1, −0.2]; m = 0.1·Δ = [0.01, −0.02]; v = 0.99·1e-6 + 0.01·[0.01, 0.04] = [1.0099e-4, 4.0099e-4];
  // θ1 = 0.1·m / (√v + 1e-3) = [0.001 / (0.01004938 + 0.001), −0.002 / (0.02002473 + 0.001)]
  //    = [0.001 / 0.01104938, −0.002 / 0.02102473] = [0.0905028, −0.0951261].
  const t1 = step(s, 1, params([0, 0], SPECS), [0.1, -0.2]);
  const expected = [(0.1 * 0.01) / (Math.sqrt(1.0099e-4) + 1e-3), (0.1 * -0.02) / (Math.sqrt(4.0099e-4) + 1e-3)];
  assertClose(t1.data, expected, 1e-6);
  assertClose(expected, [0.0905028, -0.0951261], 1e-6, 'hand arithmetic');
});

test('FedOpt: the state is m/<tensor> then v/<tensor>', () => {
  const s = new FedAdam();
  assert.equal(s.saveState(), null);
  step(s, 1, params([0, 0], SPECS), [1, 1]);
  assert.deepEqual(
    s.saveState()!.specs.map((x) => x.name),
    ['m/w', 'v/w'],
  );
});
