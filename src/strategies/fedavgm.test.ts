import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FedAvgM } from './fedavgm.js';
import { params, trainResult } from './strategy-conformance.js';
import type { Parameters } from '../protocol/tensors.js';

/** One member whose model is `avg`, so the FedAvg average is exactly `avg`. */
const step = (s: FedAvgM, round: number, current: Parameters, avg: number[]): Parameters => {
  const out = s.aggregateTrain(round, current, [trainResult('a', avg, 5)], []);
  assert.ok(out);
  return out.parameters;
};

test('FedAvgM (η = 0.5, β = 0.5): three rounds of server momentum', () => {
  const s = new FedAvgM({ serverLearningRate: 0.5, momentum: 0.5 });
  // Round 1: θ0 = [1, 1, 1], avg = [0, 2, 1] → Δ = θ − avg = [1, −1, 0]; v = 0.5·0 + Δ = [1, −1, 0];
  //          θ1 = θ0 − 0.5·v = [0.5, 1.5, 1].
  const t1 = step(s, 1, params([1, 1, 1]), [0, 2, 1]);
  assert.deepEqual(Array.from(t1.data), [0.5, 1.5, 1]);
  assert.deepEqual(Array.from(s.saveState()!.data), [1, -1, 0]);
  // Round 2: avg = [1.5, 1.5, 0] → Δ = [−1, 0, 1]; v = 0.5·[1, −1, 0] + [−1, 0, 1] = [−0.5, −0.5, 1];
  //          θ2 = [0.5, 1.5, 1] − 0.5·[−0.5, −0.5, 1] = [0.75, 1.75, 0.5].
  const t2 = step(s, 2, t1, [1.5, 1.5, 0]);
  assert.deepEqual(Array.from(t2.data), [0.75, 1.75, 0.5]);
  assert.deepEqual(Array.from(s.saveState()!.data), [-0.5, -0.5, 1]);
  // Round 3: avg = [0.75, 0.75, 0.5] → Δ = [0, 1, 0]; v = 0.5·[−0.5, −0.5, 1] + [0, 1, 0] = [−0.25, 0.75, 0.5];
  //          θ3 = [0.75, 1.75, 0.5] − 0.5·[−0.25, 0.75, 0.5] = [0.875, 1.375, 0.25].
  const t3 = step(s, 3, t2, [0.75, 0.75, 0.5]);
  assert.deepEqual(Array.from(t3.data), [0.875, 1.375, 0.25]);
  assert.deepEqual(Array.from(s.saveState()!.data), [-0.25, 0.75, 0.5]);
});

test('FedAvgM defaults (η = 1, β = 0.9): momentum carries past the average', () => {
  const s = new FedAvgM();
  assert.deepEqual(s.options, { serverLearningRate: 1, momentum: 0.9 });
  // Round 1: θ0 = [0, 0, 0], avg = [2, −2, 1] → Δ = [−2, 2, −1] = v; θ1 = θ0 − v = [2, −2, 1] (FedAvg's step).
  const t1 = step(s, 1, params([0, 0, 0]), [2, -2, 1]);
  assert.deepEqual(Array.from(t1.data), [2, -2, 1]);
  // Round 2: avg = θ1 → Δ = 0; v = 0.9·[−2, 2, −1] = [−1.8, 1.8, −0.9]; θ2 = θ1 − v = [3.8, −3.8, 1.9].
  const t2 = step(s, 2, t1, [2, -2, 1]);
  const expected = [3.8, -3.8, 1.9];
  t2.data.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-6, `θ2[${i}] = ${v}`));
});

test('FedAvgM: the state is named momentum/<tensor>', () => {
  const s = new FedAvgM();
  assert.equal(s.saveState(), null);
  step(s, 1, params([0, 0, 0]), [1, 1, 1]);
  assert.deepEqual(
    s.saveState()!.specs.map((x) => x.name),
    ['momentum/dense/kernel', 'momentum/dense/bias'],
  );
});
