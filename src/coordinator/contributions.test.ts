import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { Parameters } from '../protocol/tensors.js';
import { SqliteStorage } from '../storage/sqlite.js';
import { completedRound, runConfig, smallParameters } from '../storage/storage-conformance.js';
import { runContributions } from './contributions.js';

test('contributions value the rounds whose updates the retention policy kept, and only those', async () => {
  const storage = new SqliteStorage(':memory:', { retention: { keepLast: 1, updates: 2 } });
  await storage.migrate();
  try {
    const run = await storage.createRun(runConfig('r'), smallParameters(0));
    for (let round = 1; round <= 4; round++) {
      await storage.saveRound(
        completedRound(run.runId, round, {
          participants: ['mem_a', 'mem_b'],
          updates: [
            { memberId: 'mem_a', numExamples: 100, parameters: smallParameters(round) },
            { memberId: 'mem_b', numExamples: 100, parameters: smallParameters(-round) },
          ],
        }),
      );
    }
    // A utility that rewards larger parameters, so the two members' values differ.
    const accuracy = async (_config: unknown, p: Parameters) => p.data.reduce((s, v) => s + v, 0) / 1000;
    const report = await runContributions(storage, run.runId, accuracy, { method: 'exact' });
    assert.equal(report.available, true, report.reason);
    assert.equal(report.roundsValued, 2);
    assert.deepEqual(report.perRound!.map((r) => r.round), [3, 4]);
  } finally {
    await storage.close();
  }
});

const AGREEMENT = (clauses: string) => `
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
${clauses}`;

test("contributions default to final-model with bootstrap intervals, follow the agreement's method and sharing floor, and refuse what it forbids", async () => {
  const storage = new SqliteStorage(':memory:');
  await storage.migrate();
  try {
    const { parseAgreement, agreementHash } = await import('../governance/agreement.js');
    const run = await storage.createRun(runConfig('r'), smallParameters(0));
    for (let round = 1; round <= 2; round++) {
      await storage.saveRound(
        completedRound(run.runId, round, {
          participants: ['mem_a', 'mem_b'],
          updates: [
            { memberId: 'mem_a', numExamples: 100, parameters: smallParameters(round) },
            { memberId: 'mem_b', numExamples: 100, parameters: smallParameters(round - 0.1) },
          ],
        }),
      );
    }
    // Per-example scores: the model's first eight weights, so accuracy-like means vary by resample.
    const correctness = async (_config: unknown, p: Parameters) => Array.from(p.data.subarray(0, 8));
    const byDefault = await runContributions(storage, run.runId, correctness, { rewardPool: 100 });
    assert.equal(byDefault.method, 'final-model');
    assert.equal(byDefault.estimator, 'exact');
    assert.equal(byDefault.bootstrap!.resamples, 200);
    assert.equal(byDefault.bootstrap!.validationExamples, 8);
    for (const m of ['mem_a', 'mem_b']) {
      const u = byDefault.uncertainty![m]!;
      assert.ok(u.standardError > 0 && u.low < byDefault.values![m]! && byDefault.values![m]! < u.high, JSON.stringify(u));
    }
    assert.ok(byDefault.about!.biases.length > 0);
    assert.deepEqual(byDefault.shares!.undistributed, 0);

    const agreement = parseAgreement(AGREEMENT('valuation: { method: gtg, overridable: false, bootstrap: 50 }\nbenefitSharing: { floor: { fraction: 0.5, basis: rounds } }'));
    await storage.addAgreementVersion({ version: 1, hash: agreementHash(agreement), agreement, signatures: [], signers: [], adoptedAt: 0, adoptedBy: 'operator' });
    const agreed = await runContributions(storage, run.runId, correctness, { rewardPool: 100 });
    assert.equal(agreed.method, 'gtg');
    assert.equal(agreed.bootstrap!.resamples, 50);
    assert.deepEqual(agreed.sharingRule, { floor: { fraction: 0.5, basis: 'rounds' } });
    // Both took part in both rounds: the floor's 50 is split evenly, whatever their values.
    assert.deepEqual(agreed.shares!.floorShares, { mem_a: 25, mem_b: 25 });
    await assert.rejects(runContributions(storage, run.runId, correctness, { method: 'loo' }), (e: unknown) => e instanceof ConcordError && e.code === ErrorCode.FORBIDDEN && e.details.field === 'method');
  } finally {
    await storage.close();
  }
});

test('retraining is reported unavailable at the coordinator, which holds no data', async () => {
  const storage = new SqliteStorage(':memory:');
  await storage.migrate();
  try {
    const run = await storage.createRun(runConfig('r'), smallParameters(0));
    await storage.saveRound(completedRound(run.runId, 1, { participants: ['mem_a'], updates: [{ memberId: 'mem_a', numExamples: 1, parameters: smallParameters(1) }] }));
    const report = await runContributions(storage, run.runId, async () => 0.5, { method: 'retrain' });
    assert.equal(report.available, false);
    assert.match(report.reason!, /valueByRetraining/);
  } finally {
    await storage.close();
  }
});
