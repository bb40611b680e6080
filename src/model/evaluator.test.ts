import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadDataset } from '../data/spec.js';
import { initBackend } from './backend.js';
import { buildModel, initialParameters } from './build.js';
import { createAccuracyEvaluator, createCorrectnessEvaluator } from './evaluator.js';
import { evaluate } from './train.js';
import { setParameters } from './weights.js';
import type { ModelSpec } from '../protocol/messages.js';

before(async () => {
  await initBackend('wasm');
});

test("per-example correctness averages to the model's accuracy, example by example in order", async () => {
  const data = await loadDataset('mnist:test,test=300');
  const spec: ModelSpec = { family: 'mlp', inputShape: [784], hidden: [8], classes: 10, activation: 'relu' };
  const parameters = initialParameters(spec, 4);
  const correct = await createCorrectnessEvaluator(data)(spec, parameters);
  assert.equal(correct.length, 300);
  assert.ok(correct.every((c) => c === 0 || c === 1));
  const accuracy = await createAccuracyEvaluator(data)(spec, parameters);
  assert.ok(Math.abs(correct.reduce((s, c) => s + c, 0) / 300 - accuracy) < 1e-9);
  // The first example alone: the same answer as evaluating it by itself.
  const model = buildModel(spec, 0);
  setParameters(model, parameters);
  const first = { ...data, x: data.x.subarray(0, 784), y: data.y.subarray(0, 1) };
  assert.equal((await evaluate(model, first)).accuracy, correct[0]);
});
