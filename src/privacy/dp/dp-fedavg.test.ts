import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../protocol/errors.js';
import { type Parameters, type TensorSpec, makeParameters } from '../../protocol/tensors.js';
import { type Random, seededRandom } from '../../core/random.js';
import { FedAvg, FedAvgM } from '../../strategies/index.js';
import type { TrainResult } from '../../strategies/strategy.js';
import { assertClose, roundContext } from '../../strategies/strategy-conformance.js';
import { DEFAULT_ORDERS, computeEpsilon, computeRdp, epsilonFromRdp } from '../rdp.js';
import { gaussianNoise } from './gaussian.js';
import { privatizeUpdate } from './member.js';
import { withDifferentialPrivacy } from './dp-fedavg.js';

const spec = (n: number): TensorSpec[] => [{ name: 'w', shape: [n] }];
const model = (values: number[] | Float32Array): Parameters => makeParameters(spec(values.length), Float32Array.from(values));
const result = (memberId: string, values: number[] | Float32Array, numExamples = 1, metrics: Record<string, number> = {}): TrainResult => ({
  memberId,
  parameters: model(values),
  numExamples,
  metrics,
});
const is = (code: string, field: string) => (e: unknown) => {
  const err = e as { code: string; details: { field?: string }; message: string };
  assert.equal(err.code, code, err.message);
  assert.equal(err.details.field, field, err.message);
  return true;
};
const stddev = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let ss = 0;
  for (let i = 0; i < a.length; i++) ss += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(ss / a.length);
};

test('z = 0 and a huge C: plain FedAvg with equal weights, example counts ignored', () => {
  const current = model([0.5, -1, 2]);
  const results = [result('a', [1, 2, 3], 10), result('b', [3, 6, -1], 1), result('c', [0, 0, 0], 500)];
  const dp = withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 0, clippingNorm: 1e9, sampledMembers: 3 });
  const out = dp.aggregateTrain(1, current, results, []);
  const plain = new FedAvg().aggregateTrain(1, current, results.map((r) => ({ ...r, numExamples: 1 })), []);
  assert.ok(out && plain);
  assertClose(out.parameters.data, [4 / 3, 8 / 3, 2 / 3], 1e-6, 'equal-weight mean');
  assertClose(out.parameters.data, Array.from(plain.parameters.data), 1e-6, 'FedAvg');
  assert.deepEqual(out.parameters.specs, current.specs);
});

test('clipping bounds a member’s influence: one huge update moves the aggregate by exactly C/m', () => {
  const current = model([1, 1, 1, 1]);
  const same = [1, 1, 1, 1];
  const dp = withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 0, clippingNorm: 2, sampledMembers: 4 });
  const out = dp.aggregateTrain(1, current, [result('a', same), result('b', same), result('c', same), result('evil', [1e8, -3e8, 1, 1], 1e6)], []);
  assert.ok(out);
  const moved = Math.hypot(...Array.from(out.parameters.data).map((v, i) => v - current.data[i]!));
  assert.ok(Math.abs(moved - 2 / 4) < 1e-6, `moved by ${moved}, C/m = 0.5`);
  // In the direction of the update: Δ/‖Δ‖ · C/m = (1, −3)/√10 · 0.5.
  assertClose(out.parameters.data, [1 + 0.5 / Math.sqrt(10), 1 - 1.5 / Math.sqrt(10), 1, 1], 1e-6, 'direction');
});

test('central noise: the aggregate’s std is zC/m (default CSPRNG source)', () => {
  const n = 100_000;
  const current = model(new Float32Array(n));
  const z = 1.2;
  const c = 0.5;
  const m = 3;
  const dp = withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: z, clippingNorm: c, sampledMembers: m });
  const out = dp.aggregateTrain(1, current, [result('a', new Float32Array(n)), result('b', new Float32Array(n)), result('c', new Float32Array(n))], []);
  assert.ok(out);
  const std = stddev(out.parameters.data, current.data);
  assert.ok(Math.abs(std / ((z * c) / m) - 1) < 0.02, `std ${std}, expected ${(z * c) / m}`);
  assert.equal(out.metrics.dpNoiseStddev, (z * c) / m);
  assert.equal(out.metrics.dpClippingNorm, c);
  assert.equal(out.metrics.dpNoiseMultiplier, z);
});

test('the fixed denominator m: fewer reports shrink the average instead of changing the noise scale', () => {
  const dp = withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 0, clippingNorm: 100, sampledMembers: 4 });
  const out = dp.aggregateTrain(1, model([0, 0]), [result('a', [4, 8]), result('b', [4, 0])], []);
  assert.ok(out);
  assertClose(out.parameters.data, [2, 2], 1e-7, 'Σ Δ / 4');
});

test('noise enters before the inner server optimizer: FedAvgM sees θ_t + noised average', () => {
  const current = model([0.1, 0.2, 0.3, 0.4, 0.5]);
  const rounds = [
    [result('a', [1, 0, 0, 0, 0]), result('b', [0, 5, 0, 0, 0])],
    [result('a', [0, 0, 1, 1, 0]), result('b', [0, 0, 0, 2, 3])],
  ];
  const dp = withDifferentialPrivacy(new FedAvgM({ momentum: 0.9 }), { noiseMultiplier: 0.8, clippingNorm: 1.5, sampledMembers: 2, random: seededRandom(11) });
  const reference = new FedAvgM({ momentum: 0.9 });
  const noiseSource = seededRandom(11);
  let theta = current;
  let expected = current;
  for (const [k, results] of rounds.entries()) {
    const shifted = results!.map((r) => ({ ...r, parameters: model(Array.from(r.parameters.data).map((v, i) => v + theta.data[i]! - current.data[i]!)) }));
    const out = dp.aggregateTrain(k + 1, theta, shifted, []);
    assert.ok(out);
    // By hand: clip each Δ to 1.5, sum, add the same draws of N(0, (zC)²), divide by m = 2.
    const sum = new Float64Array(5);
    for (const r of shifted) {
      const delta = Array.from(r.parameters.data).map((v, i) => v - expected.data[i]!);
      const factor = Math.min(1, 1.5 / Math.hypot(...delta));
      delta.forEach((d, i) => (sum[i] = sum[i]! + d * factor));
    }
    const noise = gaussianNoise(5, 0.8 * 1.5, noiseSource);
    const averaged = model(Array.from(sum, (s, i) => expected.data[i]! + (s + noise[i]!) / 2));
    const ref = reference.aggregateTrain(k + 1, expected, [{ memberId: 'x', parameters: averaged, numExamples: 1, metrics: {} }], []);
    assert.ok(ref);
    assertClose(out.parameters.data, Array.from(ref.parameters.data), 1e-6, `round ${k + 1}`);
    theta = out.parameters;
    expected = ref.parameters;
  }
});

test('adaptive clipping, no noise: C climbs from 0.1 to the median update norm and stays within one step of it', () => {
  const norms = [1, 2, 3, 4, 5];
  const current = model([0, 0]);
  const dp = withDifferentialPrivacy(new FedAvg(), {
    noiseMultiplier: 0,
    clippingNorm: 0.1,
    sampledMembers: 5,
    adaptiveClipping: { clippedCountStddev: 0 },
  });
  const history: number[] = [];
  for (let round = 1; round <= 100; round++) {
    // Updates along (0.6, 0.8) with the given norms.
    dp.aggregateTrain(round, current, norms.map((r, i) => result(`m${i}`, [0.6 * r, 0.8 * r])), []);
    history.push(dp.currentClippingNorm);
  }
  // From 0.1: while every update is clipped, b̄ = 0 and C grows by e^{0.1} a round (24 rounds
  // to pass 1); then b̄ = 0.2 (×e^{0.06}, ~10 rounds to pass 2) and b̄ = 0.4 (×e^{0.02}, ~20 to pass 3).
  assert.equal(history[0], Math.fround(0.1 * Math.exp(0.1)));
  assert.ok(history[53]! < 3 && history[60]! >= 3 * Math.exp(-0.021), `C after 54 rounds ${history[53]}, after 61 ${history[60]}`);
  // Around the median: C ∈ [2, 3) gives b̄ = 0.4 (×e^{0.02}), C ∈ [3, 4) gives b̄ = 0.6 (×e^{−0.02}).
  for (const c of history.slice(60)) assert.ok(c >= 3 * Math.exp(-0.021) && c < 3 * Math.exp(0.021), `C = ${c}`);
});

test('adaptive clipping: a round is clipped and noised with the C it started with; C then takes one hand-computed step', () => {
  const dp = withDifferentialPrivacy(new FedAvg(), {
    noiseMultiplier: 0,
    clippingNorm: 1,
    sampledMembers: 2,
    adaptiveClipping: { clippedCountStddev: 0, targetQuantile: 0.5, clipLearningRate: 0.2 },
  });
  // Norms 0.5 and 0.6: both unclipped, b̄ = 1, C ← exp(−0.2·0.5).
  const out = dp.aggregateTrain(1, model([0]), [result('a', [0.5]), result('b', [-0.6])], []);
  assert.ok(out);
  assert.equal(out.metrics.dpClippingNorm, 1);
  assert.equal(out.metrics.dpUnclippedFraction, 1);
  assert.equal(dp.currentClippingNorm, Math.fround(Math.exp(-0.1)));
  assertClose(out.parameters.data, [-0.05], 1e-7);
});

test('adaptive clipping with noise: z is split so that update and count together spend z', () => {
  // σ_b = m/20 = 0.25 cannot carry z = 1 (needs 2σ_b > z): refused at construction.
  assert.throws(
    () => withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 1, clippingNorm: 1, sampledMembers: 5, adaptiveClipping: {} }),
    is(ErrorCode.INVALID_ARGUMENT, 'strategy.options.adaptiveClipping.clippedCountStddev'),
  );
  const n = 100_000;
  const dp = withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 1, clippingNorm: 1, sampledMembers: 100, adaptiveClipping: {} });
  const zero = new Float32Array(n);
  const out = dp.aggregateTrain(1, model(zero), Array.from({ length: 100 }, (_, i) => result(`m${i}`, zero)), []);
  assert.ok(out);
  // σ_b = 5: z_Δ = (1 − 1/100)^(−1/2).
  const zDelta = 1 / Math.sqrt(0.99);
  assert.ok(Math.abs(out.metrics.dpNoiseStddev! - zDelta / 100) < 1e-15);
  const std = stddev(out.parameters.data, zero);
  assert.ok(Math.abs(std / (zDelta / 100) - 1) < 0.02, `std ${std}`);
  assert.equal(out.metrics.dpNoiseMultiplier, 1, 'booked at the overall z');
});

test('privacySpent equals computeEpsilon over the rounds, with q = selected / available', () => {
  const dp = withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 1.1, clippingNorm: 1 });
  let current = model([0, 0, 0]);
  for (let round = 1; round <= 5; round++) {
    const ctx = roundContext({ available: 10, serverRound: round, config: { fractionTrain: 0.3, minTrainMembers: 1 } });
    const picked = dp.configureTrain(ctx);
    assert.equal(picked.length, 3);
    assert.deepEqual(dp.roundCharge(round), { samplingRate: 0.3, noiseMultiplier: 1.1, steps: 1 });
    const out = dp.aggregateTrain(round, current, picked.map((p) => result(p.memberId, [0.1, 0.2, 0.3])), []);
    assert.ok(out);
    assert.equal(out.metrics.dpSamplingRate, 0.3);
    current = out.parameters;
  }
  const spent = dp.privacySpent(1e-5);
  const expected = computeEpsilon({ samplingRate: 0.3, noiseMultiplier: 1.1, steps: 5, delta: 1e-5 });
  assert.deepEqual(spent, { ...expected, rounds: 5 });
  assert.equal(dp.privacyLog().length, 5);
  assert.deepEqual(dp.privacyLog()[0], { serverRound: 1, expectedMembers: 3, selectedMembers: 3, totalMembers: 10, receivedMembers: 3, samplingRate: 0.3, noiseMultiplier: 1.1 });
  assert.deepEqual(withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 1, clippingNorm: 1 }).privacySpent(1e-5), { epsilon: 0, order: NaN, rounds: 0 });
  // No noise: nothing is private.
  const open = withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 0, clippingNorm: 1, sampledMembers: 1, totalMembers: 4 });
  open.aggregateTrain(1, model([0]), [result('a', [1])], []);
  assert.equal(open.privacySpent(1e-5).epsilon, Infinity);
});

test('distributed mode: members clip and noise; the coordinator only averages; dropouts are booked at z·√(r/m)', () => {
  const n = 50_000;
  const z = 2;
  const dp = withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: z, clippingNorm: 0.5, mode: 'distributed' });
  const ctx = roundContext({ available: 8, serverRound: 1, config: { fractionTrain: 0.5, minTrainMembers: 1 } });
  const picked = dp.configureTrain(ctx);
  assert.equal(picked.length, 4);
  const settings = dp.memberPrivacy(1);
  assert.deepEqual(settings, { clippingNorm: 0.5, noiseStddev: (z * 0.5) / 2, indicatorNoiseStddev: 0, expectedMembers: 4 });
  const global = new Float32Array(n);
  const updates = picked.map(() => privatizeUpdate(global, global, settings!));
  const out = dp.aggregateTrain(1, model(global), picked.map((p, i) => result(p.memberId, updates[i]!.parameters)), []);
  assert.ok(out);
  // Σ of four shares of std zC/2 is zC; divided by m = 4.
  const std = stddev(out.parameters.data, global);
  assert.ok(Math.abs(std / ((z * 0.5) / 4) - 1) < 0.02, `std ${std}`);
  // The coordinator did not clip again (the noised updates have norm ≫ C) nor add noise.
  const mean = Array.from(global, (_, j) => updates.reduce((s, u) => s + u.delta[j]!, 0) / 4);
  assertClose(out.parameters.data.subarray(0, 100), mean.slice(0, 100), 1e-6, 'plain average of the privatized updates');

  // Round 2: only 1 of the 4 expected members survives: the noise falls to zC/2, i.e. z/2.
  const picked2 = dp.configureTrain(roundContext({ available: 8, serverRound: 2, config: { fractionTrain: 0.5, minTrainMembers: 1 } }));
  const survivor = privatizeUpdate(global, global, dp.memberPrivacy(2)!);
  const out2 = dp.aggregateTrain(2, model(global), [result(picked2[0]!.memberId, survivor.parameters)], []);
  assert.ok(out2);
  assert.equal(out2.metrics.dpNoiseMultiplier, z / 2);
  const log = dp.privacyLog();
  assert.deepEqual(
    log.map((r) => [r.receivedMembers, r.noiseMultiplier, r.samplingRate]),
    [
      [4, z, 0.5],
      [1, z / 2, 0.5],
    ],
  );
  const rdp = [z, z / 2].map((mult) => computeRdp({ samplingRate: 0.5, noiseMultiplier: mult, steps: 1, orders: DEFAULT_ORDERS }));
  const expected = epsilonFromRdp({ orders: DEFAULT_ORDERS, rdp: rdp[0]!.map((v, i) => v + rdp[1]![i]!), delta: 1e-5 });
  assert.deepEqual(dp.privacySpent(1e-5), { ...expected, rounds: 2 });
});

test('distributed mode with secure aggregation: aggregateDeltaSum releases the same model as aggregateTrain', () => {
  const make = () => withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 1, clippingNorm: 1, mode: 'distributed', sampledMembers: 3 });
  const current = model([1, 2]);
  const deltas = [
    [0.1, 0.2],
    [-0.3, 0.1],
    [0.05, 0],
  ];
  const viaResults = make().aggregateTrain(1, current, deltas.map((d, i) => result(`m${i}`, [1 + d[0]!, 2 + d[1]!])), []);
  const viaSum = make().aggregateDeltaSum(1, current, { deltaSum: Float32Array.from([-0.15, 0.3]), members: 3 });
  assert.ok(viaResults && viaSum);
  assertClose(viaSum.parameters.data, Array.from(viaResults.parameters.data), 1e-6);
  assertClose(viaSum.parameters.data, [0.95, 2.1], 1e-6);
  assert.throws(() => withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 1, clippingNorm: 1, sampledMembers: 3 }).aggregateDeltaSum(1, current, { deltaSum: new Float32Array(2), members: 3 }), is(ErrorCode.INVALID_ARGUMENT, 'mode'));
  assert.equal(make().aggregateDeltaSum(1, current, { deltaSum: new Float32Array(2), members: 0 }), null);
});

test('distributed adaptive clipping: members report noised indicators; the coordinator steps C with them', () => {
  const dp = withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 0, clippingNorm: 1, mode: 'distributed', sampledMembers: 2, adaptiveClipping: { clippedCountStddev: 0 } });
  const settings = dp.memberPrivacy(1)!;
  assert.equal(settings.indicatorNoiseStddev, 0);
  const global = Float32Array.from([0, 0]);
  const a = privatizeUpdate(global, Float32Array.from([3, 4]), settings); // clipped: −½
  const b = privatizeUpdate(global, Float32Array.from([0.3, 0.4]), settings); // unclipped: +½
  const out = dp.aggregateTrain(1, model(global), [result('a', a.parameters, 1, { dpUnclipped: a.unclipped }), result('b', b.parameters, 1, { dpUnclipped: b.unclipped })], []);
  assert.ok(out);
  assert.equal(out.metrics.dpUnclippedFraction, 0.5);
  assert.equal(dp.currentClippingNorm, 1);
  assert.throws(() => dp.aggregateTrain(2, model(global), [result('a', a.parameters)], []), is(ErrorCode.INVALID_ARGUMENT, 'results[0].metrics.dpUnclipped'));
});

test('saveState/loadState: a resumed run continues exactly (adaptive C, inner momentum, privacy log)', () => {
  let source: Random = seededRandom(0);
  const options = () => ({
    noiseMultiplier: 0.9,
    clippingNorm: 0.3,
    sampledMembers: 2,
    totalMembers: 20,
    adaptiveClipping: { clippedCountStddev: 1 },
    random: () => source(),
  });
  const rounds = [
    [
      [1, 0, 0.5],
      [0, 0.1, 0],
    ],
    [
      [0.2, 0.2, 0.2],
      [-1, 2, 0],
    ],
    [
      [0.05, 0, 0],
      [0, 0, 3],
    ],
  ];
  const play = (s: ReturnType<typeof withDifferentialPrivacy>, round: number, current: Parameters) => {
    source = seededRandom(100 + round);
    const out = s.aggregateTrain(round, current, rounds[round - 1]!.map((d, i) => result(`m${i}`, d.map((v, j) => v + current.data[j]!))), []);
    assert.ok(out);
    return out.parameters;
  };
  const a = withDifferentialPrivacy(new FedAvgM(), options());
  let p = model([0, 0, 0]);
  p = play(a, 1, p);
  p = play(a, 2, p);
  const saved = a.saveState();
  const cNorm = a.currentClippingNorm;
  assert.notEqual(cNorm, Math.fround(0.3), 'C has moved');

  const b = withDifferentialPrivacy(new FedAvgM(), options());
  b.loadState(saved);
  assert.equal(b.currentClippingNorm, cNorm);
  assert.deepEqual(b.privacyLog(), a.privacyLog());
  assert.deepEqual(b.privacySpent(1e-5), a.privacySpent(1e-5));
  const pa = play(a, 3, p);
  const pb = play(b, 3, p);
  assert.deepEqual(Array.from(pb.data), Array.from(pa.data));
  assert.equal(b.currentClippingNorm, a.currentClippingNorm);
  assert.deepEqual(b.saveState(), a.saveState());

  // null resets everything, inner included.
  b.loadState(null);
  assert.equal(b.currentClippingNorm, Math.fround(0.3));
  assert.equal(b.privacyLog().length, 0);
  assert.equal(b.inner.saveState(), null);

  // A state saved under another noise multiplier would corrupt the accounting: refused.
  const other = withDifferentialPrivacy(new FedAvgM(), { ...options(), noiseMultiplier: 1.5, adaptiveClipping: { clippedCountStddev: 1 } });
  assert.throws(() => other.loadState(saved), is(ErrorCode.INVALID_ARGUMENT, 'state.dp.noiseMultiplier'));
  assert.throws(() => b.loadState(model([1, 2])), is(ErrorCode.INVALID_ARGUMENT, 'state.tensors[0]'));
});

test('fixed clipping with a stateless inner: state round-trips and the clipping norm stays a double', () => {
  const s = withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 0, clippingNorm: 0.1, sampledMembers: 1 });
  s.aggregateTrain(1, model([0]), [result('a', [1])], []);
  const state = s.saveState();
  assert.deepEqual(state.specs, [{ name: 'dp/state', shape: [10] }]);
  const t = withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 0, clippingNorm: 0.1, sampledMembers: 1 });
  t.loadState(state);
  assert.equal(t.currentClippingNorm, 0.1);
  assert.deepEqual(t.privacyLog(), s.privacyLog());
});

test('delegates configuration and evaluation; reports member metrics and DP metrics', () => {
  const dp = withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 0, clippingNorm: 10 });
  const ctx = roundContext({ available: 6, config: { fractionTrain: 0.5, minTrainMembers: 1 } });
  assert.deepEqual(dp.configureTrain(ctx), new FedAvg().configureTrain(roundContext({ available: 6, config: { fractionTrain: 0.5, minTrainMembers: 1 } })));
  assert.deepEqual(dp.configureEvaluate(ctx), new FedAvg().configureEvaluate(ctx));
  const evaluation = [{ memberId: 'a', numExamples: 1, loss: 1, metrics: {} }];
  assert.deepEqual(dp.aggregateEvaluate(1, evaluation, []), new FedAvg().aggregateEvaluate(1, evaluation, []));
  assert.equal(dp.name, 'dp-fedavg');
  assert.equal(dp.memberPrivacy(1), null, 'central mode asks nothing of members');
  const out = dp.aggregateTrain(1, model([0]), [result('m0', [1], 1, { loss: 1 }), result('m1', [1], 3, { loss: 0.6 })], []);
  assert.ok(out);
  assert.equal(out.metrics.members, 2);
  assert.equal(out.metrics.numExamples, 4);
  assert.ok(Math.abs(out.metrics.loss! - 0.7) < 1e-12);
  assert.equal(out.metrics.dpSamplingRate, 0.5);
});

test('refuses what would break the guarantee or the arithmetic, naming the field', () => {
  assert.throws(() => withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: -1, clippingNorm: 1 }), is(ErrorCode.INVALID_ARGUMENT, 'strategy.options.noiseMultiplier'));
  assert.throws(() => withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 1, clippingNorm: 0 }), is(ErrorCode.INVALID_ARGUMENT, 'strategy.options.clippingNorm'));
  assert.throws(() => withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 1, clippingNorm: 1, mode: 'local' as 'central' }), is(ErrorCode.INVALID_ARGUMENT, 'strategy.options.mode'));
  assert.throws(() => withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 1, clippingNorm: 1, clip: 2 } as never), is(ErrorCode.INVALID_ARGUMENT, 'strategy.options.clip'));
  const dp = withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 1, clippingNorm: 1 });
  assert.throws(() => dp.aggregateTrain(7, model([0]), [result('a', [1])], []), is(ErrorCode.INVALID_ARGUMENT, 'sampledMembers'));
  const fixed = withDifferentialPrivacy(new FedAvg(), { noiseMultiplier: 1, clippingNorm: 1, sampledMembers: 1 });
  assert.throws(() => fixed.aggregateTrain(1, model([0, 0]), [result('a', [1])], []), is(ErrorCode.SHAPE_MISMATCH, 'results[0].parameters.tensors.w.shape'));
  assert.throws(() => fixed.aggregateTrain(1, model([0]), [result('a', [NaN])], []), is(ErrorCode.NON_FINITE, 'results[0].parameters.tensors.w[0]'));
  assert.equal(fixed.aggregateTrain(1, model([0]), [], [{ memberId: 'a', reason: 'timeout' }]), null);
  assert.equal(fixed.privacyLog().length, 0, 'a round that releases nothing spends nothing');
});
