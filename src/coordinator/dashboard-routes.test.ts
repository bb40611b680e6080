import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { SqliteStorage } from '../storage/sqlite.js';
import { dashboardEvents, registerDashboardRoutes, type DashboardSnapshot } from './dashboard-routes.js';

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

test('built files are served with their content type and cached as immutable, except the page', async () => {
  const root = mkdtempSync(join(tmpdir(), 'concord-dist-'));
  mkdirSync(join(root, 'assets', 'tfjs-wasm', '4.22.0'), { recursive: true });
  writeFileSync(join(root, 'join.html'), '<!doctype html>');
  const binary = Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0]);
  writeFileSync(join(root, 'assets', 'tfjs-wasm', '4.22.0', 'tfjs-backend-wasm-simd.wasm'), binary);
  writeFileSync(join(root, 'assets', 'join-abc123.js'), 'export {};');
  const storage = new SqliteStorage(':memory:');
  await storage.migrate();
  const app = Fastify();
  registerDashboardRoutes(app, { storage, authorize: async () => undefined, publicKey: '', root });
  try {
    const wasm = await app.inject({ url: '/assets/tfjs-wasm/4.22.0/tfjs-backend-wasm-simd.wasm' });
    assert.equal(wasm.statusCode, 200);
    assert.equal(wasm.headers['content-type'], 'application/wasm');
    assert.equal(wasm.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.deepEqual(new Uint8Array(wasm.rawPayload), binary);
    const script = await app.inject({ url: '/assets/join-abc123.js' });
    assert.equal(script.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(script.headers['cache-control'], 'public, max-age=31536000, immutable');
    const page = await app.inject({ url: '/join' });
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.equal((await app.inject({ url: '/assets/tfjs-wasm/4.22.0/missing.wasm' })).statusCode, 404);
    assert.equal((await app.inject({ url: '/assets/..%2f..%2fetc%2fpasswd' })).statusCode, 404);
  } finally {
    await app.close();
    await storage.close();
    rmSync(root, { recursive: true, force: true });
  }
});
