import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dashboardEvents, type DashboardSnapshot } from './dashboard-routes.js';

const snapshot = (over: Partial<DashboardSnapshot> = {}): DashboardSnapshot => ({
  runs: 'run_a:running:1',
  rounds: new Map([['run_a', 2]]),
  members: 'm1:10:false',
  audit: 5,
  ...over,
});

test('a first look reports every kind of state', () => {
  assert.deepEqual(dashboardEvents(null, snapshot()), [
    { event: 'runs', data: {} },
    { event: 'round', data: { runId: 'run_a', round: 2 } },
    { event: 'members', data: {} },
    { event: 'audit', data: { count: 5 } },
  ]);
});

test('only what changed is reported', () => {
  assert.deepEqual(dashboardEvents(snapshot(), snapshot()), []);
  assert.deepEqual(dashboardEvents(snapshot(), snapshot({ rounds: new Map([['run_a', 3]]), audit: 6 })), [
    { event: 'round', data: { runId: 'run_a', round: 3 } },
    { event: 'audit', data: { count: 6 } },
  ]);
  const withNewRun = snapshot({ runs: 'run_a:running:1,run_b:pending:2', rounds: new Map([['run_a', 2], ['run_b', 0]]) });
  assert.deepEqual(dashboardEvents(snapshot(), withNewRun), [
    { event: 'runs', data: {} },
    { event: 'round', data: { runId: 'run_b', round: 0 } },
  ]);
});
