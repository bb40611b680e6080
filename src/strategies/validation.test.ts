import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../protocol/errors.js';
import { decodeFrame, encodeFrame } from '../protocol/frame.js';
import type { Parameters } from '../protocol/tensors.js';
import { FedAvg } from './fedavg.js';
import { FedAvgM } from './fedavgm.js';
import { FedMedian } from './fedmedian.js';
import type { Failure, TrainResult } from './strategy.js';
import { assertClose, assertConcordError, params, roundContext, trainResult } from './strategy-conformance.js';
import { validateUpdates, withUpdateValidation } from './validation.js';

// From θ = 0: deltas a (4, 0, 0) norm 4, b (0, 3, 0) norm 3, c (0, 0, 5) norm 5, big (30, 40, 0) norm 50.
// Median of {3, 4, 5, 50} = 4.5; 50/4.5 = 11.1 > 10. nan and short are malformed and left out of the median.
const results = (): TrainResult[] => [
  trainResult('a', [4, 0, 0], 1),
  trainResult('nan', [1, NaN, 0], 1),
  trainResult('b', [0, 3, 0], 1),
  trainResult('big', [30, 40, 0], 1),
  trainResult('c', [0, 0, 5], 1),
  { memberId: 'short', parameters: { specs: params([0, 0, 0]).specs, data: new Float32Array(2) }, numExamples: 1, metrics: {} },
  trainResult('neg', [1, 1, 1], -1),
  trainResult('badmetric', [1, 1, 1], 1, { loss: Infinity }),
];

test('validateUpdates: malformed results and outsized deltas become failures with reasons', () => {
  const out = validateUpdates(params([0, 0, 0]), results());
  assert.deepEqual(
    out.accepted.map((r) => r.memberId),
    ['a', 'b', 'c'],
  );
  assert.equal(out.medianNorm, 4.5);
  assert.deepEqual(out.rejected, [
    { memberId: 'nan', reason: 'invalid update: tensor dense/kernel holds NaN at index 1; every value must be a finite number' },
    { memberId: 'big', reason: 'delta norm 50 is 11.1× the round median 4.5; limit 10×' },
    { memberId: 'short', reason: 'invalid update: results[5].parameters holds 2 values but its manifest describes 3' },
    { memberId: 'neg', reason: 'invalid update: results[6].numExamples is -1; it must be a non-negative integer' },
    { memberId: 'badmetric', reason: 'invalid update: results[7].metrics.loss is Infinity; metrics must be finite numbers' },
  ]);
});

test('validateUpdates: the limit is a multiple of the median; at the limit a delta passes', () => {
  const three = [trainResult('a', [1, 0, 0], 1), trainResult('b', [0, 2, 0], 1), trainResult('c', [0, 0, 4], 1)];
  // Norms 1, 2, 4; median 2. maxNormRatio 2: 4/2 = 2 is not above the limit.
  assert.equal(validateUpdates(params([0, 0, 0]), three, { maxNormRatio: 2 }).rejected.length, 0);
  // maxNormRatio 1.5: c is 2× the median.
  assert.deepEqual(validateUpdates(params([0, 0, 0]), three, { maxNormRatio: 1.5 }).rejected, [{ memberId: 'c', reason: 'delta norm 4 is 2× the round median 2; limit 1.5×' }]);
  assertConcordError(() => validateUpdates(params([0, 0, 0]), three, { maxNormRatio: 0.5 }), ErrorCode.INVALID_ARGUMENT, 'strategy.options.maxNormRatio');
});

test('validateUpdates: deltas are measured from the current model; a zero median skips the norm check', () => {
  // θ = (10, 10, 10): deltas (1, 0, 0), (0, 1, 0), (0, 0, 100) → median 1, the third is 100×.
  const shifted = [trainResult('a', [11, 10, 10], 1), trainResult('b', [10, 11, 10], 1), trainResult('c', [10, 10, 110], 1)];
  assert.deepEqual(validateUpdates(params([10, 10, 10]), shifted).rejected.map((f) => f.memberId), ['c']);
  // Two members return θ unchanged: the median norm is 0 and nothing is rejected for its norm.
  const idle = [trainResult('a', [10, 10, 10], 1), trainResult('b', [10, 10, 10], 1), trainResult('c', [10, 10, 110], 1)];
  const out = validateUpdates(params([10, 10, 10]), idle);
  assert.equal(out.medianNorm, 0);
  assert.equal(out.rejected.length, 0);
  assert.ok(Number.isNaN(validateUpdates(params([0, 0, 0]), []).medianNorm));
});

/** An inner strategy that records what it was given. */
function spy(): { inner: FedAvg; seen: { results: string[]; failures: Failure[] }[] } {
  const inner = new FedAvg();
  const seen: { results: string[]; failures: Failure[] }[] = [];
  const aggregate = inner.aggregateTrain.bind(inner);
  inner.aggregateTrain = (round, current, rs, failures) => {
    seen.push({ results: rs.map((r) => r.memberId), failures });
    return aggregate(round, current, rs, failures);
  };
  return { inner, seen };
}

test('withUpdateValidation: the inner strategy aggregates only accepted results and sees the rejections as failures', () => {
  const { inner, seen } = spy();
  const s = withUpdateValidation(inner);
  assert.equal(s.name, 'fedavg+validation');
  assert.equal(s.inner, inner);
  const out = s.aggregateTrain(1, params([0, 0, 0]), results(), [{ memberId: 'late', reason: 'timeout' }]);
  assert.ok(out);
  // FedAvg of a, b, c with one example each: (4, 3, 5)/3.
  assertClose(out.parameters.data, [4 / 3, 1, 5 / 3], 1e-6);
  assert.equal(out.metrics.rejected, 5);
  assert.equal(out.metrics.members, 3);
  assert.deepEqual(seen[0]!.results, ['a', 'b', 'c']);
  assert.deepEqual(
    seen[0]!.failures.map((f) => f.memberId),
    ['late', 'nan', 'big', 'short', 'neg', 'badmetric'],
  );
  assert.deepEqual(
    s.lastRejections().map((f) => f.memberId),
    ['nan', 'big', 'short', 'neg', 'badmetric'],
  );
});

test('withUpdateValidation: every result feeds its member reputation; all rejected keeps the model', () => {
  const s = withUpdateValidation(new FedMedian(), { reputationDecay: 0.5 });
  s.aggregateTrain(1, params([0, 0, 0]), results(), []);
  const r1 = s.reputation();
  assert.equal(r1.decay, 0.5);
  assert.deepEqual(
    r1.members.map((m) => [m.memberId, m.accepted, m.rejected, m.score]),
    [
      ['a', 1, 0, 1],
      ['b', 1, 0, 1],
      ['badmetric', 0, 1, 0.5],
      ['big', 0, 1, 0.5],
      ['c', 1, 0, 1],
      ['nan', 0, 1, 0.5],
      ['neg', 0, 1, 0.5],
      ['short', 0, 1, 0.5],
    ],
  );
  // Round 2: the only result is malformed; the inner gets nothing and the round keeps the model.
  assert.equal(s.aggregateTrain(2, params([0, 0, 0]), [trainResult('nan', [NaN, 0, 0], 1)], []), null);
  assert.deepEqual(s.reputation().members.find((m) => m.memberId === 'nan'), { memberId: 'nan', accepted: 0, rejected: 2, score: 0.25, lastRound: 2 });
});

test('withUpdateValidation: configure and evaluate go to the inner strategy unchanged', () => {
  const s = withUpdateValidation(new FedAvg());
  const ctx = roundContext({ config: { fractionTrain: 0.5 } });
  assert.deepEqual(s.configureTrain(ctx), new FedAvg().configureTrain(roundContext({ config: { fractionTrain: 0.5 } })));
  assert.deepEqual(s.aggregateEvaluate(1, [{ memberId: 'a', loss: 0.5, numExamples: 2, metrics: {} }], []), { loss: 0.5, metrics: { numExamples: 2, members: 1 } });
});

test('withUpdateValidation: state = inner tensors + reputation tensors; a restored strategy continues identically', () => {
  const create = () => withUpdateValidation(new FedAvgM({ momentum: 0.5 }));
  const round = (s: ReturnType<typeof create>, n: number, current: Parameters) => {
    const out = s.aggregateTrain(n, current, [trainResult('a', [n, 1, 0], 1), trainResult('b', [0, n, 1], 3), trainResult('c', [1, 0, n], 2), trainResult('evil', [1000 * n, 0, 0], 1)], []);
    assert.ok(out);
    return out.parameters;
  };
  const steady = create();
  assert.equal(steady.saveState(), null, 'nothing to save before the first round');
  let model = round(steady, 1, params([0, 0, 0]));
  model = round(steady, 2, model);
  const saved = steady.saveState();
  assert.ok(saved);
  assert.deepEqual(
    saved.specs.map((s) => s.name),
    ['strategy/momentum/dense/kernel', 'strategy/momentum/dense/bias', 'reputation/a', 'reputation/b', 'reputation/c', 'reputation/evil'],
  );
  const restarted = create();
  restarted.loadState(decodeFrame(encodeFrame({ kind: 'state' }, saved)).parameters!);
  assert.deepEqual(restarted.reputation(), steady.reputation());
  assert.deepEqual(Array.from(round(restarted, 3, model).data), Array.from(round(steady, 3, model).data));
  assert.deepEqual(restarted.saveState(), steady.saveState());
  assert.equal(steady.reputation().members.find((m) => m.memberId === 'evil')!.rejected, 3);
  // loadState(null) starts afresh.
  restarted.loadState(null);
  assert.deepEqual(restarted.reputation().members, []);
  assert.equal(restarted.saveState(), null);
});

test('withUpdateValidation: a state it did not write is refused and changes nothing', () => {
  const s = withUpdateValidation(new FedAvg());
  s.aggregateTrain(1, params([0, 0, 0]), [trainResult('a', [1, 1, 1], 1)], []);
  const before = s.saveState();
  assert.deepEqual(before?.specs, [{ name: 'reputation/a', shape: [4] }]);
  assertConcordError(() => s.loadState(params([1, 2, 3])), ErrorCode.INVALID_ARGUMENT, 'state.tensors[0].name');
  const badScore: Parameters = { specs: [{ name: 'reputation/x', shape: [4] }], data: Float32Array.from([1, 0, 2, 1]) };
  assertConcordError(() => s.loadState(badScore), ErrorCode.INVALID_ARGUMENT, 'state.tensors.reputation/x.score');
  // A stateless inner refuses inner tensors.
  const innerState: Parameters = { specs: [{ name: 'strategy/m/w', shape: [1] }], data: Float32Array.from([1]) };
  assertConcordError(() => s.loadState(innerState), ErrorCode.INVALID_ARGUMENT, 'state');
  assertConcordError(() => s.loadState({ specs: [{ name: 'reputation/x', shape: [4] }], data: new Float32Array(3) }), ErrorCode.SHAPE_MISMATCH, 'state.data');
  assert.deepEqual(s.saveState(), before);
});

test('withUpdateValidation: bad options are INVALID_ARGUMENT naming them', () => {
  assertConcordError(() => withUpdateValidation(new FedAvg(), { maxNormRatio: 0 }), ErrorCode.INVALID_ARGUMENT, 'strategy.options.maxNormRatio');
  assertConcordError(() => withUpdateValidation(new FedAvg(), { reputationDecay: 1 }), ErrorCode.INVALID_ARGUMENT, 'strategy.options.reputationDecay');
  assertConcordError(() => withUpdateValidation(new FedAvg(), { maxNorm: 3 } as never), ErrorCode.INVALID_ARGUMENT, 'strategy.options.maxNorm');
});
