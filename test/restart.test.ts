// Crash safety across real processes: a coordinator and three member nodes train on real
// MNIST shards; the coordinator is killed with SIGKILL mid-run and started again on the
// same database. The run must resume after the last completed round, and no completed
// round may be lost, repeated or changed. Then the final model is exported with the CLI
// and loaded by plain TensorFlow.js over HTTP.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join } from 'node:path';
import { it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { RoundSummary, RunRecord } from '../src/storage/storage.js';
import { SqliteStorage } from '../src/storage/sqlite.js';
import { concord, concordRun, exited, freePort, until, waitForEvent, processScope } from './support/processes.js';
import type { ChildProcess } from 'node:child_process';

const TOKEN = 'op-restart-test';
const ROUNDS = 6;
const { children, tempDir } = processScope();

async function api<T>(url: string, path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(url + path, { ...init, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.headers.get('content-type')?.includes('json') ? ((await res.json()) as T) : (Buffer.from(await res.arrayBuffer()) as T);
}

it('resumes after SIGKILL from the last completed round, losing and repeating none', { timeout: 240_000 }, async () => {
  const dir = await tempDir('concord-restart-');
  const db = join(dir, 'coordinator.sqlite');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const startCoordinator = (): ChildProcess => {
    const c = concord(['coordinator', '--port', String(port), '--db', db, '--operator-token', TOKEN, '--json']);
    children.push(c);
    return c;
  };

  let coordinator = startCoordinator();
  await waitForEvent(coordinator, 'listening');
  for (let i = 0; i < 3; i++) {
    const data = `mnist:member=${i},members=3,partition=iid,seed=7,test=1000`;
    children.push(concord(['node', '--coordinator', url, '--name', `org-${i}`, '--data', data, '--state-dir', join(dir, 'nodes')]));
  }
  await until(async () => (await api<{ members: { online: boolean }[] }>(url, '/v1/members')).members.filter((m) => m.online).length === 3, 90_000, 'three members online');

  const config = {
    name: 'restart',
    model: { family: 'mlp', inputShape: [784], hidden: [32], classes: 10 },
    rounds: ROUNDS,
    minAvailableMembers: 3,
    minTrainMembers: 3,
    train: { epochs: 1, batchSize: 32, learningRate: 0.05 },
    roundDeadlineSeconds: 60,
  };
  const { runId } = await api<{ runId: string }>(url, '/v1/runs', { method: 'POST', body: JSON.stringify(config) });

  // Let two rounds complete, remember their checkpoints, then kill the coordinator outright.
  await until(async () => (await api<{ rounds: RoundSummary[] }>(url, `/v1/runs/${runId}`)).rounds.length >= 2, 120_000, 'two rounds');
  const before = await api<{ rounds: RoundSummary[] }>(url, `/v1/runs/${runId}`);
  const hashes = new Map<number, string>();
  for (const r of before.rounds) hashes.set(r.round, sha256(await api<Buffer>(url, `/v1/runs/${runId}/model?round=${r.round}`)));
  coordinator.kill('SIGKILL');
  await exited(coordinator);

  // What is on disk right now is what survived the crash.
  const crashed = new SqliteStorage(db);
  await crashed.migrate();
  const survived = (await crashed.listRounds(runId)).map((r) => r.round);
  await crashed.close();
  assert.ok(survived.length >= before.rounds.length, 'no committed round was lost in the crash');
  assert.deepEqual(survived, survived.map((_, i) => i + 1), 'committed rounds are contiguous');

  const restartedAt = Date.now();
  coordinator = startCoordinator();
  await waitForEvent(coordinator, 'listening');
  const final = await until(async () => {
    const body = await api<{ run: RunRecord; rounds: RoundSummary[] }>(url, `/v1/runs/${runId}`);
    return body.run.status === 'completed' ? body : undefined;
  }, 180_000, 'the run to complete after the restart');

  assert.deepEqual(final.rounds.map((r) => r.round), Array.from({ length: ROUNDS }, (_, i) => i + 1), 'every round exactly once');
  for (const r of final.rounds) {
    if (r.round <= survived.length) assert.ok(r.completedAt < restartedAt, `round ${r.round} was not redone`);
    else assert.ok(r.startedAt >= restartedAt, `round ${r.round} ran after the restart`);
    assert.equal(r.participants.length, 3);
  }
  for (const [round, hash] of hashes) assert.equal(sha256(await api<Buffer>(url, `/v1/runs/${runId}/model?round=${round}`)), hash, `round ${round} checkpoint unchanged`);
  const { events } = await api<{ events: { kind: string; message: string }[] }>(url, `/v1/runs/${runId}/events`);
  assert.ok(events.some((e) => e.kind === 'resumed' && e.message === `resuming after round ${survived.length} of ${ROUNDS}`));
  const accuracy = final.rounds.at(-1)!.evalMetrics.accuracy!;
  assert.ok(accuracy > 0.8, `federated holdout accuracy after ${ROUNDS} rounds: ${accuracy}`);

  // Export the last round with the CLI and load it with nothing but TensorFlow.js.
  const out = join(dir, 'exported');
  const exported = await concordRun(['export', '--run', runId, '--round', String(ROUNDS), '--out', out, '--coordinator', url, '--token', TOKEN, '--json']);
  assert.equal(exported.code, 0, exported.stderr);
  assert.deepEqual(JSON.parse(exported.stdout), { runId, round: ROUNDS, out, parameters: 784 * 32 + 32 + 32 * 10 + 10 });
  const server = createServer((req, res) => {
    const file = join(out, (req.url ?? '/').slice(1));
    res.setHeader('content-type', extname(file) === '.json' ? 'application/json' : 'application/octet-stream');
    createReadStream(file).on('error', () => res.writeHead(404).end()).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const address = server.address() as { port: number };
    const model = await tf.loadLayersModel(`http://127.0.0.1:${address.port}/model.json`);
    const prediction = model.predict(tf.zeros([1, 784])) as tf.Tensor;
    assert.deepEqual(prediction.shape, [1, 10]);
    const sum = (await prediction.sum().data())[0]!;
    assert.ok(Math.abs(sum - 1) < 1e-4, 'softmax output');
  } finally {
    server.close();
  }
});

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
