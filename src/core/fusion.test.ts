import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../protocol/errors.js';
import { makeParameters } from '../protocol/tensors.js';
import { fuseParameters, interpolateParameters } from './fusion.js';

const SPECS = [
  { name: 'layer/kernel', shape: [2] },
  { name: 'layer/bias', shape: [1] },
];
const model = (values: number[], specs = SPECS) => makeParameters(specs, Float32Array.from(values));

function assertCode(fn: () => unknown, code: string, field: string): void {
  assert.throws(fn, (e: { code: string; details: { field: string } }) => {
    assert.equal(e.code, code);
    assert.equal(e.details.field, field);
    return true;
  });
}

test('two parties: λθ_A + (1−λ)θ_B', () => {
  const a = model([1, 2, 4]);
  const b = model([3, -2, 0]);
  // 0.25·[1, 2, 4] + 0.75·[3, −2, 0] = [0.25 + 2.25, 0.5 − 1.5, 1] = [2.5, −1, 1].
  const fused = interpolateParameters(a, b, 0.25);
  assert.deepEqual(Array.from(fused.data), [2.5, -1, 1]);
  assert.deepEqual(fused.specs, SPECS);
  assert.deepEqual(Array.from(fuseParameters([a, b], [0.25, 0.75]).data), [2.5, -1, 1]);
  // λ = 1 and λ = 0 return the parties themselves.
  assert.deepEqual(Array.from(interpolateParameters(a, b, 1).data), [1, 2, 4]);
  assert.deepEqual(Array.from(interpolateParameters(a, b, 0).data), [3, -2, 0]);
});

test('K parties: Σ λ_k θ_k', () => {
  // 0.5·[2, 0, 0] + 0.25·[0, 4, 0] + 0.25·[0, 0, 8] = [1, 1, 2].
  const fused = fuseParameters([model([2, 0, 0]), model([0, 4, 0]), model([0, 0, 8])], [0.5, 0.25, 0.25]);
  assert.deepEqual(Array.from(fused.data), [1, 1, 2]);
});

test('a negative λ extrapolates when the sum is 1', () => {
  // 1.5·[2, 2, 2] − 0.5·[0, 2, 4] = [3, 2, 1].
  assert.deepEqual(Array.from(fuseParameters([model([2, 2, 2]), model([0, 2, 4])], [1.5, -0.5]).data), [3, 2, 1]);
});

test('the inputs are not modified', () => {
  const a = model([1, 2, 3]);
  interpolateParameters(a, model([3, 2, 1]), 0.5);
  assert.deepEqual(Array.from(a.data), [1, 2, 3]);
});

test('lambdas must sum to 1 unless normalize is set', () => {
  const models = [model([1, 0, 0]), model([0, 1, 0])];
  assert.throws(
    () => fuseParameters(models, [1, 3]),
    (e: { code: string; message: string; details: { field: string } }) => {
      assert.equal(e.code, ErrorCode.INVALID_ARGUMENT);
      assert.equal(e.details.field, 'lambdas');
      assert.match(e.message, /sum to 4; they must sum to 1/);
      assert.match(e.message, /normalize/);
      return true;
    },
  );
  // normalize: [1, 3] / 4 = [0.25, 0.75].
  assert.deepEqual(Array.from(fuseParameters(models, [1, 3], { normalize: true }).data), [0.25, 0.75, 0]);
  // Within the tolerance of 1e-6 is accepted.
  assert.equal(fuseParameters(models, [0.5, 0.5 + 5e-7]).data.length, 3);
  assertCode(() => fuseParameters(models, [1, -1], { normalize: true }), ErrorCode.INVALID_ARGUMENT, 'lambdas');
});

test('bad lambdas and mismatched models are ConcordErrors naming the field', () => {
  const a = model([1, 2, 3]);
  assertCode(() => fuseParameters([a, a], [0.5, NaN]), ErrorCode.INVALID_ARGUMENT, 'lambdas[1]');
  assertCode(() => fuseParameters([a, a], [1]), ErrorCode.INVALID_ARGUMENT, 'lambdas');
  assertCode(() => fuseParameters([], []), ErrorCode.INVALID_ARGUMENT, 'models');
  const reshaped = model([1, 2, 3], [{ name: 'layer/kernel', shape: [1, 2] }, { name: 'layer/bias', shape: [1] }]);
  assertCode(() => fuseParameters([a, reshaped], [0.5, 0.5]), ErrorCode.SHAPE_MISMATCH, 'models[1].tensors.layer/kernel.shape');
  const renamed = model([1, 2, 3], [{ name: 'other', shape: [2] }, { name: 'layer/bias', shape: [1] }]);
  assertCode(() => fuseParameters([a, renamed], [0.5, 0.5]), ErrorCode.SHAPE_MISMATCH, 'models[1].tensors[0].name');
  assertCode(() => fuseParameters([a, model([1, Infinity, 3])], [0.5, 0.5]), ErrorCode.NON_FINITE, 'models[1].tensors.layer/kernel[1]');
});
