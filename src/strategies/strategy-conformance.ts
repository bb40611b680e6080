// The conformance suite every Strategy runs (see conformance.test.ts): empty rounds keep
// the model, bad results are refused with the right code and field, selection follows
// fraction/min and the seed, and a strategy restored from its checkpointed state continues
// exactly as the one that never stopped. Also the small fixtures the strategy tests share.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode } from '../protocol/errors.js';
import { decodeFrame, encodeFrame } from '../protocol/frame.js';
import { type RunConfigInput, RunConfigSchema } from '../protocol/messages.js';
import { type Parameters, type TensorSpec, cloneParameters, makeParameters } from '../protocol/tensors.js';
import { seededRandom } from '../core/random.js';
import type { EvaluateResult, MemberRef, RoundContext, Strategy, TrainResult } from './strategy.js';

export const SPECS: TensorSpec[] = [
  { name: 'dense/kernel', shape: [2, 1] },
  { name: 'dense/bias', shape: [1] },
];

export const params = (values: number[], specs: TensorSpec[] = SPECS): Parameters => makeParameters(specs, Float32Array.from(values));

export const trainResult = (memberId: string, values: number[], numExamples: number, metrics: Record<string, number> = {}): TrainResult => ({
  memberId,
  parameters: params(values),
  numExamples,
  metrics,
});

export const evaluateResult = (memberId: string, loss: number, numExamples: number, metrics: Record<string, number> = {}): EvaluateResult => ({
  memberId,
  loss,
  numExamples,
  metrics,
});

export const members = (n: number): MemberRef[] =>
  Array.from({ length: n }, (_, i) => ({ memberId: `m${i}`, name: `member-${i}`, numExamples: 10 * (i + 1) }));

export function roundContext(options: { available?: number; seed?: number; serverRound?: number; config?: Partial<RunConfigInput> } = {}): RoundContext {
  const { available = 10, seed = 1, serverRound = 1 } = options;
  const config = RunConfigSchema.parse({
    model: { family: 'mlp', inputShape: [2], classes: 2 },
    rounds: 3,
    train: { epochs: 2, batchSize: 8, learningRate: 0.1 },
    ...options.config,
  });
  return { serverRound, parameters: params([0, 0, 0]), available: members(available), config, random: seededRandom(seed, serverRound) };
}

/** Asserts that fn throws a ConcordError with this code whose details.field starts with `field`. */
export function assertConcordError(fn: () => unknown, code: string, field?: string): void {
  assert.throws(fn, (error: unknown) => {
    const e = error as { code?: string; details?: { field?: string } };
    assert.equal(e.code, code, `error code (message: ${(error as Error).message})`);
    if (field !== undefined) assert.ok(e.details?.field?.startsWith(field), `field ${e.details?.field} should start with ${field}`);
    return true;
  });
}

export function assertClose(actual: ArrayLike<number>, expected: number[], tolerance = 1e-6, what = 'value'): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tolerance, `${what}[${i}] = ${actual[i]}, expected ${expected[i]} ± ${tolerance}`);
  }
}

/** Three rounds of updates that move every coordinate, for resume tests. */
const ROUNDS: number[][][] = [
  [[1, 2, 3], [3, 6, -1]],
  [[0.5, -1, 2], [2, 0, 1]],
  [[-1, 1, 0.25], [0, 2, -2]],
];

function playRound(strategy: Strategy, round: number, current: Parameters): Parameters {
  const [a, b] = ROUNDS[round - 1]!;
  const out = strategy.aggregateTrain(round, current, [trainResult('m0', a!, 1), trainResult('m1', b!, 3)], []);
  assert.ok(out, `round ${round} aggregates`);
  return out.parameters;
}

export function strategyConformance(label: string, create: () => Strategy): void {
  describe(`${label}: Strategy conformance`, () => {
    test('no results: aggregateTrain and aggregateEvaluate keep the model (null)', () => {
      const s = create();
      assert.equal(s.aggregateTrain(1, params([1, 2, 3]), [], [{ memberId: 'm0', reason: 'timeout' }]), null);
      assert.equal(s.aggregateEvaluate(1, [], [{ memberId: 'm0', reason: 'timeout' }]), null);
    });

    test('results without examples carry no weight: null', () => {
      const s = create();
      assert.equal(s.aggregateTrain(1, params([1, 2, 3]), [trainResult('m0', [4, 5, 6], 0)], []), null);
      assert.equal(s.aggregateEvaluate(1, [evaluateResult('m0', 0.5, 0)], []), null);
    });

    test('every member returning the current model keeps it', () => {
      const s = create();
      const current = params([0.5, -1.5, 2]);
      const out = s.aggregateTrain(1, current, [trainResult('m0', [0.5, -1.5, 2], 1), trainResult('m1', [0.5, -1.5, 2], 3)], []);
      assert.ok(out);
      assert.deepEqual(Array.from(out.parameters.data), [0.5, -1.5, 2]);
      assert.deepEqual(out.parameters.specs, SPECS);
    });

    test('does not modify the current model or the results', () => {
      const s = create();
      const current = params([0, 0, 0]);
      const results = [trainResult('m0', [1, 2, 3], 1), trainResult('m1', [3, 6, -1], 3)];
      s.aggregateTrain(1, current, results, []);
      assert.deepEqual(Array.from(current.data), [0, 0, 0]);
      assert.deepEqual(Array.from(results[0]!.parameters.data), [1, 2, 3]);
      assert.deepEqual(Array.from(results[1]!.parameters.data), [3, 6, -1]);
    });

    test('reports example-weighted metrics, numExamples and members', () => {
      const s = create();
      // loss: (1·1.0 + 3·0.6) / 4 = 0.7; accuracy: (1·0.5 + 3·0.9) / 4 = 0.8; `extra` only from m1.
      const out = s.aggregateTrain(1, params([0, 0, 0]), [trainResult('m0', [1, 2, 3], 1, { loss: 1, accuracy: 0.5 }), trainResult('m1', [3, 6, -1], 3, { loss: 0.6, accuracy: 0.9, extra: 7 })], []);
      assert.ok(out);
      assertClose([out.metrics.loss!, out.metrics.accuracy!, out.metrics.extra!], [0.7, 0.8, 7], 1e-12, 'metrics');
      assert.equal(out.metrics.numExamples, 4);
      assert.equal(out.metrics.members, 2);
    });

    test('aggregateEvaluate: example-weighted loss and metrics', () => {
      const s = create();
      // loss: (1·1.0 + 3·0.6) / 4 = 0.7; accuracy: (1·0.5 + 3·0.9) / 4 = 0.8.
      const out = s.aggregateEvaluate(1, [evaluateResult('m0', 1, 1, { accuracy: 0.5 }), evaluateResult('m1', 0.6, 3, { accuracy: 0.9 })], []);
      assert.ok(out);
      assertClose([out.loss, out.metrics.accuracy!], [0.7, 0.8], 1e-12, 'evaluate');
      assert.equal(out.metrics.numExamples, 4);
      assert.equal(out.metrics.members, 2);
    });

    test('refuses a result whose tensors differ from the model: SHAPE_MISMATCH naming the result', () => {
      const s = create();
      const bad: TrainResult = { memberId: 'm1', parameters: params([1, 2, 3], [{ name: 'dense/kernel', shape: [1, 2] }, { name: 'dense/bias', shape: [1] }]), numExamples: 1, metrics: {} };
      assertConcordError(() => s.aggregateTrain(1, params([0, 0, 0]), [trainResult('m0', [1, 2, 3], 1), bad], []), ErrorCode.SHAPE_MISMATCH, 'results[1].parameters.tensors.dense/kernel.shape');
      const renamed: TrainResult = { ...bad, parameters: params([1, 2, 3], [{ name: 'other', shape: [2, 1] }, { name: 'dense/bias', shape: [1] }]) };
      assertConcordError(() => s.aggregateTrain(1, params([0, 0, 0]), [renamed], []), ErrorCode.SHAPE_MISMATCH, 'results[0].parameters.tensors[0].name');
      const short: TrainResult = { ...bad, parameters: { specs: SPECS, data: new Float32Array(2) } };
      assertConcordError(() => s.aggregateTrain(1, params([0, 0, 0]), [short], []), ErrorCode.SHAPE_MISMATCH, 'results[0].parameters.data');
    });

    test('refuses NaN and Infinity: NON_FINITE naming tensor and index', () => {
      const s = create();
      assertConcordError(() => s.aggregateTrain(1, params([0, 0, 0]), [trainResult('m0', [1, NaN, 3], 1)], []), ErrorCode.NON_FINITE, 'results[0].parameters.tensors.dense/kernel[1]');
      assertConcordError(() => s.aggregateTrain(1, params([0, 0, 0]), [trainResult('m0', [1, 2, 3], 1), trainResult('m1', [1, 2, Infinity], 1)], []), ErrorCode.NON_FINITE, 'results[1].parameters.tensors.dense/bias[0]');
      assertConcordError(() => s.aggregateTrain(1, params([0, 0, 0]), [trainResult('m0', [1, 2, 3], 1, { loss: NaN })], []), ErrorCode.NON_FINITE, 'results[0].metrics.loss');
      assertConcordError(() => s.aggregateEvaluate(1, [evaluateResult('m0', NaN, 1)], []), ErrorCode.NON_FINITE, 'results[0].loss');
    });

    test('refuses negative or fractional numExamples: INVALID_ARGUMENT', () => {
      const s = create();
      assertConcordError(() => s.aggregateTrain(1, params([0, 0, 0]), [trainResult('m0', [1, 2, 3], -1)], []), ErrorCode.INVALID_ARGUMENT, 'results[0].numExamples');
      assertConcordError(() => s.aggregateEvaluate(1, [evaluateResult('m0', 0.5, 1.5)], []), ErrorCode.INVALID_ARGUMENT, 'results[0].numExamples');
    });

    test('errors carry the member id', () => {
      const s = create();
      assert.throws(() => s.aggregateTrain(1, params([0, 0, 0]), [trainResult('member-x', [1, NaN, 3], 1)], []), (e: { details: { memberId?: string }; message: string }) => {
        assert.equal(e.details.memberId, 'member-x');
        assert.match(e.message, /member-x/);
        return true;
      });
    });

    test('configureTrain: n = max(ceil(fraction·N), min) capped at N, distinct, in available order', () => {
      const s = create();
      const cases: [number, number, number][] = [
        [0.3, 2, 3], // ceil(0.3·10) = 3
        [0.1, 2, 2], // ceil(0.1·10) = 1 → min 2
        [0.25, 1, 3], // ceil(2.5) = 3
        [1, 2, 10],
        [0.5, 20, 10], // min above N: all 10
      ];
      for (const [fractionTrain, minTrainMembers, expected] of cases) {
        const picked = s.configureTrain(roundContext({ config: { fractionTrain, minTrainMembers } }));
        assert.equal(picked.length, expected, `fraction ${fractionTrain}, min ${minTrainMembers}`);
        const order = picked.map((p) => Number(p.memberId.slice(1)));
        assert.deepEqual(order, [...order].sort((a, b) => a - b), 'stable order');
        assert.equal(new Set(order).size, order.length, 'distinct');
      }
    });

    test('configureTrain: the run train config goes to every member', () => {
      const s = create();
      for (const i of s.configureTrain(roundContext({ config: { fractionTrain: 0.5 } }))) {
        assert.equal(i.config.epochs, 2);
        assert.equal(i.config.batchSize, 8);
        assert.equal(i.config.learningRate, 0.1);
      }
    });

    test('selection is deterministic for a seed and varies with it', () => {
      const pick = (seed: number) => create().configureTrain(roundContext({ seed, config: { fractionTrain: 0.3 } })).map((i) => i.memberId).join(',');
      assert.equal(pick(7), pick(7));
      const distinct = new Set([1, 2, 3, 4, 5, 6, 7, 8].map(pick));
      assert.ok(distinct.size > 1, 'different seeds choose different members');
    });

    test('configureEvaluate: follows fractionEvaluate/minEvaluateMembers; none at fraction 0', () => {
      const s = create();
      assert.deepEqual(s.configureEvaluate(roundContext({ config: { fractionEvaluate: 0, minEvaluateMembers: 0 } })), []);
      assert.equal(s.configureEvaluate(roundContext({ config: { fractionEvaluate: 0.5, minEvaluateMembers: 1 } })).length, 5);
      assert.equal(s.configureEvaluate(roundContext({ config: { fractionEvaluate: 0.1, minEvaluateMembers: 3 } })).length, 3);
      assert.equal(s.configureEvaluate(roundContext({ config: { fractionEvaluate: 1 } })).length, 10);
    });

    test('saveState → loadState on a fresh instance continues identically (resume after restart)', () => {
      const steady = create();
      let model = params([0.25, -0.5, 1]);
      model = playRound(steady, 1, model);
      model = playRound(steady, 2, model);
      const saved = steady.saveState();
      // Through the wire/checkpoint codec, as the coordinator stores it.
      const restoredState = saved === null ? null : decodeFrame(encodeFrame({ kind: 'state' }, saved)).parameters!;
      const restarted = create();
      restarted.loadState(restoredState === null ? null : cloneParameters(restoredState));
      const a = playRound(steady, 3, model);
      const b = playRound(restarted, 3, model);
      assert.deepEqual(Array.from(b.data), Array.from(a.data));
      assert.deepEqual(restarted.saveState(), steady.saveState());
    });

    test('saved state is a snapshot: later rounds do not change it', () => {
      const s = create();
      const model = playRound(s, 1, params([0.25, -0.5, 1]));
      const saved = s.saveState();
      const copy = saved === null ? null : cloneParameters(saved);
      playRound(s, 2, model);
      assert.deepEqual(saved, copy);
    });

    test('loadState(null) resets to a fresh strategy', () => {
      const used = create();
      playRound(used, 1, params([0.25, -0.5, 1]));
      used.loadState(null);
      const fresh = create();
      const start = params([1, 1, 1]);
      assert.deepEqual(Array.from(playRound(used, 1, start).data), Array.from(playRound(fresh, 1, start).data));
    });

    test('state of another model is refused: SHAPE_MISMATCH (stateless strategies refuse any state)', () => {
      const s = create();
      playRound(s, 1, params([0.25, -0.5, 1]));
      const saved = s.saveState();
      if (saved === null) {
        assertConcordError(() => create().loadState(params([1, 2, 3])), ErrorCode.INVALID_ARGUMENT, 'state');
        return;
      }
      assert.ok(saved.specs.every((spec) => /^[a-z]+\/dense\/(kernel|bias)$/.test(spec.name)), 'state tensors are named <buffer>/<tensor>');
      const other = create();
      other.loadState(saved);
      const bigger: TensorSpec[] = [{ name: 'dense/kernel', shape: [3, 1] }, { name: 'dense/bias', shape: [1] }];
      const current = params([0, 0, 0, 0], bigger);
      const result: TrainResult = { memberId: 'm0', parameters: params([1, 1, 1, 1], bigger), numExamples: 1, metrics: {} };
      assertConcordError(() => other.aggregateTrain(2, current, [result], []), ErrorCode.SHAPE_MISMATCH, 'state');
    });
  });
}
