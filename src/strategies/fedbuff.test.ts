import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeParameters } from '../protocol/tensors.js';
import { FedAvg } from './fedavg.js';
import { asyncScheduleOf, FedBuff } from './fedbuff.js';
import { withUpdateValidation } from './validation.js';

const specs = [{ name: 'w', shape: [2] }];
const p = (...v: number[]) => makeParameters(specs, Float32Array.from(v));

describe('FedBuff', () => {
  it('applies θ + η·(1/K)·Σ s(τ)(θ_k − θ_base) with s(τ) = (1+τ)^−a, against hand-computed values', () => {
    const buffer = [
      { memberId: 'a', parameters: p(2, 4), base: p(0, 0), numExamples: 10, staleness: 0 },
      { memberId: 'b', parameters: p(1, 1), base: p(-1, -1), numExamples: 30, staleness: 3 },
    ];
    // s(0) = 1, s(3) = 4^−½ = ½: (1/2)([2, 4]·1 + [2, 2]·½) = [1.5, 2.5].
    assert.deepEqual([...new FedBuff({ bufferSize: 2 }).schedule.apply(p(0, 0), buffer).data], [1.5, 2.5]);
    // By examples: shares 10·2/40 = ½ and 30·2/40 = 3/2: (1/2)([1, 2] + [1.5, 1.5]) = [1.25, 1.75]; η = 2 doubles it, from θ = [1, 1].
    assert.deepEqual([...new FedBuff({ bufferSize: 2, weighting: 'examples', serverLearningRate: 2 }).schedule.apply(p(1, 1), buffer).data], [3.5, 4.5]);
    // a = 0 ignores staleness: (1/2)([2, 4] + [2, 2]) = [2, 3].
    assert.deepEqual([...new FedBuff({ stalenessExponent: 0 }).schedule.apply(p(0, 0), buffer).data], [2, 3]);
    assert.equal(new FedBuff({ stalenessExponent: 1 }).schedule.discount(4), 0.2);
  });

  it('refuses an update of another shape, and unknown options with the closest name', () => {
    assert.throws(() => new FedBuff().schedule.apply(p(0, 0), [{ memberId: 'a', parameters: makeParameters([{ name: 'w', shape: [3] }]), base: p(0, 0), numExamples: 1, staleness: 0 }]), /the update of a holds 3 values, the model 2/);
    assert.throws(() => new FedBuff({ maxStalenes: 3 } as never), /maxStalenes.*did you mean `strategy\.options\.maxStaleness`/);
  });

  it('is found through a wrapper, and synchronous strategies have no schedule', () => {
    assert.equal(asyncScheduleOf(withUpdateValidation(new FedBuff({ bufferSize: 4 })))?.bufferSize, 4);
    assert.equal(asyncScheduleOf(new FedAvg()), null);
  });
});
