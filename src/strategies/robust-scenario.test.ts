// A synthetic poisoning scenario: 9 members, 7 honest whose updates are the true direction
// plus small noise, 2 malicious. FedAvg follows the attackers; the robust strategies (and
// FedAvg behind update validation) stay with the honest majority.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gaussian, seededRandom } from '../core/random.js';
import { type Parameters, makeParameters } from '../protocol/tensors.js';
import { FedAvg } from './fedavg.js';
import { FedAvgNormBound } from './fedavg-normbound.js';
import { FedMedian } from './fedmedian.js';
import { FedTrimmedAvg } from './fedtrimmedavg.js';
import { Krum, MultiKrum } from './krum.js';
import type { Strategy, TrainResult } from './strategy.js';
import { withUpdateValidation } from './validation.js';

const P = 2000;
const SPECS = [
  { name: 'layer/kernel', shape: [P - 10] },
  { name: 'layer/bias', shape: [10] },
];

function vector(random: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: P }, () => scale * gaussian(random));
}

const random = seededRandom(2024);
const global = makeParameters(SPECS, vector(random));
const truth = vector(random); // the direction honest training moves the model in
const backdoor = vector(random); // a direction only the attackers want

/** θ + Δ as a result. */
function result(memberId: string, delta: Float32Array, numExamples = 100): TrainResult {
  return { memberId, parameters: makeParameters(SPECS, global.data.map((g, i) => g + delta[i]!)), numExamples, metrics: {} };
}

const honest = Array.from({ length: 7 }, (_, k) => {
  const noise = vector(random, 0.1);
  return result(`honest-${k}`, truth.map((t, i) => t + noise[i]!));
});

const flipped = (numExamples?: number) => result('evil-0', truth.map((t) => -10 * t), numExamples);

const SCENARIOS: Record<string, TrainResult[]> = {
  'two sign-flipped ×10': [...honest, flipped(), result('evil-1', truth.map((t) => -10 * t))],
  'two boosted ×50 towards a backdoor': [...honest, result('evil-0', backdoor.map((b) => 50 * b)), result('evil-1', backdoor.map((b) => 50 * b))],
  'one sign-flipped ×10, one scaled ×50': [...honest, flipped(), result('evil-1', truth.map((t) => 50 * t))],
};

function delta(p: Parameters): Float64Array {
  return Float64Array.from(p.data, (v, i) => v - global.data[i]!);
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot / (norm(a) * norm(b));
}

/** ‖Δ − truth‖ / ‖truth‖: 0 when the aggregate moved exactly as honest training would. */
function error(d: Float64Array): number {
  return norm(d.map((v, i) => v - truth[i]!)) / norm(truth);
}

const ROBUST: Record<string, () => Strategy> = {
  fedmedian: () => new FedMedian(),
  // β must cover the attackers' fraction (2/9): β = 0.25 trims 2 at each end.
  'fedtrimmedavg (beta 0.25)': () => new FedTrimmedAvg({ beta: 0.25 }),
  krum: () => new Krum(),
  multikrum: () => new MultiKrum(),
  'fedavg-normbound': () => new FedAvgNormBound(),
  'fedavg + validation (maxNormRatio 5)': () => withUpdateValidation(new FedAvg(), { maxNormRatio: 5 }),
};

function aggregate(strategy: Strategy, results: TrainResult[]): Float64Array {
  const out = strategy.aggregateTrain(1, global, results, []);
  assert.ok(out);
  return delta(out.parameters);
}

describe('poisoning scenario: 7 honest members, 2 malicious', () => {
  test('without attackers every strategy moves along the true direction', () => {
    for (const [label, create] of Object.entries({ fedavg: () => new FedAvg(), ...ROBUST })) {
      const d = aggregate(create(), honest);
      assert.ok(cosine(d, truth) > 0.99, `${label}: cos ${cosine(d, truth)}`);
    }
  });

  for (const [scenario, results] of Object.entries(SCENARIOS)) {
    test(`${scenario}: FedAvg is pulled away, robust strategies stay close`, () => {
      const avg = aggregate(new FedAvg(), results);
      const cos = cosine(avg, truth);
      assert.ok(cos < 0 || error(avg) > 3, `FedAvg should be pulled off: cos ${cos.toFixed(3)}, error ${error(avg).toFixed(2)}`);
      for (const [label, create] of Object.entries(ROBUST)) {
        const d = aggregate(create(), results);
        assert.ok(cosine(d, truth) > 0.9, `${label}: cos ${cosine(d, truth).toFixed(3)}`);
        assert.ok(error(d) < 0.5, `${label}: error ${error(d).toFixed(3)}`);
      }
    });
  }

  test('FedAvg numbers: negative cosine under sign flips, far off under boosting', () => {
    const signFlipped = aggregate(new FedAvg(), SCENARIOS['two sign-flipped ×10']!);
    // Δ ≈ (7·t − 20·t)/9 = −1.44·t.
    assert.ok(cosine(signFlipped, truth) < -0.99);
    const boosted = aggregate(new FedAvg(), SCENARIOS['two boosted ×50 towards a backdoor']!);
    // Δ ≈ (7·t + 100·b)/9: almost all backdoor (cos with t ≈ 0.07 plus the chance overlap of t and b).
    assert.ok(cosine(boosted, truth) < 0.25);
    assert.ok(cosine(boosted, backdoor) > 0.95);
    const scaled = aggregate(new FedAvg(), SCENARIOS['one sign-flipped ×10, one scaled ×50']!);
    // Δ ≈ (7·t − 10·t + 50·t)/9 ≈ 5.2·t: the right direction, five times too far.
    assert.ok(error(scaled) > 4);
  });

  test('an attacker claiming 30× the examples: the robust rules ignore counts, norm-bounded FedAvg does not', () => {
    const results = [...honest, flipped(3000)];
    for (const label of ['fedmedian', 'fedtrimmedavg (beta 0.25)', 'krum', 'multikrum']) {
      assert.ok(cosine(aggregate(ROBUST[label]!(), results), truth) > 0.9, label);
    }
    // Clipped to the median norm, its delta still carries 3000 of 3700 examples: (700·t − 3000·t)/3700 < 0.
    assert.ok(cosine(aggregate(new FedAvgNormBound(), results), truth) < 0);
  });

  test('trimming less than the attackers’ share is not enough: β = 0.2 trims one of two', () => {
    const d = aggregate(new FedTrimmedAvg({ beta: 0.2 }), SCENARIOS['two sign-flipped ×10']!);
    // Each coordinate keeps one attacker among seven values: (6·t − 10·t)/7 < 0.
    assert.ok(cosine(d, truth) < 0);
  });

  test('update validation names the attackers and lowers their reputation', () => {
    const s = withUpdateValidation(new FedAvg());
    s.aggregateTrain(1, global, SCENARIOS['two boosted ×50 towards a backdoor']!, []);
    assert.deepEqual(
      s.lastRejections().map((f) => f.memberId),
      ['evil-0', 'evil-1'],
    );
    assert.match(s.lastRejections()[0]!.reason, /^delta norm [\d.]+ is [\d.]+× the round median [\d.]+; limit 10×$/);
    const scores = Object.fromEntries(s.reputation().members.map((m) => [m.memberId, m.score]));
    assert.equal(scores['evil-0'], Math.fround(0.8));
    assert.equal(scores['honest-0'], 1);
  });
});
