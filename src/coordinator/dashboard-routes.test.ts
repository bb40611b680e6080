import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { generateIdentity } from '../governance/identity.js';
import { createApiToken } from '../governance/roles.js';
import { ErrorCode } from '../protocol/errors.js';
import { SqliteStorage } from '../storage/sqlite.js';
import { AuditTrail } from './audit-trail.js';
import { Authenticator } from './auth.js';
import { installErrorHandler } from './http-errors.js';
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

test('the event stream checks its token on every poll and ends, saying why, once it is revoked or expires', { timeout: 30_000 }, async () => {
  const storage = new SqliteStorage(':memory:');
  await storage.migrate();
  let clock = Date.now();
  const auth = new Authenticator({ storage, operatorToken: 'op-stream-test', audit: new AuditTrail({ storage, identity: generateIdentity() }), now: () => clock });
  const app = Fastify();
  installErrorHandler(app, 1024);
  registerDashboardRoutes(app, { storage, authorize: (request, scope) => auth.caller(request, scope), publicKey: '', pollMs: 20 });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const revocable = createApiToken({ role: 'auditor', expiresAt: null, now: clock });
  const expiring = createApiToken({ role: 'auditor', expiresAt: clock + 60_000, now: clock });
  await storage.addApiToken(revocable.record);
  await storage.addApiToken(expiring.record);

  /** Opens a stream and reads it until its first event, then hands back the rest of it. */
  const open = async (token: string): Promise<{ first: string; rest: () => Promise<string> }> => {
    const response = await fetch(`${url}/v1/events/stream?token=${encodeURIComponent(token)}`);
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let first = '';
    while (!first.includes('event: ')) {
      const { value, done } = await reader.read();
      assert.ok(!done, 'the stream ended before its first event');
      first += decoder.decode(value, { stream: true });
    }
    return {
      first,
      async rest() {
        let text = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return text;
          text += decoder.decode(value, { stream: true });
        }
      },
    };
  };
  const closedEvent = (text: string) => {
    const data = /event: closed\ndata: (.*)\n/.exec(text)?.[1];
    assert.ok(data, `a closed event in ${JSON.stringify(text)}`);
    return (JSON.parse(data) as { error: { code: string; message: string; details: { reason: string } } }).error;
  };

  try {
    const a = await open(revocable.token);
    assert.match(a.first, /event: runs/);
    await storage.revokeApiToken(revocable.record.tokenId, clock);
    const afterRevocation = closedEvent(await a.rest());
    assert.equal(afterRevocation.code, ErrorCode.UNAUTHENTICATED);
    assert.equal(afterRevocation.details.reason, 'revoked');
    assert.match(afterRevocation.message, new RegExp(`API token ${revocable.record.tokenId} was revoked`));

    const b = await open(expiring.token);
    clock += 60_000;
    const afterExpiry = closedEvent(await b.rest());
    assert.equal(afterExpiry.details.reason, 'expired');
    assert.match(afterExpiry.message, /expired at/);
    // And it cannot come back.
    assert.equal((await fetch(`${url}/v1/events/stream?token=${encodeURIComponent(expiring.token)}`)).status, 401);
  } finally {
    await app.close();
    await storage.close();
  }
});
