// `concord simulate`: ten thousand virtual members on the real coordinator (its database,
// round loop and strategies) through the in-memory grid, trained in a worker thread; the
// same round trained in this thread gives the same model; secure aggregation runs among
// simulated members like among real ones, and so does FedBuff under client-level DP.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentProgress } from '../src/cli/progress.js';
import { SIMULATE_DEFAULTS } from '../src/simulation/options.js';
import { simulate } from '../src/simulation/simulate.js';
import { openStorage } from '../src/storage/index.js';
import { lastModel } from './support/checkpoints.js';
import { processScope } from './support/processes.js';

const { tempDir } = processScope();

describe('simulation without a process per member', () => {
  it('enrolls 10,000 virtual members, trains rounds of 100 of them in a worker thread, and stores everything like a real consortium', { timeout: 240_000 }, async () => {
    const dir = await tempDir('concord-simulate-');
    const summary = await simulate({ ...SIMULATE_DEFAULTS, members: 10_000, fraction: 0.01, evaluateFraction: 0.002, rounds: 2, workers: 1, dir: join(dir, 'sim'), progress: silentProgress });
    assert.equal(summary.rounds.length, 2);
    for (const r of summary.rounds) assert.ok(r.trained >= 90 && r.trained <= 100, `round ${r.round}: ${r.trained} trained`);
    // Chance on ten digit classes is 0.1; two rounds of a hundred small shares already learn.
    assert.ok(summary.accuracy !== null && summary.accuracy > 0.3, `accuracy ${summary.accuracy}`);
    // Memory follows the members of a round, not the population.
    assert.ok(summary.peakRssBytes < 2 * 2 ** 30, `peak RSS ${summary.peakRssBytes}`);
    const storage = await openStorage(summary.db, { existing: true });
    try {
      const members = await storage.listMembers();
      assert.equal(members.length, 10_000);
      assert.equal(members[0]!.name, 'sim-00000');
      const rows = await storage.listMemberMetrics(summary.runId);
      const trainedBy = new Set(rows.filter((r) => r.phase === 'train').map((r) => r.memberId));
      assert.ok(trainedBy.size > 150, `${trainedBy.size} distinct members trained over two rounds`);
    } finally {
      await storage.close();
    }
  });

  it('gives the same model whether members train in worker threads or in this thread', { timeout: 240_000 }, async () => {
    const dir = await tempDir('concord-simulate-same-');
    // Everyone trains: which members a fraction selects depends on their enrolled ids, new in each database.
    const settings = { ...SIMULATE_DEFAULTS, members: 40, fraction: 1, evaluateFraction: 0, rounds: 1, progress: silentProgress };
    const threads = await simulate({ ...settings, workers: 2, dir: join(dir, 'threads') });
    const inline = await simulate({ ...settings, workers: 0, dir: join(dir, 'inline') });
    const a = await lastModel(threads.db, threads.runId);
    const b = await lastModel(inline.db, inline.runId);
    assert.equal(a.length, b.length);
    // Replies arrive in another order across threads; FedAvg sums in float64, so the results agree to float32 rounding.
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    assert.ok(worst < 1e-6, `largest difference ${worst}`);
  });

  it('refuses settings that cannot run before it enrolls anyone, naming every one', async () => {
    const dir = await tempDir('concord-simulate-bad-');
    await assert.rejects(
      simulate({ ...SIMULATE_DEFAULTS, members: 10, fraction: 2, rounds: 0, dir: join(dir, 'sim'), progress: silentProgress }),
      /invalid simulation: --rounds: expected an integer >= 1, got 0; --fraction: expected a fraction in \(0, 1\], got 2/,
    );
    await assert.rejects(
      simulate({ ...SIMULATE_DEFAULTS, members: 10, differentialPrivacy: { levle: 'client', noiseMultiplier: 1, clippingNorm: 1, budget: { epsilon: 8, delta: 1e-5 } }, dir: join(dir, 'sim'), progress: silentProgress }),
      /--differential-privacy\.levle: unknown field "levle"; did you mean `--differential-privacy\.level`\?/,
    );
  });

  it('trains asynchronously (FedBuff) under client-level DP: every applied buffer charges the members it holds, at q = 1', { timeout: 240_000 }, async () => {
    const dir = await tempDir('concord-simulate-fedbuff-dp-');
    const summary = await simulate({
      ...SIMULATE_DEFAULTS,
      members: 40,
      fraction: 0.5,
      evaluateFraction: 0,
      rounds: 3,
      workers: 1,
      strategy: 'fedbuff',
      strategyOptions: { bufferSize: 10, concurrency: 20 },
      differentialPrivacy: { level: 'client', noiseMultiplier: 1, clippingNorm: 1, budget: { epsilon: 100, delta: 1e-5 } },
      dir: join(dir, 'sim'),
      progress: silentProgress,
    });
    assert.deepEqual(summary.rounds.map((r) => r.trained), [10, 10, 10]);
    const storage = await openStorage(summary.db, { existing: true });
    try {
      const charges = (await storage.listPrivacyCharges()).filter((c) => c.runId === summary.runId);
      assert.equal(charges.length, 30);
      for (const c of charges) assert.deepEqual([c.samplingRate, c.noiseMultiplier, c.steps], [1, 1, 1]);
      for (const r of await storage.listRounds(summary.runId)) {
        assert.deepEqual(charges.filter((c) => c.round === r.round).map((c) => c.memberId).sort(), [...r.participants].sort());
      }
    } finally {
      await storage.close();
    }
  });

  it('runs secure aggregation among simulated members', { timeout: 240_000 }, async () => {
    const dir = await tempDir('concord-simulate-secure-');
    const summary = await simulate({ ...SIMULATE_DEFAULTS, members: 60, fraction: 0.5, evaluateFraction: 0.2, rounds: 1, workers: 1, secure: true, dir: join(dir, 'sim'), progress: silentProgress });
    assert.equal(summary.rounds.length, 1);
    assert.ok(summary.rounds[0]!.trained >= 27, `${summary.rounds[0]!.trained} in the secure sum`);
    assert.ok(summary.accuracy !== null && summary.accuracy > 0.15, `accuracy ${summary.accuracy}`);
  });
});
