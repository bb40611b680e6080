// Every valuation method against games whose values are computed by hand, and the
// uncertainty and sharing rules that come with them.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseMethod } from '../coordinator/contributions.js';
import { parseAgreement } from '../governance/agreement.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { makeParameters, type Parameters } from '../protocol/tensors.js';
import { shareRewards } from './benefit-sharing.js';
import { exactReplicates, permutationReplicates, pointValues } from './estimators.js';
import { valueRun, type ValuationRound } from './federated.js';
import { SummedUpdates, valueFinalModels } from './final-model.js';
import { asReplicateValue, type CoalitionValue } from './game.js';
import { VALUATION_METHOD_INFO, VALUATION_METHODS, valuationMethod } from './methods.js';
import { valueByRetraining } from './retrain.js';
import { ReplicateScorer, ValidationBootstrap } from './scores.js';
import { bootstrapVariance, ValueTotals } from './uncertainty.js';

const SPECS = [{ name: 'w', shape: [1] }];
const scalar = (x: number): Parameters => makeParameters(SPECS, Float32Array.of(x));
const close = (actual: Record<string, number>, expected: Record<string, number>, tolerance = 1e-9) => {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort());
  for (const [k, v] of Object.entries(expected)) assert.ok(Math.abs(actual[k]! - v) <= tolerance, `${k}: ${actual[k]} ≠ ${v}`);
};
const update = (member: string, x: number, numExamples = 1) => ({ member, numExamples, parameters: scalar(x) });

const glove: CoalitionValue = (s) => Math.min(s.filter((p) => p === 'L').length, s.filter((p) => p.startsWith('R')).length);
const majority = (quota: number, weights: Record<string, number>): CoalitionValue => (s) => (s.reduce((sum, p) => sum + weights[p]!, 0) >= quota ? 1 : 0);

describe('estimators on replicate games', () => {
  it('exact values are linear in v: each replicate of the glove game gets its own values', async () => {
    // Replicate 0 is the glove game, replicate 1 twice it: φ = (2/3, 1/6, 1/6) and twice that.
    const estimate = await exactReplicates(['L', 'R1', 'R2'], async (s) => {
      const v = glove(s) as number;
      return Float64Array.of(v, 2 * v);
    });
    close(pointValues(estimate), { L: 2 / 3, R1: 1 / 6, R2: 1 / 6 });
    assert.ok(Math.abs(estimate.replicates.L![1]! - 4 / 3) < 1e-12);
    assert.equal(estimate.samplingCovariance, null);
  });

  it('guided permutations (GTG) put each player first in turn; on a 2-player game one cycle is exact', async () => {
    const firsts: string[] = [];
    const v: CoalitionValue = (s) => (s.length === 1 ? (s[0] === 'a' ? 2 : 4) : s.length === 2 ? 3 : 0);
    const estimate = await permutationReplicates(['a', 'b'], asReplicateValue(v), { seed: 9, permutations: 50, guided: true, convergenceTolerance: 0.05, onProgress: (done) => firsts.push(String(done)) });
    // a: ½·2 + ½·(3 − 4) = 0.5, b: ½·4 + ½·(3 − 2) = 2.5; converged after two cycles (no change).
    close(pointValues(estimate), { a: 0.5, b: 2.5 });
    assert.equal(estimate.permutations, 4);
    assert.equal(firsts.length, 4);
  });

  it('the weighted-majority game [51; 50, 49, 1] by sampled permutations lies within 3 standard errors of 2/3, 1/6, 1/6', async () => {
    const players = ['A', 'B', 'C'];
    const estimate = await permutationReplicates(players, asReplicateValue(majority(51, { A: 50, B: 49, C: 1 })), { seed: 4, permutations: 300, guided: true });
    const expected: Record<string, number> = { A: 2 / 3, B: 1 / 6, C: 1 / 6 };
    players.forEach((p, i) => {
      const se = Math.sqrt(estimate.samplingCovariance![i * 3 + i]!);
      assert.ok(se > 0 && Math.abs(estimate.replicates[p]![0]! - expected[p]!) <= 3 * se, `${p}: ${estimate.replicates[p]![0]} (se ${se})`);
    });
  });
});

describe('final-model Shapley', () => {
  // θ_0 = 0. Round 1: a sends 1, b sends 3 (θ_1 = 2). Round 2: a sends 2 (Δ 0), b sends 6 (Δ 4)
  // (θ_2 = 4). Round 3: only b, from 4 to 5 (Δ 1). Summed deltas: group {a, b}: a 1, b 7;
  // group {b}: b 1. v(∅) = 0, v(a) = 1, v(b) = 7 + 1 = 8, v(ab) = (1 + 7)/2 + 1 = 5 = θ_3.
  // φ_a = ½·1 + ½·(5 − 8) = −1, φ_b = ½·8 + ½·(5 − 1) = 6; Σ = v(N) − v(∅) = 5.
  const rounds: ValuationRound[] = [
    { round: 1, previous: scalar(0), updates: [update('a', 1), update('b', 3)] },
    { round: 2, previous: scalar(2), updates: [update('a', 2), update('b', 6)] },
    { round: 3, previous: scalar(4), updates: [update('b', 5)] },
  ];

  it('rebuilds each coalition model from summed deltas, by hand', () => {
    const summed = new SummedUpdates();
    for (const r of rounds) summed.add(r);
    assert.equal(summed.groups.size, 2);
    assert.deepEqual([[], ['a'], ['b'], ['a', 'b']].map((s) => summed.coalitionModel(s).data[0]), [0, 1, 8, 5]);
  });

  it('values the hand-computed run exactly, with zero error when scores do not vary by example', async () => {
    const result = await valueFinalModels(rounds, { utility: (p) => [p.data[0]!, p.data[0]!] });
    assert.equal(result.method, 'final-model');
    assert.equal(result.estimator, 'exact');
    close(result.values, { a: -1, b: 6 });
    assert.equal(result.grandValue, 5);
    assert.equal(result.emptyValue, 0);
    assert.equal(result.evaluations, 4);
    assert.equal(result.bootstrap.resamples, 200);
    assert.equal(result.uncertainty.b!.standardError, 0);
    assert.deepEqual(result.indistinguishable, []);
  });

  it('carries the validation set sampling error through: se(φ) = |φ| · se(mean of the example weights)', async () => {
    // Example i scores θ · w_i: every value is φ(θ-game) · mean(w), so its bootstrap
    // replicates are φ · (mean of w on each resample).
    const w = [0, 1, 2, 3, 4, 5, 6, 7];
    const result = await valueFinalModels(rounds, { utility: (p) => w.map((x) => p.data[0]! * x), bootstrap: 100, seed: 3 });
    const meanW = w.reduce((s, x) => s + x, 0) / w.length;
    close(result.values, { a: -1 * meanW, b: 6 * meanW });
    const resampled = new ValidationBootstrap(w.length, 100, 3).replicate(w);
    const se = Math.sqrt(bootstrapVariance(resampled));
    assert.ok(se > 0);
    assert.ok(Math.abs(result.uncertainty.b!.standardError - 6 * se) < 1e-9);
    assert.ok(Math.abs(result.uncertainty.a!.standardError - 1 * se) < 1e-9);
    assert.ok(Math.abs(result.uncertainty.b!.low - (6 * meanW - 1.959963984540054 * 6 * se)) < 1e-9);
  });

  it('one round: equals the round-wise exact value', async () => {
    const one = rounds.slice(0, 1);
    const finalModel = await valueFinalModels(one, { utility: (p) => p.data[0]! });
    const roundWise = await valueRun(one, { utility: (p) => p.data[0]!, method: 'exact' });
    close(finalModel.values, roundWise.values);
  });
});

describe('round-wise GTG-Shapley', () => {
  it('skips a round whose full update gained less than the tolerance, and values the others as exact does', async () => {
    const rounds: ValuationRound[] = [
      { round: 1, previous: scalar(0), updates: [update('a', 2), update('b', 4)] },
      { round: 2, previous: scalar(3), updates: [update('a', 3.0005), update('b', 3.0005)] },
    ];
    const gtg = await valueRun(rounds, { utility: (p) => p.data[0]!, method: 'gtg', betweenRoundTolerance: 0.001 });
    assert.equal(gtg.method, 'gtg');
    // Round 1: φ_a = ½·2 + ½·(3 − 4) = 0.5, φ_b = 2.5; round 2 skipped (gain 0.0005).
    close(gtg.values, { a: 0.5, b: 2.5 }, 1e-6);
    assert.equal(gtg.rounds[1]!.skipped, true);
    assert.equal(gtg.rounds[1]!.evaluations, 2);
    const exact = await valueRun(rounds, { utility: (p) => p.data[0]!, method: 'exact' });
    close(exact.values, { a: 0.5 + 0.00025, b: 2.5 + 0.00025 }, 1e-6);
  });
});

describe('retraining-based Shapley', () => {
  // "Training" on a coalition gives a model whose weight is the coalition's value, so the
  // values are those of the game itself.
  const trainOn = (v: CoalitionValue) => async (coalition: string[]) => scalar((await v(coalition)) as number);

  it('3-player weighted majority [51; 50, 49, 1]: exact, one training per coalition, with progress', async () => {
    const progress: number[] = [];
    const result = await valueByRetraining({
      members: ['A', 'B', 'C'],
      train: trainOn(majority(51, { A: 50, B: 49, C: 1 })),
      utility: (p) => p.data[0]!,
      onProgress: (p) => progress.push(p.trainings),
    });
    assert.equal(result.estimator, 'exact');
    close(result.values, { A: 2 / 3, B: 1 / 6, C: 1 / 6 });
    assert.equal(result.trainings, 8);
    assert.deepEqual(progress, [1, 2, 3, 4, 5, 6, 7, 8]);
    // B and C are symmetric: they cannot be told apart; with exact values and no bootstrap,
    // A differs from both.
    assert.deepEqual(result.indistinguishable, [['B', 'C']]);
  });

  it('beyond 6 members samples permutations: an additive game of 8 comes out exact with zero error, trainings memoized', async () => {
    const own: Record<string, number> = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`m${i}`, i - 2]));
    const result = await valueByRetraining({
      members: Object.keys(own),
      train: trainOn((s) => s.reduce((sum, p) => sum + own[p]!, 0)),
      utility: (p) => p.data[0]!,
      permutations: 20,
      seed: 1,
    });
    assert.equal(result.estimator, 'monte-carlo');
    assert.equal(result.permutations, 20);
    close(result.values, own, 1e-6);
    for (const m of Object.keys(own)) assert.ok(result.uncertainty[m]!.standardError < 1e-6);
    assert.ok(result.trainings <= 2 + 20 * 7);
  });

  it('the glove game with 7 players (1 left, 6 right) sampled lies within 3 standard errors of 6/7 and 1/42', async () => {
    // Left glove: pivotal whenever a right glove precedes it: 6/7. Each right glove: (1 − 6/7)/6.
    const members = ['L', 'R1', 'R2', 'R3', 'R4', 'R5', 'R6'];
    const result = await valueByRetraining({ members, train: trainOn(glove), utility: (p) => p.data[0]!, permutations: 200, seed: 2 });
    const expected: Record<string, number> = Object.fromEntries(members.map((m) => [m, m === 'L' ? 6 / 7 : 1 / 42]));
    for (const m of members) {
      const se = result.uncertainty[m]!.standardError;
      assert.ok(Math.abs(result.values[m]! - expected[m]!) <= 3 * se + 1e-12, `${m}: ${result.values[m]} vs ${expected[m]} (se ${se})`);
    }
  });
});

describe('uncertainty', () => {
  it('differences use paired replicates: two members sharing one validation error are told apart even when intervals overlap', () => {
    const totals = new ValueTotals();
    // Replicates move together (same validation examples): a = b + 0.1 in every resample.
    const base = Float64Array.from({ length: 41 }, (_, r) => (r === 0 ? 0.5 : 0.5 + Math.sin(r) * 0.3));
    totals.add({ players: ['a', 'b', 'c'], replicates: { a: base.map((x) => x + 0.1), b: base, c: base.map((x) => x + 0.1) }, samplingCovariance: null });
    const s = totals.summarize();
    assert.ok(s.uncertainty.a!.low < s.uncertainty.b!.high, 'the intervals overlap');
    assert.deepEqual(s.indistinguishable, [['a', 'c']]);
  });

  it('a scorer refuses mixing numbers and per-example scores, and scores of another length', () => {
    const scorer = new ReplicateScorer(10, 0);
    scorer.toReplicates([1, 0, 1]);
    assert.throws(() => scorer.toReplicates(0.5), (e: unknown) => e instanceof ConcordError && e.details.field === 'utility');
    assert.throws(() => scorer.toReplicates([1, 0]), (e: unknown) => e instanceof ConcordError && e.details.field === 'utility');
  });
});

describe('benefit sharing with a floor', () => {
  it('sets aside a fraction by data volume for members not shown to be harmful, the rest by positive value', () => {
    // Pool 1000, floor 20 % by examples: a 100, b 300, c 600 examples; c is significantly harmful.
    const result = shareRewards({ a: 0.3, b: -0.01, c: -0.2 }, 1000, {
      rule: { floor: { fraction: 0.2, basis: 'examples' } },
      basis: { a: 100, b: 300, c: 600 },
      uncertainty: { a: { high: 0.4 }, b: { high: 0.02 }, c: { high: -0.1 } },
    });
    // Floor 200 split 100 : 300 between a and b; the remaining 800 all to a (the only positive value).
    close(result.floorShares!, { a: 50, b: 150, c: 0 });
    close(result.shares, { a: 850, b: 150, c: 0 });
    close(result.fractions, { a: 0.85, b: 0.15, c: 0 });
    assert.equal(result.undistributed, 0);
    assert.match(result.rule, /0\.2 · pool · examples_i/);
  });

  it('with no positive value only the floor is paid, and the rest is reported undistributed', () => {
    const result = shareRewards({ a: -0.1, b: 0 }, 100, { rule: { floor: { fraction: 0.1, basis: 'rounds' } }, basis: { a: 3, b: 1 } });
    close(result.shares, { a: 7.5, b: 2.5 });
    assert.ok(Math.abs(result.undistributed - 90) < 1e-9);
    assert.throws(() => shareRewards({ a: 1 }, 1, { rule: { floor: { fraction: 2, basis: 'rounds' } } }), (e: unknown) => e instanceof ConcordError && e.details.field === 'benefitSharing.floor.fraction');
  });
});

describe('methods registry and the agreement', () => {
  it('every method is described, with what it rewards, its biases and a citation; unknown names suggest the closest', () => {
    for (const m of VALUATION_METHODS) {
      const info = VALUATION_METHOD_INFO[m];
      assert.equal(info.name, m);
      assert.ok(info.rewards && info.biases && info.cites);
    }
    assert.throws(() => valuationMethod('final_model'), (e: unknown) => e instanceof ConcordError && e.details.field === 'method' && /did you mean "final-model"/.test(e.message));
  });

  it('the request may override the agreed method only where the agreement allows it', () => {
    assert.equal(chooseMethod(undefined, undefined), 'final-model');
    assert.equal(chooseMethod(undefined, { valuation: { method: 'gtg', overridable: true, bootstrap: 200 } }), 'gtg');
    assert.equal(chooseMethod('loo', { valuation: { method: 'gtg', overridable: true, bootstrap: 200 } }), 'loo');
    assert.throws(
      () => chooseMethod('loo', { valuation: { method: 'gtg', overridable: false, bootstrap: 200 } }),
      (e: unknown) => e instanceof ConcordError && e.code === ErrorCode.FORBIDDEN && e.details.field === 'method',
    );
  });

  const agreement = (extra: string) => `
version: 1
consortium: c
members:
  - { name: a, jurisdiction: DE, publicKey: UO3VtUzE_qJ0Xrye8LzX1V0WoTrIKfOpMjA31920sjU }
purposes: [p]
allowedStrategies: [fedavg]
allowedModelFamilies: [mlp]
minContributors: 1
secureAggregation: optional
differentialPrivacy: { required: false }
residency: { a: model-updates }
approvals: { plansNeed: 1 }
amendments: { signaturesRequired: all }
${extra}`;

  it('parses valuation, benefit-sharing and footprint clauses, strictly', () => {
    const parsed = parseAgreement(
      agreement(`valuation: { method: gtg, overridable: false }
benefitSharing: { floor: { fraction: 0.1, basis: examples } }
footprint: { network: { kWhPerGB: 0.01, low: 0.005, high: 0.02, year: 2023, source: measured }, networkCarbonIntensity: 300 }`),
    );
    assert.deepEqual(parsed.valuation, { method: 'gtg', overridable: false, bootstrap: 200 });
    assert.deepEqual(parsed.benefitSharing, { floor: { fraction: 0.1, basis: 'examples' } });
    assert.equal(parsed.footprint!.network!.kWhPerGB, 0.01);
    const refused = (extra: string, pattern: RegExp) =>
      assert.throws(() => parseAgreement(agreement(extra)), (e: unknown) => e instanceof ConcordError && pattern.test(e.message), extra);
    refused('valuation: { methd: gtg }', /valuation\.methd[\s\S]*method/);
    refused('valuation: { method: banzhaf }', /valuation\.method/);
    refused('benefitSharing: { floor: { fraction: 0.1, basis: money } }', /benefitSharing\.floor\.basis/);
    refused('footprint: { network: { kWhPerGB: 0.01, low: 0.02, high: 0.03, year: 2023, source: x } }', /low <= kWhPerGB <= high/);
  });
});
