// Retention contract (storage/retention.ts): a store made with a policy drops, inside each
// saveRound, exactly the checkpoints and kept updates the policy no longer keeps — never
// the last checkpoint (a run resumes from it), never a round, its metrics or its charges,
// never anything of another run.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RetentionPolicy } from '../retention.js';
import type { Storage } from '../storage.js';
import { completedRound, runConfig, smallParameters } from './fixtures.js';

const update = (memberId: string, base: number) => ({ memberId, numExamples: 10, parameters: smallParameters(base) });

async function roundsWithCheckpoint(s: Storage, runId: string, upTo: number): Promise<number[]> {
  const kept: number[] = [];
  for (let r = 1; r <= upTo; r++) if (await s.getCheckpoint(runId, r)) kept.push(r);
  return kept;
}

async function roundsWithUpdates(s: Storage, runId: string, upTo: number): Promise<number[]> {
  const kept: number[] = [];
  for (let r = 1; r <= upTo; r++) if ((await s.listMemberUpdates(runId, r)).length > 0) kept.push(r);
  return kept;
}

export function retentionConformance(name: string, make: (policy: RetentionPolicy) => Promise<Storage>): void {
  const withStore = async (policy: RetentionPolicy, fn: (s: Storage) => Promise<void>) => {
    const s = await make(policy);
    try {
      await fn(s);
    } finally {
      await s.close();
    }
  };

  describe(`${name}: retention conformance`, () => {
    it('keeps the newest N checkpoints and every K-th, and every round with its metrics', () =>
      withStore({ keepLast: 2, keepEvery: 3 }, async (s) => {
        const run = await s.createRun(runConfig('r'), smallParameters(0));
        const other = await s.createRun(runConfig('o'), smallParameters(0));
        await s.saveRound(completedRound(other.runId, 1));
        for (let r = 1; r <= 7; r++) {
          await s.saveRound(completedRound(run.runId, r, { privacyCharges: [{ memberId: 'mem_a', datasetId: 'a/d', samplingRate: 0.1, noiseMultiplier: 1, steps: 1 }] }));
          // After every commit the newest checkpoint is there to resume from.
          const last = (await s.lastRound(run.runId))!.round;
          assert.ok(await s.getCheckpoint(run.runId, last), `checkpoint of round ${last} kept`);
        }
        assert.deepEqual(await roundsWithCheckpoint(s, run.runId, 7), [3, 6, 7]);
        assert.deepEqual((await s.listRounds(run.runId)).map((r) => r.round), [1, 2, 3, 4, 5, 6, 7]);
        assert.equal((await s.listMemberMetrics(run.runId)).length, 7 * completedRound(run.runId, 1).members.length);
        assert.equal((await s.listPrivacyCharges('a/d')).length, 7);
        assert.ok(await s.getInitialParameters(run.runId), 'round 0 is the run itself');
        assert.ok(await s.getCheckpoint(other.runId, 1), 'another run is untouched');
      }));

    it('keeps updates of the newest M rounds and the checkpoints their valuation starts from', () =>
      withStore({ keepLast: 1, updates: 2 }, async (s) => {
        const run = await s.createRun(runConfig('r'), smallParameters(0));
        for (let r = 1; r <= 5; r++) await s.saveRound(completedRound(run.runId, r, { updates: [update('mem_a', r), update('mem_b', -r)] }));
        assert.deepEqual(await roundsWithUpdates(s, run.runId, 5), [4, 5]);
        assert.deepEqual(await roundsWithCheckpoint(s, run.runId, 5), [3, 4, 5]);
        assert.deepEqual((await s.listMemberUpdates(run.runId, 5)).map((u) => u.memberId), ['mem_a', 'mem_b']);
      }));

    it('keeps everything without a policy', () =>
      withStore({}, async (s) => {
        const run = await s.createRun(runConfig('r'), smallParameters(0));
        for (let r = 1; r <= 4; r++) await s.saveRound(completedRound(run.runId, r, { updates: [update('mem_a', r)] }));
        assert.deepEqual(await roundsWithCheckpoint(s, run.runId, 4), [1, 2, 3, 4]);
        assert.deepEqual(await roundsWithUpdates(s, run.runId, 4), [1, 2, 3, 4]);
      }));
  });
}
