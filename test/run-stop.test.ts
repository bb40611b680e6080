// `concord run stop` against real processes: a coordinator and two member nodes training
// MNIST; the operator stops the run mid-way with a reason. The run is marked stopped with
// it, its round loop ends (no round is added afterwards), the audit log says who stopped
// it and after which round, and stopping it again, or a run that does not exist, says so.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { concord, concordRun, freePort, lastJson, processScope, until, waitForEvent } from './support/processes.js';

const { children, tempDir } = processScope();
const TOKEN = 'op-run-stop-test';

interface RunBody {
  run: { status: string; error: string | null };
  rounds: { round: number }[];
}

it('stops a running run with a reason, and the run stays stopped', { timeout: 240_000 }, async () => {
  const dir = await tempDir('concord-run-stop-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const coordinator = concord(['coordinator', '--port', String(port), '--db', join(dir, 'coordinator.sqlite'), '--operator-token', TOKEN, '--json']);
  children.push(coordinator);
  coordinator.stderr!.resume();
  await waitForEvent(coordinator, 'listening');
  for (let i = 0; i < 2; i++) {
    const node = concord(['node', '--coordinator', url, '--name', `org-${i}`, '--data', `mnist:member=${i},members=2,partition=iid,seed=3,test=1000`, '--state-dir', join(dir, 'nodes')]);
    node.stderr!.resume();
    node.stdout!.resume();
    children.push(node);
  }
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  const get = async <T>(path: string): Promise<T> => (await (await fetch(`${url}${path}`, { headers })).json()) as T;
  await until(async () => (await get<{ members: { online: boolean }[] }>('/v1/members')).members.filter((m) => m.online).length === 2, 120_000, 'two members online');
  const started = await fetch(`${url}/v1/runs`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ name: 'long', model: { family: 'mlp', inputShape: [784], hidden: [8], classes: 10 }, rounds: 500, train: { epochs: 1, batchSize: 64 } }),
  });
  const { runId } = (await started.json()) as { runId: string };
  await until(async () => (await get<RunBody>(`/v1/runs/${runId}`)).rounds.length >= 1, 120_000, 'a first round');

  const conn = ['--coordinator', url, '--token', TOKEN];
  const empty = await concordRun(['run', 'stop', runId, '--reason', '', ...conn]);
  assert.notEqual(empty.code, 0, 'an empty reason is refused');
  assert.match(empty.stderr, /reason/);

  const stop = await concordRun(['run', 'stop', runId, '--reason', 'budget review', ...conn, '--json']);
  assert.equal(stop.code, 0, stop.stderr);
  assert.deepEqual(lastJson(stop.stdout), { runId, status: 'stopped', stopped: true, reason: 'stopped by operator: budget review' });

  const after = await get<RunBody>(`/v1/runs/${runId}`);
  assert.equal(after.run.status, 'stopped');
  assert.equal(after.run.error, 'stopped by operator: budget review');
  // The round loop ended: no round is committed after the stop.
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal((await get<RunBody>(`/v1/runs/${runId}`)).rounds.length, after.rounds.length, 'no round after the stop');
  assert.ok(after.rounds.length < 500);

  const { entries } = await get<{ entries: { kind: string; actor: string; subject: string; data: { message: string; reason: string; afterRound: number } }[] }>('/v1/audit?limit=1000');
  const entry = entries.find((e) => e.kind === 'run.stopped' && e.subject === runId);
  assert.ok(entry, 'the stop is in the audit log');
  assert.equal(entry.actor, 'operator');
  assert.equal(entry.data.message, 'run stopped by operator');
  assert.equal(entry.data.reason, 'budget review');
  assert.equal(entry.data.afterRound, after.rounds.length);

  const again = await concordRun(['run', 'stop', runId, ...conn]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`run ${runId} was not running: the run had already been stopped`));

  const shown = await concordRun(['run', 'show', runId, ...conn]);
  assert.match(shown.stdout, new RegExp(`run ${runId} \\(long\\): stopped — stopped by operator: budget review`));

  const missing = await concordRun(['run', 'stop', 'run_nope', ...conn]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /no run run_nope/);
});
