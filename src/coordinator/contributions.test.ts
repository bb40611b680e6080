import assert from 'node:assert/strict';
import { test } from 'node:test';
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
