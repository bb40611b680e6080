// AnalyticsStore contract: queries stored as running with fresh ids, listed in submission
// order, completed or failed exactly once (CONFLICT after, NOT_FOUND for unknown ids); a
// completion commits its result, its privacy charges — which then appear in the one privacy
// ledger next to training charges — and its audit entries together, or nothing.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appendEntry } from '../../governance/audit.js';
import { generateIdentity } from '../../governance/identity.js';
import { ErrorCode } from '../../protocol/errors.js';
import { completedRound, rejectsWith, runConfig, smallParameters, storeRunner, type MakeStorage } from './fixtures.js';

export function analyticsStoreConformance(name: string, make: MakeStorage): void {
  const withStore = storeRunner(make);
  const signer = generateIdentity();

  describe(`${name}: AnalyticsStore conformance`, () => {
    it('stores queries as running, lists them in submission order and reads them back', () =>
      withStore(async (s) => {
        const a = await s.addAnalyticsQuery({ type: 'count' }, 'researcher:r1');
        const b = await s.addAnalyticsQuery({ type: 'mean', field: 'age' }, 'operator');
        assert.notEqual(a.queryId, b.queryId);
        assert.equal(a.status, 'running');
        assert.deepEqual(await s.getAnalyticsQuery(b.queryId), b);
        assert.deepEqual(await s.listAnalyticsQueries(), [a, b]);
        assert.equal(await s.getAnalyticsQuery('qry_unknown'), undefined);
      }));

    it('completes a query once with its result, charges and audit entries; the charges join the privacy ledger', () =>
      withStore(async (s) => {
        const run = await s.createRun(runConfig('r'), smallParameters(0));
        await s.saveRound(completedRound(run.runId, 1, { privacyCharges: [{ memberId: 'm1', datasetId: 'a/d', samplingRate: 0.1, noiseMultiplier: 1.1, steps: 10 }] }));
        const q = await s.addAnalyticsQuery({ type: 'mean', field: 'age', privacy: { epsilon: 1, delta: 1e-6 } }, 'operator');
        const result = { type: 'mean', values: [{ key: 'mean', value: 51.25 }], exact: false };
        const done = await s.completeAnalyticsQuery(q.queryId, result, [
          { memberId: 'm1', datasetId: 'a/d', samplingRate: 1, noiseMultiplier: 3.5, steps: 1 },
          { memberId: 'm2', datasetId: 'b/d', samplingRate: 1, noiseMultiplier: 3.5, steps: 1 },
        ], (last) => [appendEntry(last, { at: 1, actor: 'coordinator', kind: 'analytics.released', subject: q.queryId, data: { exact: false } }, signer)]);
        assert.equal(done.status, 'completed');
        assert.deepEqual(done.result, result);
        assert.ok(done.updatedAt >= q.createdAt);
        assert.deepEqual((await s.listPrivacyCharges('a/d')).map((c) => [c.runId, c.round, c.noiseMultiplier]), [[run.runId, 1, 1.1], [q.queryId, 0, 3.5]]);
        assert.equal((await s.listPrivacyCharges()).length, 3);
        assert.equal((await s.lastAudit())?.kind, 'analytics.released');
        await rejectsWith(s.completeAnalyticsQuery(q.queryId, result, []), ErrorCode.CONFLICT, 'status');
        await rejectsWith(s.failAnalyticsQuery(q.queryId, 'late'), ErrorCode.CONFLICT, 'status');
        await rejectsWith(s.completeAnalyticsQuery('qry_unknown', result, []), ErrorCode.NOT_FOUND, 'queryId');
      }));

    it('a completion whose audit entry does not follow the log stores nothing', () =>
      withStore(async (s) => {
        const q = await s.addAnalyticsQuery({ type: 'count' }, 'operator');
        const stray = appendEntry(undefined, { at: 1, actor: 'x', kind: 'k', subject: 's', data: {} }, signer);
        await s.appendAudit(stray);
        await assert.rejects(s.completeAnalyticsQuery(q.queryId, { values: [] }, [{ memberId: 'm', datasetId: 'a/d', samplingRate: 1, noiseMultiplier: 2, steps: 1 }], () => [stray]));
        assert.equal((await s.getAnalyticsQuery(q.queryId))!.status, 'running');
        assert.deepEqual(await s.listPrivacyCharges('a/d'), []);
        const failed = await s.failAnalyticsQuery(q.queryId, 'not enough members');
        assert.equal(failed.status, 'failed');
        assert.equal(failed.error, 'not enough members');
      }));
  });
}
