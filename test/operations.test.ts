// What an operator's monitoring sees of a real coordinator process: Prometheus metrics on a
// listener of their own (rounds, round durations, members online, bytes, refusals by code,
// ε spent), JSON request logs on stderr carrying the request id that the response echoes,
// liveness and readiness, and a clean exit on SIGTERM.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { concord, exited, freePort, processScope, until, waitForEvent } from './support/processes.js';

const TOKEN = 'op-operations';
const { children, tempDir } = processScope();

/** The value of one sample line of Prometheus text, e.g. `concord_members_online`; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[3] ?? '').split(',').filter(Boolean);
    if (wanted.every((w) => have.includes(w))) return Number(match[4]);
  }
  return undefined;
}

it('serves metrics, request logs with ids, health and readiness, and stops cleanly on SIGTERM', { timeout: 240_000 }, async () => {
  const dir = await tempDir('concord-ops-');
  const [port, metricsPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;
  const coordinator = concord(['coordinator', '--port', String(port), '--db', join(dir, 'coordinator.sqlite'), '--operator-token', TOKEN, '--metrics-port', String(metricsPort), '--log-level', 'info', '--json']);
  children.push(coordinator);
  let logs = '';
  coordinator.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
  const listening = await waitForEvent(coordinator, 'listening');
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  assert.equal(listening.metrics, metricsUrl);

  assert.equal((await fetch(`${url}/v1/health`)).status, 200);
  const ready = await fetch(`${url}/v1/ready`);
  assert.equal(ready.status, 200);
  assert.equal(((await ready.json()) as { ready: boolean }).ready, true);
  // Metrics are not on the port members and people use.
  assert.equal((await fetch(`${url}/metrics`)).status, 404);

  for (let i = 0; i < 2; i++) {
    children.push(concord(['node', '--coordinator', url, '--name', `org-${i}`, '--data', `mnist:member=${i},members=2,partition=iid,seed=3,test=1000`, '--state-dir', join(dir, 'nodes')]));
  }
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  await until(async () => ((await (await fetch(`${url}/v1/members`, { headers })).json()) as { members: { online: boolean }[] }).members.filter((m) => m.online).length === 2, 120_000, 'two members online');
  const response = await fetch(`${url}/v1/runs`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      name: 'ops',
      model: { family: 'mlp', inputShape: [784], hidden: [8], classes: 10 },
      rounds: 2,
      train: { epochs: 1, batchSize: 64 },
      differentialPrivacy: { level: 'client', noiseMultiplier: 1, clippingNorm: 1, budget: { epsilon: 1e6, delta: 1e-5 } },
    }),
  });
  const { runId } = (await response.json()) as { runId: string };
  assert.ok(runId, 'the run started');
  await until(async () => ((await (await fetch(`${url}/v1/runs/${runId}`, { headers })).json()) as { run: { status: string } }).run.status === 'completed', 180_000, 'the run to complete');

  // A refused request, with a request id of the caller's choosing.
  const refused = await fetch(`${url}/v1/runs`, { headers: { authorization: 'Bearer nope', 'x-request-id': 'req-ops-42' } });
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get('x-request-id'), 'req-ops-42');

  const text = await (await fetch(metricsUrl)).text();
  assert.equal(sample(text, 'concord_rounds_total', { run: runId }), 2);
  assert.equal(sample(text, 'concord_round_duration_seconds_count'), 2);
  assert.ok(sample(text, 'concord_round_duration_seconds_sum')! > 0);
  assert.equal(sample(text, 'concord_members_online'), 2);
  assert.ok(sample(text, 'concord_bytes_total', { direction: 'out' })! > 2 * 2 * (784 * 8 * 4), 'task frames carry the model');
  assert.ok(sample(text, 'concord_bytes_total', { direction: 'in' })! > 2 * (784 * 8 * 4), 'results carry the updates');
  assert.ok(sample(text, 'concord_refusals_total', { code: 'CONCORD_ERR_UNAUTHENTICATED' })! >= 1);
  const epsilons = text.split('\n').filter((l) => l.startsWith('concord_privacy_epsilon_spent{'));
  assert.equal(epsilons.length, 2, `ε per member dataset: ${epsilons.join('; ')}`);
  assert.ok(epsilons.every((l) => Number(l.split(' ').at(-1)) > 0));
  assert.ok(sample(text, 'concord_process_resident_memory_bytes')! > 0, 'process metrics');

  // Logs: JSON lines on stderr; the refused request is there under its id.
  const lines = logs.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { reqId?: string; res?: { statusCode?: number }; level?: number });
  assert.ok(lines.length > 0, 'structured logs');
  assert.ok(lines.some((l) => l.reqId === 'req-ops-42' && l.res?.statusCode === 401), 'the refused request is logged with its id and status');

  coordinator.kill('SIGTERM');
  assert.equal(await exited(coordinator), 0);
  await assert.rejects(fetch(`${url}/v1/health`), 'the port is closed');
});
