// Fixtures and helpers the storage conformance suites share (and other storage tests use).

import assert from 'node:assert/strict';
import { ErrorCode, isConcordError } from '../../protocol/errors.js';
import { RunConfigSchema, type DatasetDescriptor, type RunConfig } from '../../protocol/messages.js';
import { makeParameters, type Parameters } from '../../protocol/tensors.js';
import type { CompletedRound, RoundSummary, Storage } from '../storage.js';

/** Returns a fresh, empty, migrated store each time; the suite closes it. */
export type MakeStorage = () => Promise<Storage>;

export const MAX_FLOAT32 = 3.4028234663852886e38;
export const MIN_SUBNORMAL_FLOAT32 = 1.401298464324817e-45;

/** Runs `fn` on a fresh store and closes it, whatever happens. */
export function storeRunner(make: MakeStorage): (fn: (storage: Storage) => Promise<void>) => Promise<void> {
  return async (fn) => {
    const storage = await make();
    try {
      await fn(storage);
    } finally {
      await storage.close();
    }
  };
}

export function dataset(name: string, numExamples: number): DatasetDescriptor {
  return { name, numExamples, numHoldout: Math.floor(numExamples / 10), inputShape: [28, 28], classes: 10 };
}

export function runConfig(name: string): RunConfig {
  return RunConfigSchema.parse({
    name,
    model: { family: 'mlp', inputShape: [4], hidden: [3], classes: 2 },
    strategy: { name: 'fedadam', options: { eta: 0.01, beta1: 0.9 } },
    rounds: 3,
  });
}

/** Two tensors (a 2×3 kernel and a bias of 3) whose values all differ, offset by `base`. */
export function smallParameters(base: number): Parameters {
  const specs = [
    { name: 'dense/kernel', shape: [2, 3] },
    { name: 'dense/bias', shape: [3] },
  ];
  return makeParameters(specs, Float32Array.from({ length: 9 }, (_, i) => base + i / 8 - 0.5));
}

export function completedRound(runId: string, round: number, overrides: Partial<CompletedRound> = {}): CompletedRound {
  return {
    runId,
    round,
    parameters: smallParameters(round),
    strategyState: null,
    trainMetrics: { loss: 1 / round, accuracy: 0.5 + round / 100 },
    evalLoss: 0.75 / round,
    evalMetrics: { accuracy: 0.6 },
    serverEval: { loss: 0.7, metrics: { accuracy: 0.61 } },
    participants: ['mem_a', 'mem_b'],
    failures: [{ memberId: 'mem_c', reason: 'deadline passed' }],
    members: [
      { memberId: 'mem_b', phase: 'train', numExamples: 200, loss: 0.9, metrics: { loss: 0.9, accuracy: 0.7 }, bytesIn: 1024, bytesOut: 2048, seconds: 1.5 },
      { memberId: 'mem_a', phase: 'train', numExamples: 100, loss: null, metrics: {}, bytesIn: 1024, bytesOut: 2048, seconds: 0.75 },
      { memberId: 'mem_a', phase: 'evaluate', numExamples: 10, loss: 0.8, metrics: { loss: 0.8, accuracy: 0.65 }, bytesIn: 1024, bytesOut: 64, seconds: 0.125 },
    ],
    attempts: 1,
    startedAt: 1_700_000_000_000 + round * 1000,
    completedAt: 1_700_000_000_500 + round * 1000,
    ...overrides,
  };
}

export function summaryOf(round: CompletedRound): RoundSummary {
  const { parameters: _p, strategyState: _s, members: _m, privacyCharges: _c, updates: _u, ...summary } = round;
  return summary;
}

export function bitsOf(data: Float32Array): number[] {
  return Array.from(new Uint32Array(data.buffer, data.byteOffset, data.length));
}

export function assertOwnsBuffer(data: Float32Array, length: number): void {
  assert.ok(data instanceof Float32Array);
  assert.equal(data.length, length);
  assert.equal(data.byteOffset, 0);
  assert.equal(data.buffer.byteLength, length * 4);
}


export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, field: string) {
  try {
    await promise;
  } catch (error) {
    assert.ok(isConcordError(error), `expected a ConcordError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.details.field, field, error.message);
    return error;
  }
  assert.fail(`expected ${code} on field ${field}, but the call succeeded`);
}
