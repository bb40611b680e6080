import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunConfigSchema, TrainConfigSchema } from '../protocol/messages.js';
import { check, type Problem } from '../protocol/problems.js';
import { roundTrainConfig, selectForTraining } from './common.js';
import { FedProx } from './fedprox.js';
import { params } from './strategy-conformance.js';

function problemsOf(input: unknown): Problem[] {
  const checked = check(RunConfigSchema, input);
  assert.equal(checked.ok, false, 'the input should have been refused');
  return (checked as { problems: Problem[] }).problems;
}

const model = { family: 'mlp', inputShape: [2], hidden: [], classes: 2, activation: 'relu' } as const;

test('learningRateDecay: round r trains at lr × decay^(r−1), and members get the decayed rate only', () => {
  const config = RunConfigSchema.parse({ model, rounds: 5, train: { learningRate: 0.04, learningRateDecay: 0.5 } });
  const available = [{ memberId: 'a' }, { memberId: 'b' }] as never;
  const at = (serverRound: number) => selectForTraining({ serverRound, parameters: params([0, 0, 0]), available, config, random: () => 0.5 });
  assert.deepEqual(at(1).map((i) => i.config.learningRate), [0.04, 0.04]);
  assert.equal(at(3)[0]!.config.learningRate, 0.01);
  // What a member receives parses under its own strict schema: the decay is not in it.
  const task = at(2)[0]!.config;
  assert.equal('learningRateDecay' in task, false);
  assert.deepEqual(TrainConfigSchema.parse(task), task);
  // FedProx keeps its μ and the decayed rate.
  const prox = new FedProx({ mu: 0.1 }).configureTrain({ serverRound: 2, parameters: params([0, 0, 0]), available, config, random: () => 0.5 });
  assert.deepEqual(prox.map((i) => [i.config.learningRate, i.config.proximalMu]), [[0.02, 0.1], [0.02, 0.1]]);
  // The default keeps the rate constant.
  const constant = RunConfigSchema.parse({ model, rounds: 5, train: { learningRate: 0.04 } });
  assert.equal(roundTrainConfig({ config: constant, serverRound: 9 }).learningRate, 0.04);
});

test('learningRateDecay outside (0, 1] is refused, naming the field', () => {
  for (const learningRateDecay of [0, 1.5, -0.1]) {
    assert.deepEqual(problemsOf({ model, rounds: 5, train: { learningRateDecay } }).map((p) => p.path), ['train.learningRateDecay']);
  }
});
