import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../protocol/errors.js';
import { StrategySpecSchema } from '../protocol/messages.js';
import { FedAvgM, FedProx, STRATEGY_NAMES, createStrategy } from './index.js';
import { assertConcordError } from './strategy-conformance.js';

test('createStrategy builds every registered strategy by name', () => {
  assert.deepEqual(STRATEGY_NAMES, ['fedavg', 'fedprox', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad', 'fedmedian', 'fedtrimmedavg', 'krum', 'multikrum', 'fedavg-normbound', 'fedbuff']);
  assert.deepEqual(StrategySpecSchema.shape.name.options, STRATEGY_NAMES, 'the wire schema and the registry agree');
  for (const name of STRATEGY_NAMES) assert.equal(createStrategy({ name }).name, name);
});

test('createStrategy passes options through', () => {
  const prox = createStrategy(StrategySpecSchema.parse({ name: 'fedprox', options: { mu: 0.3 } }));
  assert.ok(prox instanceof FedProx);
  assert.equal(prox.mu, 0.3);
  const m = createStrategy({ name: 'fedavgm', options: { momentum: 0 } });
  assert.ok(m instanceof FedAvgM);
  assert.deepEqual(m.options, { serverLearningRate: 1, momentum: 0 });
});

test('an unknown strategy name is INVALID_ARGUMENT on strategy.name', () => {
  assertConcordError(() => createStrategy({ name: 'fedsgd' }), ErrorCode.INVALID_ARGUMENT, 'strategy.name');
  assertConcordError(() => createStrategy({ name: 'toString' }), ErrorCode.INVALID_ARGUMENT, 'strategy.name');
});

test('an unknown option is INVALID_ARGUMENT naming it and listing the known ones', () => {
  assert.throws(
    () => createStrategy({ name: 'fedavgm', options: { momentum: 0.5, lr: 1 } }),
    (e: { code: string; message: string; details: { field: string } }) => {
      assert.equal(e.code, ErrorCode.INVALID_ARGUMENT);
      assert.equal(e.details.field, 'strategy.options.lr');
      assert.match(e.message, /"lr"/);
      assert.match(e.message, /serverLearningRate, momentum/);
      return true;
    },
  );
  assertConcordError(() => createStrategy({ name: 'fedavg', options: { mu: 0.1 } }), ErrorCode.INVALID_ARGUMENT, 'strategy.options.mu');
  assertConcordError(() => createStrategy({ name: 'fedadagrad', options: { beta2: 0.9 } }), ErrorCode.INVALID_ARGUMENT, 'strategy.options.beta2');
});

test('an out-of-range option is INVALID_ARGUMENT naming it', () => {
  assertConcordError(() => createStrategy({ name: 'fedavgm', options: { momentum: 1.5 } }), ErrorCode.INVALID_ARGUMENT, 'strategy.options.momentum');
  assertConcordError(() => createStrategy({ name: 'fedprox', options: { mu: -1 } }), ErrorCode.INVALID_ARGUMENT, 'strategy.options.mu');
  assertConcordError(() => createStrategy({ name: 'fedadam', options: { tau: 0 } }), ErrorCode.INVALID_ARGUMENT, 'strategy.options.tau');
  assertConcordError(() => createStrategy({ name: 'fedyogi', options: { eta: 'fast' } }), ErrorCode.INVALID_ARGUMENT, 'strategy.options.eta');
});
