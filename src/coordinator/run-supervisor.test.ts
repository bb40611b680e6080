// A lease tick that waits on an unanswering database blocks every later tick; the supervisor
// says so once, instead of going silent while no run lease is claimed or renewed.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { PostgresCoordination } from '../storage/postgres-coordination.js';
import { RunSupervisor } from './run-supervisor.js';

it('reports a tick stuck on the database for longer than the lease, once', async () => {
  const errors: string[] = [];
  let listed = 0;
  const supervisor = new RunSupervisor({
    coordination: {} as PostgresCoordination,
    // The first listing never answers, as a query to a database that vanished mid-call.
    runs: { listRuns: () => (listed++ === 0 ? new Promise(() => undefined) : Promise.resolve([])) },
    replica: 'r1',
    leaseMs: 200,
    renewMs: 40,
    drive: () => undefined,
    release: () => undefined,
    driving: () => [],
    onError: (e) => errors.push((e as Error).message),
  });
  supervisor.start();
  try {
    for (let i = 0; i < 1000 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    // Well past the report: it is made once per stuck tick, not every watchdog pass.
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    supervisor.close();
  }
  assert.equal(errors.length, 1, JSON.stringify(errors));
  assert.match(errors[0]!, /^a lease tick has waited \d+ s on the database; no run lease is claimed or renewed until it ends$/);
  assert.equal(listed, 1, 'no later tick started while the first was stuck');
});
