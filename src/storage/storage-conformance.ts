// The contract every Storage backend must meet, as node:test suites, one per concern
// (storage/conformance/): runs and rounds, members, the audit log, governance records,
// declared resources, analytics queries, transactions spanning them, and the retention policy. A backend's
// test file calls storageConformance(name, make); `make` must return a fresh, empty,
// migrated store each time (the suites close it), made with the retention policy given.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RetentionPolicy } from './retention.js';
import type { Storage } from './storage.js';
import { analyticsStoreConformance } from './conformance/analytics.js';
import { auditStoreConformance } from './conformance/audit.js';
import { completedRound, dataset, runConfig, smallParameters, storeRunner } from './conformance/fixtures.js';
import { governanceStoreConformance } from './conformance/governance.js';
import { memberStoreConformance } from './conformance/members.js';
import { resourceStoreConformance } from './conformance/resources.js';
import { retentionConformance } from './conformance/retention.js';
import { runStoreConformance } from './conformance/runs.js';
import { transactionConformance } from './conformance/transactions.js';

export * from './conformance/fixtures.js';

export function storageConformance(name: string, make: (retention?: RetentionPolicy) => Promise<Storage>): void {
  const fresh = () => make();
  runStoreConformance(name, fresh);
  memberStoreConformance(name, fresh);
  auditStoreConformance(name, fresh);
  governanceStoreConformance(name, fresh);
  resourceStoreConformance(name, fresh);
  analyticsStoreConformance(name, fresh);
  transactionConformance(name, fresh);
  retentionConformance(name, (policy) => make(policy));

  describe(`${name}: migrations`, () => {
    it('migrate is idempotent and keeps data', () =>
      storeRunner(fresh)(async (s) => {
        const m = await s.addMember({ name: 'a', publicKey: 'k', dataset: dataset('d', 1) });
        const run = await s.createRun(runConfig('r'), smallParameters(0));
        await s.saveRound(completedRound(run.runId, 1));
        await s.migrate();
        await s.migrate();
        assert.deepEqual(await s.listMembers(), [m]);
        assert.deepEqual(await s.listRuns(), [run]);
        assert.equal((await s.lastRound(run.runId))!.round, 1);
      }));
  });
}
